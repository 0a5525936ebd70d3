import { isManaLLMError } from './errors.js';
import { redact, textOf } from './redact.js';
import type { ChatChunk } from './types.js';

/**
 * Frames a stream as server-sent events for a browser: `data: <chunk json>` frames, then `data: [DONE]`. An error
 * after headers were sent becomes one `data: {"error":{"message","type"}}` frame before `[DONE]`; it never throws.
 */
export async function* toServerSentEvents(
  stream: AsyncIterable<ChatChunk>,
): AsyncGenerator<string, void, undefined> {
  try {
    for await (const chunk of stream) yield `data: ${JSON.stringify(chunk)}\n\n`;
  } catch (err) {
    const error = isManaLLMError(err)
      ? { message: err.message, type: err.code.toLowerCase() }
      : { message: redact(textOf(err)), type: 'internal_error' };
    yield `data: ${JSON.stringify({ error })}\n\n`;
  }
  yield 'data: [DONE]\n\n';
}
