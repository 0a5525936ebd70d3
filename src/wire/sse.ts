import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';
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
  /** The events of the text fed last (data, and names: undefined for plain messages), and how many were read. */
  #data: string[] = [];
  #names: (string | undefined)[] = [];
  #at = 0;
  /** Where in the events a frame went past the cap, -1 when none did: nothing after it is parsed. */
  #limitAt = -1;
  /** The `event:` name of the event `next()` returned last; undefined for plain `data:` messages. */
  event: string | undefined;

  constructor(maxFrame: number) {
    this.#max = maxFrame;
    this.#parser = createParser({
      onEvent: (e) => {
        if (this.#limitAt >= 0) return;
        // maxBufferSize holds what waits for its line end; a whole event that came in one read is checked here.
        if (e.data.length > maxFrame) this.#limitAt = this.#data.length;
        else {
          this.#data.push(e.data);
          this.#names.push(e.event);
        }
      },
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded' && this.#limitAt < 0) this.#limitAt = this.#data.length;
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
    if (this.#limitAt < 0) this.#parser.feed('\n\n');
  }

  #load(text: string): void {
    if (this.#at > 0) {
      this.#data = [];
      this.#names = [];
      if (this.#limitAt >= 0) this.#limitAt -= this.#at;
      this.#at = 0;
    }
    if (!this.#started && text !== '') {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#limitAt < 0 && text !== '') this.#parser.feed(text);
  }

  /** The next event's data (its name in `event`), or undefined when the text fed so far is used up. */
  next(): string | undefined {
    const at = this.#at;
    if (at === this.#limitAt) throw new WireLimitError('a stream frame', this.#max, 'maxFrameBytes');
    const data = this.#data[at];
    if (data === undefined) return undefined;
    this.event = this.#names[at];
    this.#at = at + 1;
    return data;
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
    for (let data = parser.next(); data !== undefined; data = parser.next()) yield eventOf(parser, data);
  }
  // A final block without its blank line still counts: some servers end the body right after `data: [DONE]`.
  parser.end();
  for (let data = parser.next(); data !== undefined; data = parser.next()) yield eventOf(parser, data);
}

function eventOf(parser: SSEParser, data: string): SSEEvent {
  const event = parser.event;
  return event === undefined ? { data } : { event, data };
}
