import type { OpenedStream } from '../routing/open-stream.js';
import { toErrorAnswer } from './errors.js';

/**
 * A committed stream as SSE frames: `data: <chunk>` per chunk, then `data: [DONE]`. A failure after the commit is one
 * `data: {"error":{message,type,code,param}}` frame (the OpenAI SDKs raise it as an APIError) before `[DONE]`. When
 * the client went away, nothing more is written. Stopping the iteration cancels the upstream.
 */
export async function* sseFrames(
  stream: OpenedStream,
  signal: AbortSignal,
  ended: (error?: string) => void,
): AsyncGenerator<string, void, undefined> {
  let error: string | undefined;
  try {
    try {
      for await (const chunk of stream) yield `data: ${JSON.stringify(chunk)}\n\n`;
    } catch (err) {
      if (signal.aborted) {
        error = 'client_closed';
        return;
      }
      const answer = toErrorAnswer(err);
      error = answer.error.code ?? 'error';
      yield `data: ${JSON.stringify({ error: answer.error })}\n\n`;
    }
    yield 'data: [DONE]\n\n';
  } finally {
    if (error === undefined && signal.aborted) error = 'client_closed';
    ended(error);
  }
}
