import { StringDecoder } from 'node:string_decoder';
import { WireLimitError } from './limits.js';

/**
 * Splits bytes into text lines (LF, CRLF or lone CR), decoding UTF-8 across chunk boundaries. Synchronous, so
 * a reader handles every line of a network chunk in one go instead of one promise per line. A line longer than
 * `maxLine` characters throws a `WireLimitError` before more of it is kept.
 */
export class LineSplitter {
  readonly #max: number;
  // StringDecoder, not TextDecoder: the same text (U+FFFD for bad bytes, at any chunking) ~6× faster on Node 20.
  readonly #decoder = new StringDecoder('utf8');
  /** TextDecoder drops a leading byte order mark; so do we, once. */
  #started = false;
  /** The current line's text so far (never holds a line break). */
  #buf = '';
  /** The last chunk ended in CR: an LF opening the next one belongs to it. */
  #skipLF = false;

  constructor(maxLine: number) {
    this.#max = maxLine;
  }

  /** Decodes `chunk` and appends every line it completes to `out`. */
  push(chunk: Uint8Array, out: string[]): void {
    let text = this.#decoder.write(chunk);
    if (text.length === 0) return;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const n = text.length;
    if (n === 0) return;
    let start = 0;
    if (this.#skipLF) {
      this.#skipLF = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    // indexOf runs natively: look for the next CR and LF, and search again only past the one just used.
    let cr = text.indexOf('\r', start);
    if (cr === -1) cr = n;
    let lf = text.indexOf('\n', start);
    if (lf === -1) lf = n;
    let buf = this.#buf;
    while (cr < n || lf < n) {
      const end = Math.min(cr, lf);
      if (buf.length + end - start > this.#max) this.#tooLarge();
      out.push(buf === '' ? text.slice(start, end) : buf + text.slice(start, end));
      buf = '';
      if (end === cr) {
        if (end + 1 === n) {
          this.#skipLF = true;
          start = n;
        } else {
          start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
        }
        cr = text.indexOf('\r', end + 1);
        if (cr === -1) cr = n;
        if (lf < start) {
          lf = text.indexOf('\n', start);
          if (lf === -1) lf = n;
        }
      } else {
        start = end + 1;
        lf = text.indexOf('\n', start);
        if (lf === -1) lf = n;
      }
    }
    if (buf.length + n - start > this.#max) this.#tooLarge();
    this.#buf = start === 0 ? buf + text : start < n ? buf + text.slice(start) : buf;
  }

  #tooLarge(): never {
    this.#buf = '';
    throw new WireLimitError('a stream line', this.#max, 'maxFrameBytes');
  }

  /** Flushes the decoder and appends the final unterminated line, if any. */
  end(out: string[]): void {
    let tail = this.#decoder.end();
    if (!this.#started && tail.charCodeAt(0) === 0xfeff) tail = tail.slice(1);
    const rest = this.#buf + tail;
    this.#buf = '';
    if (rest.length > this.#max) throw new WireLimitError('a stream line', this.#max, 'maxFrameBytes');
    if (rest.length > 0) out.push(rest);
  }
}
