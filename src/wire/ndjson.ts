import { readLines } from './lines.js';

/** Yields each non-blank line of a newline-delimited JSON body, unparsed, as bytes arrive. */
export async function* readNDJSON(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  for await (const line of readLines(body)) {
    if (line.trim() !== '') yield line;
  }
}
