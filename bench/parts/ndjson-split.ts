/**
 * Parts bench variant of `src/wire/ndjson.ts` (which now holds the line splitter that was `src/wire/lines.ts`):
 * the plainest line splitter the platform allows — TextDecoder, then `String#split` on the line ends — with the
 * same line cap and the same blank-line filter.
 */
import { WireLimitError } from '../../src/wire/limits.js';

const tooLarge = (max: number) => new WireLimitError('a stream line', max, 'maxFrameBytes');
const blank = (line: string): boolean => {
  const c = line.charCodeAt(0);
  return !((c > 32 && c < 127) || line.trim() !== '');
};
// Filtered only when a blank line is there (a copy otherwise costs the alternative an allocation per chunk).
const nonBlank = (lines: string[]): string[] => (lines.some(blank) ? lines.filter((l) => !blank(l)) : lines);

export class NDJSONLines {
  readonly #max: number;
  readonly #decoder = new TextDecoder();
  #buf = '';

  constructor(maxLine: number) {
    this.#max = maxLine;
  }

  push(chunk: Uint8Array): readonly string[] {
    const lines = (this.#buf + this.#decoder.decode(chunk, { stream: true })).split(/\r\n|\n|\r/);
    this.#buf = lines.pop() as string;
    if (this.#buf.length > this.#max) throw tooLarge(this.#max);
    for (const line of lines) if (line.length > this.#max) throw tooLarge(this.#max);
    return nonBlank(lines);
  }

  end(): readonly string[] {
    const rest = this.#buf + this.#decoder.decode();
    this.#buf = '';
    if (rest.length > this.#max) throw tooLarge(this.#max);
    return nonBlank([rest]);
  }
}
