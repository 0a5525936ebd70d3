import { isManaLLMError } from './errors.js';
import { thrownText } from './redact.js';
import type { ChatChunk } from './types.js';

/**
 * Frames a stream as server-sent events for a browser: `data: <chunk json>` frames, then `data: [DONE]`. An error
 * after headers were sent becomes one `data: {"error":{"message","type"}}` frame before `[DONE]` (another error's text
 * redacted and cut to 500 characters); it never throws.
 */
export function toServerSentEvents(
  stream: AsyncIterable<ChatChunk>,
): AsyncGenerator<string, void, undefined> {
  const source = stream[Symbol.asyncIterator]();
  let started = false;
  const frames = (async function* () {
    started = true;
    try {
      for await (const chunk of { [Symbol.asyncIterator]: () => source })
        yield `data: ${JSON.stringify(chunk)}\n\n`;
    } catch (err) {
      const error = isManaLLMError(err)
        ? { message: err.message, type: err.code.toLowerCase() }
        : { message: thrownText(err, 500), type: 'internal_error' };
      yield `data: ${JSON.stringify({ error })}\n\n`;
    }
    yield 'data: [DONE]\n\n';
  })();
  // A generator returned or thrown into before its first `next()` never runs its body: the source (an opened stream
  // holding its upstream, when the browser left before the first frame) is released here.
  for (const method of ['return', 'throw'] as const) {
    const own = frames[method].bind(frames);
    frames[method] = async (arg) => {
      if (!started) await source.return?.();
      return own(arg);
    };
  }
  return frames;
}
