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

/** An error answer before anything was written: status, extra headers and the OpenAI-style body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  error: OpenAIErrorObject;
}

/** The OpenAI `type` for a status: what each OpenAI client library keys its error classes on is the status itself. */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** An error the HTTP layer raises itself (bad JSON, body too large, unknown route, missing key). */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly param: string | null;
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    opts: { param?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }
}

function paramOf(err: unknown): string | null {
  if (err instanceof UnknownAliasError) return 'model';
  if (err instanceof InvalidRequestError) return err.issues[0]?.path || null;
  return null;
}

/** Seconds for a Retry-After header, when the error knows how long to wait. */
function retryAfter(err: unknown): Record<string, string> {
  const ms =
    err instanceof NoHealthyProviderError || err instanceof ProviderRateLimitError
      ? err.retryAfterMs
      : undefined;
  return ms === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}

/**
 * Maps any error to its answer: a mana-llm error keeps its `httpStatus` and message (both key-free) with its code in
 * lower case; anything else is a 500 whose message says nothing about internals.
 */
export function toErrorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      headers: err.headers,
      error: { message: err.message, type: errorType(err.status), code: err.code, param: err.param },
    };
  }
  if (isManaLLMError(err)) {
    return {
      status: err.httpStatus,
      headers: retryAfter(err),
      error: {
        message: err.message,
        type: errorType(err.httpStatus),
        code: err.code.toLowerCase(),
        param: paramOf(err),
      },
    };
  }
  return {
    status: 500,
    headers: {},
    error: { message: 'internal error', type: 'server_error', code: 'internal_error', param: null },
  };
}
