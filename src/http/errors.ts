import {
  InvalidRequestError,
  isManaLLMError,
  NoHealthyProviderError,
  ProviderRateLimitError,
  UnknownAliasError,
} from '../errors.js';

/** The error object of an OpenAI-style error body: `{ error: { message, type, code, param } }`. */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

// The OpenAI `type` of a status; what each OpenAI client library keys its error classes on is the status itself.
const TYPES: Record<number, string> = {
  401: 'authentication_error',
  403: 'permission_error',
  429: 'rate_limit_error',
};

/** An error answer before anything was written: status, code, message, param and extra headers. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The OpenAI-style error body. */
  body(): { error: OpenAIErrorObject } {
    const type = TYPES[this.status] ?? (this.status >= 500 ? 'server_error' : 'invalid_request_error');
    return { error: { message: this.message, type, code: this.code, param: this.param } };
  }
}

/**
 * Any error as its answer: a mana-llm error keeps its `httpStatus` and message (both key-free) with its code in
 * lower case; anything else is a 500 whose message says nothing about internals.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (!isManaLLMError(err)) return new HttpError(500, 'internal_error', 'internal error');
  const param =
    err instanceof UnknownAliasError
      ? 'model'
      : err instanceof InvalidRequestError
        ? err.issues[0]?.path || null
        : null;
  // Seconds for a Retry-After header, when the error knows how long to wait.
  const ms =
    err instanceof NoHealthyProviderError || err instanceof ProviderRateLimitError
      ? err.retryAfterMs
      : undefined;
  const headers = ms === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
  return new HttpError(err.httpStatus, err.code.toLowerCase(), err.message, param, headers);
}
