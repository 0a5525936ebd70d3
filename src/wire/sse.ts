import { readLines } from './lines.js';

/** One server-sent event. `event` is absent for plain `data:` messages. */
export interface SSEEvent {
  event?: string;
  data: string;
}

/**
 * Parses a text/event-stream body as bytes arrive: CRLF/CR/LF line ends, multi-line `data:`, comments and
 * partial lines across chunks. Yields one event per blank-line-terminated block that has data.
 */
export async function* readSSE(body: AsyncIterable<Uint8Array>): AsyncGenerator<SSEEvent> {
  let data: string[] = [];
  let event: string | undefined;
  for await (const line of readLines(body)) {
    if (line === '') {
      if (data.length > 0) {
        yield event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') };
      }
      data = [];
      event = undefined;
      continue;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment / keep-alive */) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  // A final block without its blank line still counts: some servers end the body right after `data: [DONE]`.
  if (data.length > 0)
    yield event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') };
}
