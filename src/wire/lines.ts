/**
 * Splits a byte stream into text lines (LF, CRLF or lone CR), decoding UTF-8 across chunk boundaries.
 * A final unterminated line is yielded too.
 */
export async function* readLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let skipLF = false;
  for await (const chunk of body) {
    // The carried-over tail holds no line break: scan only the new text (no quadratic rescans of long lines).
    let i = buf.length;
    buf += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c === 10) {
        if (skipLF && i === start) {
          skipLF = false;
          start = i + 1;
          continue;
        }
        skipLF = false;
        yield buf.slice(start, i);
        start = i + 1;
      } else if (c === 13) {
        yield buf.slice(start, i);
        start = i + 1;
        skipLF = true;
      } else {
        skipLF = false;
      }
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
  buf += decoder.decode();
  if (buf.length > 0) yield buf;
}
