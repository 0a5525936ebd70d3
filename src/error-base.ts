import { isBranded } from './error-brand.js';
import { redact } from './redact.js';

/** Every error code the library raises. */
export type ErrorCode =
  | 'CONFIG'
  | 'INVALID_REQUEST'
  | 'ALIAS_CONFIG'
  | 'UNKNOWN_ALIAS'
  | 'PROVIDER_CONNECTION'
  | 'PROVIDER_TIMEOUT'
  | 'PROVIDER_HTTP'
  | 'PROVIDER_RATE_LIMIT'
  | 'PROVIDER_AUTH'
  | 'PROVIDER_CAPABILITY'
  | 'PROVIDER_BLOCKED'
  | 'PROVIDER_RESPONSE'
  | 'STREAM_INTERRUPTED'
  | 'NO_HEALTHY_PROVIDER'
  | 'CLOSED';

/** The standard `cause` of an error. */
export interface ErrorOptions {
  cause?: unknown;
}

/** Base class of every error mana-llm throws. */
export class ManaLLMError extends Error {
  /** `instanceof` any mana-llm error class also recognises errors from another copy of the package (ESM/CJS). */
  static override [Symbol.hasInstance]<C extends abstract new (...args: never[]) => unknown>(
    this: C,
    x: unknown,
  ): x is InstanceType<C> {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, a subclass too.
    return isBranded(this, x);
  }

  override name = 'ManaLLMError';
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    httpStatus: number,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(redact(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
  }

  /** A plain, key-free object for logs and `JSON.stringify`. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      message: this.message,
      httpStatus: this.httpStatus,
      retryable: this.retryable,
    };
    for (const [k, v] of Object.entries(this)) {
      if (!(k in out) && k !== 'cause' && k !== 'stack') out[k] = v;
    }
    if (this.cause !== undefined) {
      out.cause =
        this.cause instanceof ManaLLMError
          ? this.cause.toJSON()
          : this.cause instanceof Error
            ? { name: this.cause.name, message: redact(this.cause.message) }
            : undefined;
    }
    return out;
  }
}

/** True when `e` is any error raised by mana-llm, from this copy of the package or another (ESM and CJS). */
export function isManaLLMError(e: unknown): e is ManaLLMError {
  return e instanceof ManaLLMError;
}
