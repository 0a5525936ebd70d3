import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { WireLimitError } from './limits.js';

/** One server-sent event. `event` is absent for plain `data:` messages. */
export interface SSEEvent {
  event?: string;
  data: string;
}

/**
 * A text/event-stream parser fed with network chunks and read one event at a time: `eventsource-parser` (the
 * WHATWG rules: CRLF/CR/LF, multi-line `data:`, `event:`, comments, lines split across chunks) behind a pull
 * interface, decoding with StringDecoder (the same text as TextDecoder, U+FFFD for bad bytes, ~6× faster on
 * Node 20; a leading byte order mark is dropped as TextDecoder would).
 *
 * Use: `feed(chunk)`, then `next()` until it returns undefined; at the body's end, `end()` and `next()` again.
 * A line or an event longer than `maxFrame` characters throws a `WireLimitError` (after the events before it).
 */
export class SSEParser {
  readonly #max: number;
  readonly #decoder = new StringDecoder('utf8');
  readonly #parser: EventSourceParser;
  #started = false;
  /**
   * The events of the text fed last: `#n` of them, `#at` read. The array is kept from one feed to the next (a new
   * one per network read was most of what this parser allocated); a slot is emptied as it is read.
   */
  readonly #events: (EventSourceMessage | undefined)[] = [];
  #n = 0;
  #at = 0;
  /** Where in the events a frame went past the cap, -1 when none did: nothing after it is parsed. */
  #limitAt = -1;

  constructor(maxFrame: number) {
    this.#max = maxFrame;
    this.#parser = createParser({
      onEvent: (e) => {
        if (this.#limitAt >= 0) return;
        // maxBufferSize holds what waits for its line end; a whole event that came in one read is checked here.
        if (e.data.length > maxFrame) this.#limitAt = this.#n;
        else this.#events[this.#n++] = e;
      },
      onError: (err) => {
        if (this.#limitAt >= 0) return;
        if (err.type === 'max-buffer-size-exceeded') this.#limitAt = this.#n;
        // llama.cpp's server (until September 2025) sent a stream's error as an `error: {json}` line, a field SSE
        // does not have: it is read as an `error` event, so the error is not lost.
        else if (err.type === 'unknown-field' && err.field === 'error' && err.value !== undefined) {
          if (err.value.length > maxFrame) this.#limitAt = this.#n;
          else this.#events[this.#n++] = { event: 'error', data: err.value, id: undefined };
        }
      },
      maxBufferSize: maxFrame,
    });
  }

  /** Takes the next network chunk; the events of the previous one must have been read. */
  feed(chunk: Uint8Array): void {
    this.#load(this.#decoder.write(chunk));
  }

  /** The body ended: a last line without its line end, and a block without its blank line, are read next. */
  end(): void {
    this.#load(this.#decoder.end());
    this.#parser.feed('\n\n');
  }

  #load(text: string): void {
    // Only after every event was read: a frame past the cap throws at `next()` and nothing is fed after it.
    if (this.#at > 0) this.#n = this.#at = 0;
    if (!this.#started && text !== '') {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text !== '') this.#parser.feed(text);
  }

  /** The next event (`event` is undefined for plain messages), or undefined when the text fed so far is used up. */
  next(): EventSourceMessage | undefined {
    const at = this.#at;
    if (at === this.#limitAt) throw new WireLimitError('a stream frame', this.#max, 'maxFrameBytes');
    if (at === this.#n) return undefined;
    const e = this.#events[at];
    this.#events[at] = undefined;
    this.#at = at + 1;
    return e;
  }
}

/**
 * Parses a text/event-stream body as bytes arrive; yields one event per block that has data. A line or event
 * longer than `maxFrame` characters throws a `WireLimitError`.
 */
export async function* readSSE(body: AsyncIterable<Uint8Array>, maxFrame: number): AsyncGenerator<SSEEvent> {
  const parser = new SSEParser(maxFrame);
  for await (const chunk of body) {
    parser.feed(chunk);
    for (let e = parser.next(); e !== undefined; e = parser.next()) yield eventOf(e);
  }
  // A final block without its blank line still counts: some servers end the body right after `data: [DONE]`.
  parser.end();
  for (let e = parser.next(); e !== undefined; e = parser.next()) yield eventOf(e);
}

function eventOf({ event, data }: EventSourceMessage): SSEEvent {
  return event === undefined ? { data } : { event, data };
}
