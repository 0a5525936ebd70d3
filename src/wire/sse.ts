import { LineSplitter } from './lines.js';

/** One server-sent event. `event` is absent for plain `data:` messages. */
export interface SSEEvent {
  event?: string;
  data: string;
}

/** Turns text/event-stream lines into events, synchronously. */
class SSEDecoder {
  /** The block's `data` lines joined so far; undefined before the first. */
  #data: string | undefined;
  #event: string | undefined;

  line(line: string, out: SSEEvent[]): void {
    if (line === '') {
      this.#flush(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment / keep-alive */) return;
    const colon = line.indexOf(':');
    if (colon === 4 && line.startsWith('data')) {
      // The common line, `data: {…}`, without building the field name.
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
    else if (field === 'event') this.#event = value;
  }

  /** Ends the block: an event when it had data. */
  #flush(out: SSEEvent[]): void {
    const data = this.#data;
    const event = this.#event;
    if (data !== undefined) out.push(event === undefined ? { data } : { event, data });
    this.#data = undefined;
    this.#event = undefined;
  }

  /** The body ended: a final block without its blank line still counts. */
  end(out: SSEEvent[]): void {
    if (this.#data !== undefined) this.#flush(out);
  }
}

/**
 * Parses a text/event-stream body as bytes arrive, yielding the events each network chunk completes as one
 * array (never empty): CRLF/CR/LF line ends, multi-line `data:`, comments and partial lines across chunks.
 */
export async function* readSSEBatches(body: AsyncIterable<Uint8Array>): AsyncGenerator<SSEEvent[]> {
  const splitter = new LineSplitter();
  const decoder = new SSEDecoder();
  const lines: string[] = [];
  for await (const chunk of body) {
    splitter.push(chunk, lines);
    if (lines.length === 0) continue;
    const events: SSEEvent[] = [];
    for (const line of lines) decoder.line(line, events);
    lines.length = 0;
    if (events.length > 0) yield events;
  }
  splitter.end(lines);
  const events: SSEEvent[] = [];
  for (const line of lines) decoder.line(line, events);
  // A final block without its blank line still counts: some servers end the body right after `data: [DONE]`.
  decoder.end(events);
  if (events.length > 0) yield events;
}

/**
 * Parses a text/event-stream body as bytes arrive: CRLF/CR/LF line ends, multi-line `data:`, comments and
 * partial lines across chunks. Yields one event per blank-line-terminated block that has data.
 */
export async function* readSSE(body: AsyncIterable<Uint8Array>): AsyncGenerator<SSEEvent> {
  for await (const events of readSSEBatches(body)) yield* events;
}
