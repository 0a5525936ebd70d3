/**
 * Parts bench variant of `src/wire/sse.ts`: the hand-made pull SSE parser that src/ used until eventsource-parser
 * replaced it (it won 5-9 % end to end, under issue 15's 10 % bar: bench/README.md). Kept for the comparison.
 */
import { StringDecoder } from 'node:string_decoder';
import { WireLimitError } from '../../src/wire/limits.js';

/** One server-sent event. `event` is absent for plain `data:` messages. */
export interface SSEEvent {
  event?: string;
  data: string;
}

/**
 * A text/event-stream parser fed with network chunks and read one event at a time, synchronously: CRLF/CR/LF line
 * ends, multi-line `data:`, `event:`, comments, and lines or UTF-8 characters split across chunks. A block that is
 * a single `data: …` line ended by a blank line — what nearly every server sends — is cut straight out of the
 * text; anything else goes line by line. Events are found only as they are asked for, so the first one of a
 * large network read is handed on before the rest of the read is scanned.
 *
 * Use: `feed(chunk)`, then `next()` until it returns undefined; at the body's end, `end()` and `next()` again.
 * A line or an event longer than `maxFrame` characters throws a `WireLimitError` before more of it is kept.
 */
export class SSEParser {
  readonly #max: number;
  // StringDecoder, not TextDecoder: the same text (U+FFFD for bad bytes, at any chunking) ~6× faster on Node 20.
  readonly #decoder = new StringDecoder('utf8');
  /** TextDecoder drops a leading byte order mark; so do we, once. */
  #started = false;
  /** The text being read, and where reading is; the next CR and LF at or after `#pos` (-1: not searched). */
  #text = '';
  #pos = 0;
  #cr = -1;
  #lf = -1;
  /** The start of a line whose end has not arrived (never holds a line break). */
  #rest = '';
  /** The last chunk ended in CR: an LF opening the next one belongs to it. */
  #skipLF = false;
  /** The body ended: a last line without its line end, and a block without its blank line, still count. */
  #final = false;
  /** The block's `data` lines joined so far; undefined before the first. */
  #data: string | undefined;
  #blockEvent: string | undefined;
  /** The `event:` name of the event `next()` returned last; undefined for plain `data:` messages. */
  event: string | undefined;

  constructor(maxFrame: number) {
    this.#max = maxFrame;
  }

  /** Takes the next network chunk; the previous one must have been read to its end. */
  feed(chunk: Uint8Array): void {
    this.#load(this.#decoder.write(chunk));
  }

  /** The body ended: what the decoder held, and any unterminated line or block, are read next. */
  end(): void {
    this.#final = true;
    this.#load(this.#decoder.end());
  }

  #load(text: string): void {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.#text = text;
    this.#pos = 0;
    this.#cr = -1;
    this.#lf = -1;
    if (this.#skipLF && text.length > 0) {
      this.#skipLF = false;
      if (text.charCodeAt(0) === 10) this.#pos = 1;
    }
  }

  /**
   * The next complete event (`event` undefined for plain messages), or undefined when the text fed so far is used
   * up: one object per event, as `eventsource-parser` hands out (the interface of src/wire/sse.ts).
   */
  next(): { event: string | undefined; data: string } | undefined {
    const data = this.#nextData();
    return data === undefined ? undefined : { event: this.event, data };
  }

  /** The next complete event's data (its name in `event`), or undefined when the text fed so far is used up. */
  #nextData(): string | undefined {
    const text = this.#text;
    const n = text.length;
    let pos = this.#pos;
    // Each line end is searched for again only once passed, so a chunk is scanned once.
    let cr = this.#cr;
    let lf = this.#lf;
    while (pos < n) {
      if (cr < pos) {
        cr = text.indexOf('\r', pos);
        if (cr === -1) cr = n;
      }
      if (lf < pos) {
        lf = text.indexOf('\n', pos);
        if (lf === -1) lf = n;
      }
      if (
        lf < cr &&
        lf + 1 < n &&
        text.charCodeAt(lf + 1) === 10 &&
        this.#rest === '' &&
        this.#data === undefined &&
        this.#blockEvent === undefined &&
        text.startsWith('data: ', pos)
      ) {
        if (lf - pos - 6 > this.#max) this.#tooLarge();
        this.#save(lf + 2, cr, lf);
        this.event = undefined;
        return text.slice(pos + 6, lf);
      }
      const end = Math.min(cr, lf);
      if (end === n) {
        // No line end: keep the start of the line for the next chunk, up to the cap.
        if (this.#rest.length + n - pos > this.#max) this.#tooLarge();
        this.#rest = pos === 0 ? this.#rest + text : this.#rest + text.slice(pos);
        pos = n;
        break;
      }
      if (this.#rest.length + end - pos > this.#max) this.#tooLarge();
      let line = text.slice(pos, end);
      if (this.#rest !== '') {
        line = this.#rest + line;
        this.#rest = '';
      }
      if (end === lf) pos = end + 1;
      else if (end + 1 === n) {
        this.#skipLF = true;
        pos = n;
      } else pos = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      const data = this.#line(line);
      if (data !== undefined) {
        this.#save(pos, cr, lf);
        return data;
      }
    }
    this.#save(n, -1, -1);
    if (!this.#final) return undefined;
    this.#final = false;
    const rest = this.#rest;
    this.#rest = '';
    const last = rest === '' ? undefined : this.#line(rest);
    return last ?? this.#flush();
  }

  #tooLarge(): never {
    // Nothing of the frame is kept: the stream is over.
    this.#rest = '';
    this.#data = undefined;
    this.#text = '';
    this.#pos = 0;
    throw new WireLimitError('a stream frame', this.#max, 'maxFrameBytes');
  }

  #save(pos: number, cr: number, lf: number): void {
    this.#pos = pos;
    this.#cr = cr;
    this.#lf = lf;
  }

  /** Handles one line; a blank line ending a block with data returns that data. */
  #line(line: string): string | undefined {
    if (line === '') return this.#flush();
    if (line.charCodeAt(0) === 58 /* ':' comment / keep-alive */) return undefined;
    const colon = line.indexOf(':');
    if (colon === 4 && line.startsWith('data')) {
      // The common line, `data: {…}`, without building the field name.
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      this.#addData(value);
      return undefined;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#addData(value);
    else if (field === 'event') this.#blockEvent = value;
    return undefined;
  }

  /** One more `data` line of the block: the event, all its lines together, is held to the cap too. */
  #addData(value: string): void {
    if (this.#data === undefined) this.#data = value;
    else if (this.#data.length + 1 + value.length > this.#max) this.#tooLarge();
    else this.#data = `${this.#data}\n${value}`;
  }

  /** Ends the block: its data (and name, in `event`) when it had data. */
  #flush(): string | undefined {
    const data = this.#data;
    this.event = data === undefined ? undefined : this.#blockEvent;
    this.#data = undefined;
    this.#blockEvent = undefined;
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
    for (let e = parser.next(); e !== undefined; e = parser.next()) yield eventOf(e);
  }
  // A final block without its blank line still counts: some servers end the body right after `data: [DONE]`.
  parser.end();
  for (let e = parser.next(); e !== undefined; e = parser.next()) yield eventOf(e);
}

function eventOf({ event, data }: { event: string | undefined; data: string }): SSEEvent {
  return event === undefined ? { data } : { event, data };
}
