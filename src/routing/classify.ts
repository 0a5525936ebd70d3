import {
  type AttemptReason,
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
} from '../errors.js';
import { cleanText } from '../redact.js';

/** What one failed attempt means for the walk and for the provider's health. */
export interface Verdict {
  /** true: try the next entry; false: the error propagates to the caller. */
  readonly fallback: boolean;
  /** `failure` counts against the provider's breaker; `cool` cools only the target; `none` leaves health alone. */
  readonly health: 'failure' | 'cool' | 'none';
  readonly reason: AttemptReason;
}

const v = (fallback: boolean, health: Verdict['health'], reason: AttemptReason): Verdict => ({
  fallback,
  health,
  reason,
});

const CONNECTION = v(true, 'failure', 'connection');
const TIMEOUT = v(true, 'failure', 'timeout');
const SERVER = v(true, 'failure', 'http-error');
const NOT_FOUND = v(true, 'none', 'model-not-found');
const CALLER = v(false, 'none', 'caller-error');
// Too long for this model's window: a later entry may have a bigger one (the caller's error only when none is left).
const CONTEXT_LENGTH = v(true, 'none', 'context-length');
const COOL = v(true, 'cool', 'rate-limited');
const RATE_NO_HINT = v(true, 'failure', 'rate-limited');
const AUTH = v(false, 'none', 'auth');
const AUTH_FALLBACK = v(true, 'failure', 'auth');
const BLOCKED = v(false, 'none', 'blocked');
const INCAPABLE = v(true, 'none', 'capability');
const BAD = v(true, 'failure', 'bad-response');

/** The one table that decides what falls back and what counts against health (docs/fallback.md). */
export function classify(err: ProviderError, fallbackOnAuthError: boolean): Verdict {
  if (err instanceof ProviderConnectionError) return CONNECTION;
  if (err instanceof ProviderTimeoutError) return TIMEOUT;
  if (err instanceof ProviderRateLimitError) return err.retryAfterMs === undefined ? RATE_NO_HINT : COOL;
  if (err instanceof ProviderHTTPError) {
    if (err.status === 404) return NOT_FOUND;
    if (err.contextLength) return CONTEXT_LENGTH;
    return err.retryable ? SERVER : CALLER;
  }
  if (err instanceof ProviderAuthError) return fallbackOnAuthError ? AUTH_FALLBACK : AUTH;
  if (err instanceof ProviderBlockedError) return BLOCKED;
  if (err instanceof ProviderCapabilityError) return INCAPABLE;
  if (err instanceof ProviderResponseError) return BAD;
  // Any other ProviderError (a custom adapter's subclass): trust its own retryable flag.
  return err.retryable ? BAD : CALLER;
}

/** Turns whatever an adapter threw into a ProviderError (a custom adapter may throw anything). */
export function asProviderError(err: unknown, provider: string, model: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof ManaLLMError) {
    return new ProviderResponseError(`${provider}/${model}: ${err.message}`, { provider, model, cause: err });
  }
  // A custom adapter's message may be anything, of any size: cut it before anything else runs over it.
  const msg = cleanText(err instanceof Error ? err.message : String(err), 500);
  return new ProviderResponseError(`${provider}/${model}: adapter failed: ${msg}`, {
    provider,
    model,
    cause: err,
  });
}

/**
 * Caps a rate-limit error's retry hint at `maxMs` in place, so that the error the caller sees, the target's cool-down
 * and `NoHealthyProviderError.retryAfterMs` all agree (`retry-after: 99999999999` would cool a target for 3,000 years).
 */
export function capRetryAfter(err: ProviderError, maxMs: number): void {
  if (!(err instanceof ProviderRateLimitError)) return;
  const hint = err.retryAfterMs;
  if (hint === undefined || hint <= maxMs) return;
  Object.defineProperty(err, 'retryAfterMs', { value: maxMs, enumerable: true, configurable: true });
}
