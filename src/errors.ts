import { type ErrorCode, type ErrorOptions, isManaLLMError, ManaLLMError } from './error-base.js';
import { brand } from './error-brand.js';
import {
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderError,
  type ProviderErrorInfo,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
  type StreamPartial,
} from './provider-errors.js';

/**
 * The whole error family: the base class (error-base.ts), the provider errors (provider-errors.ts) and the errors
 * of configuration, requests and the client, below. Import any of them from here.
 */
export type { ErrorCode, ProviderErrorInfo, StreamPartial };
export {
  isManaLLMError,
  ManaLLMError,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
};

/** One validation problem: where it is and what rule it breaks. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** One step of a chain walk, as reported in `routing.attempts` and `NoHealthyProviderError.attempts`. */
export interface Attempt {
  readonly target: string;
  readonly reason: AttemptReason;
  readonly status?: number;
  readonly durationMs?: number;
  readonly error?: ManaLLMError;
}

/** Why a chain entry was skipped, failed or served. */
export type AttemptReason =
  | 'ok'
  | 'unconfigured'
  | 'unhealthy'
  | 'breaker-open'
  | 'cooling'
  | 'saturated'
  | 'capability'
  | 'dimensions'
  | 'model-not-found'
  | 'connection'
  | 'timeout'
  | 'http-error'
  | 'rate-limited'
  | 'auth'
  | 'bad-response'
  | 'blocked'
  | 'caller-error'
  | 'context-length'
  | 'deadline'
  | 'hedged-out';

/** Invalid options given to `createManaLLM`; `issues` lists every problem with its path. */
export class ConfigError extends ManaLLMError {
  override name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(
    message: string,
    issues: readonly ConfigIssue[] = [],
    options?: ErrorOptions,
    code: ErrorCode = 'CONFIG',
  ) {
    super(code, summarize(message, issues), 500, false, options);
    this.issues = issues;
  }
}

/** Invalid, missing or unreadable aliases file or object; `issues` lists every problem with its path. */
export class AliasConfigError extends ConfigError {
  override name = 'AliasConfigError';
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: ErrorOptions) {
    super(message, issues, options, 'ALIAS_CONFIG');
  }
}

function summarize(message: string, issues: readonly ConfigIssue[]): string {
  if (issues.length === 0) return message;
  return `${message}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`;
}

/**
 * The caller's request is malformed, or building the upstream request from its content failed (too deep, too big,
 * an unusable image): raised before any I/O, never falls back, never touches health. `issues` lists each problem
 * with its path (`messages[2].role`).
 */
export class InvalidRequestError extends ManaLLMError {
  override name = 'InvalidRequestError';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: ErrorOptions) {
    super('INVALID_REQUEST', summarize(message, issues), 400, false, options);
    this.issues = issues;
  }
}

/** A `mana/<x>` model that no alias defines. */
export class UnknownAliasError extends ManaLLMError {
  override name = 'UnknownAliasError';
  readonly alias: string;
  constructor(alias: string) {
    super('UNKNOWN_ALIAS', `Unknown model alias "${alias}"`, 404, false);
    this.alias = alias;
  }
}

/** Nothing in the chain could serve the request. */
export class NoHealthyProviderError extends ManaLLMError {
  override name = 'NoHealthyProviderError';
  readonly requested: string;
  readonly attempts: readonly Attempt[];
  readonly retryAfterMs?: number;
  constructor(
    requested: string,
    attempts: readonly Attempt[],
    info: { retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    const tried = attempts.map((a) => `${a.target} (${a.reason})`).join(', ');
    super(
      'NO_HEALTHY_PROVIDER',
      `No provider could serve "${requested}": ${tried || 'empty chain'}`,
      503,
      true,
      {
        cause: info.cause,
      },
    );
    this.requested = requested;
    this.attempts = attempts;
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs;
  }
}

/** The client was closed. */
export class ClosedError extends ManaLLMError {
  override name = 'ClosedError';
  constructor() {
    super('CLOSED', 'This mana-llm client is closed', 503, false);
  }
}

brand({
  ManaLLMError,
  ConfigError,
  AliasConfigError,
  InvalidRequestError,
  UnknownAliasError,
  ProviderError,
  ProviderConnectionError,
  ProviderTimeoutError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderAuthError,
  ProviderCapabilityError,
  ProviderBlockedError,
  ProviderResponseError,
  StreamInterruptedError,
  NoHealthyProviderError,
  ClosedError,
});
