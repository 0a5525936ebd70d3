import { APICallError, NoSuchModelError } from '@ai-sdk/provider';
import { isManaLLMError } from '../errors.js';

/** Which kind of model a call came from, for `NoSuchModelError`. */
export type ModelType = 'languageModel' | 'embeddingModel';

/**
 * The AI SDK's own error for what mana-llm raised: `NoSuchModelError` for an unknown alias, `APICallError` (with
 * `isRetryable` from the error's `retryable`, the upstream's status where there was one, and a `retry-after-ms`
 * response header when a retryable error knows how long to wait) for every other mana-llm error; anything else (the
 * caller's abort reason) as is, so the AI SDK sees its own abort.
 */
export function toAISDKError(err: unknown, modelId: string, modelType: ModelType, body: unknown): unknown {
  if (!isManaLLMError(err)) return err;
  if (err.code === 'UNKNOWN_ALIAS') {
    return new NoSuchModelError({ modelId, modelType, message: err.message });
  }
  const { status, retryAfterMs } = err as { status?: unknown; retryAfterMs?: unknown };
  return new APICallError({
    message: err.message,
    url: `mana-llm:${modelId}`,
    requestBodyValues: body,
    statusCode: typeof status === 'number' ? status : err.httpStatus,
    isRetryable: err.retryable,
    // The AI SDK's own retry waits by this header (else 2 s, then 4 s): it retries when the cool-down ends.
    ...(err.retryable && typeof retryAfterMs === 'number'
      ? { responseHeaders: { 'retry-after-ms': String(retryAfterMs) } }
      : {}),
    cause: err,
    // Key-free by construction (ManaLLMError.toJSON): safe to log.
    data: err.toJSON(),
  });
}
