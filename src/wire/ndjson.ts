import { LineSplitter } from './lines.js';

/**
 * Yields the non-blank lines of a newline-delimited JSON body, unparsed, that each network chunk completes as
 * one array (never empty). A line longer than `maxLine` characters throws a `WireLimitError`.
 */
export async function* readNDJSONBatches(
  body: AsyncIterable<Uint8Array>,
  maxLine: number,
): AsyncGenerator<string[]> {
  const splitter = new LineSplitter(maxLine);
  let lines: string[] = [];
  for await (const chunk of body) {
    splitter.push(chunk, lines);
    if (lines.length === 0) continue;
    const kept = nonBlank(lines);
    lines = [];
    if (kept.length > 0) yield kept;
  }
  splitter.end(lines);
  const kept = nonBlank(lines);
  if (kept.length > 0) yield kept;
}

function nonBlank(lines: string[]): string[] {
  for (const line of lines) if (line.trim() === '') return lines.filter((l) => l.trim() !== '');
  return lines;
}
