import { LineSplitter } from './lines.js';

/**
 * Splits a newline-delimited JSON body into its non-blank lines, unparsed, one network chunk at a time and
 * synchronously: a reader handles every line a chunk completes without a promise per line or per chunk. A line
 * longer than `maxLine` characters throws a `WireLimitError`.
 */
export class NDJSONLines {
  readonly #splitter: LineSplitter;
  readonly #lines: string[] = [];

  constructor(maxLine: number) {
    this.#splitter = new LineSplitter(maxLine);
  }

  /** The non-blank lines `chunk` completes (an array reused by the next call). */
  push(chunk: Uint8Array): readonly string[] {
    this.#lines.length = 0;
    this.#splitter.push(chunk, this.#lines);
    return nonBlank(this.#lines);
  }

  /** The body ended: its last line when it had no line end. */
  end(): readonly string[] {
    this.#lines.length = 0;
    this.#splitter.end(this.#lines);
    return nonBlank(this.#lines);
  }
}

function nonBlank(lines: string[]): string[] {
  // A JSON line starts with `{`: only a line starting with whitespace (or empty) can be blank.
  for (const line of lines) {
    if (line === '' || (line.charCodeAt(0) <= 32 && line.trim() === '')) {
      return lines.filter((l) => l.trim() !== '');
    }
  }
  return lines;
}
