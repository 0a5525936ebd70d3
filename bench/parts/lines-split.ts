/**
 * Parts bench variant of `src/wire/lines.ts`: the plainest line splitter the platform allows — TextDecoder, then
 * `String#split` on the line ends — with the same line cap.
 */
import { WireLimitError } from '../../src/wire/limits.js';

export class LineSplitter {
  readonly #max: number;
  readonly #decoder = new TextDecoder();
  #buf = '';

  constructor(maxLine: number) {
    this.#max = maxLine;
  }

  push(chunk: Uint8Array, out: string[]): void {
    const lines = (this.#buf + this.#decoder.decode(chunk, { stream: true })).split(/\r\n|\n|\r/);
    this.#buf = lines.pop() as string;
    if (this.#buf.length > this.#max) throw new WireLimitError('a stream line', this.#max, 'maxFrameBytes');
    for (const line of lines) {
      if (line.length > this.#max) throw new WireLimitError('a stream line', this.#max, 'maxFrameBytes');
      out.push(line);
    }
  }

  end(out: string[]): void {
    const rest = this.#buf + this.#decoder.decode();
    this.#buf = '';
    if (rest.length > this.#max) throw new WireLimitError('a stream line', this.#max, 'maxFrameBytes');
    if (rest.length > 0) out.push(rest);
  }
}
