/**
 * Parts bench file for the `textline` variant: the Ollama text-line reader that `src/providers/ollama-mapping.ts`
 * held until session 11 (a text line read without JSON.parse), kept for the comparison after it was replaced by
 * the adapter's one path for every line (it won 1–15 % on the Ollama row, median 7–9 %, under the 10 % rule).
 */

// Ollama's text line, field by field as it writes them: {"model":"…","created_at":"…","message":{"role":"assistant",
// "content":"…"},"done":false}. Nearly every line of a stream has this form.
const HEAD = '{"model":"';
const AT = '","created_at":"';
const MESSAGE = '","message":{"role":"assistant","content":"';
const TAIL = '"},"done":false}';

/** Where the first `"`, `\\` or control character in `line[from, to)` is (`to` when there is none). */
function plainUntil(line: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = line.charCodeAt(i);
    if (c === 34 || c === 92 || c < 32) return i;
  }
  return to;
}

/**
 * The text of a stream line in Ollama's text-line form (non-empty content; model and timestamp without escapes),
 * read without `JSON.parse`: it is about half the cost of a 256-line stream, and every such line is valid JSON by
 * construction. Any other line (thinking, tool calls, `done`, an error, other fields or order, malformed) gives
 * undefined and is parsed whole.
 */
export function textOfLine(line: string): string | undefined {
  const end = line.length - TAIL.length;
  if (!line.startsWith(HEAD) || !line.endsWith(TAIL)) return undefined;
  const at = plainUntil(line, HEAD.length, end);
  if (!line.startsWith(AT, at)) return undefined;
  const message = plainUntil(line, at + AT.length, end);
  if (!line.startsWith(MESSAGE, message)) return undefined;
  const start = message + MESSAGE.length;
  if (start >= end) return undefined;
  if (plainUntil(line, start, end) === end) return line.slice(start, end);
  // Escapes in the text: JSON reads the string (a quote inside it that is not escaped makes this throw).
  try {
    return JSON.parse(line.slice(start - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}
