import type { ChainEntry } from '../aliases/schema.js';
import {
  type AttemptReason,
  cutModel,
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
import { thrownText } from '../redact.js';
import type { Needs, RouterContext } from './context.js';

/** What one failed attempt means for the walk and for the provider's health. */
interface Verdict {
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

/** The one table that decides what falls back and what counts against health (docs/fallback.md). */
function classify(err: ProviderError, fallbackOnAuthError: boolean, hint: number | undefined): Verdict {
  if (err instanceof ProviderConnectionError) return v(true, 'failure', 'connection');
  if (err instanceof ProviderTimeoutError) return v(true, 'failure', 'timeout');
  // A rate limit with a hint cools only the target; without one it counts like any other failure.
  if (err instanceof ProviderRateLimitError)
    return v(true, hint === undefined ? 'failure' : 'cool', 'rate-limited');
  if (err instanceof ProviderHTTPError) {
    if (err.status === 404) return v(true, 'none', 'model-not-found');
    // Too long for this model's window: a later entry may have a bigger one (the caller's error when none is left).
    if (err.contextLength) return v(true, 'none', 'context-length');
    return err.retryable ? v(true, 'failure', 'http-error') : v(false, 'none', 'caller-error');
  }
  if (err instanceof ProviderAuthError)
    return v(fallbackOnAuthError, fallbackOnAuthError ? 'failure' : 'none', 'auth');
  if (err instanceof ProviderBlockedError) return v(false, 'none', 'blocked');
  if (err instanceof ProviderCapabilityError) return v(true, 'none', 'capability');
  if (err instanceof ProviderResponseError) return v(true, 'failure', 'bad-response');
  // Any other ProviderError (a custom adapter's subclass): trust its own retryable flag.
  return err.retryable ? v(true, 'failure', 'bad-response') : v(false, 'none', 'caller-error');
}

/** The error of a direct model (no alias to skip it in) that lacks a capability the request needs. */
export function cannotServe(entry: ChainEntry, needs: Needs): ProviderCapabilityError {
  const list = Object.keys(needs);
  return new ProviderCapabilityError(
    `${cutModel(entry.target)} cannot serve this request (${list.join(', ')})`,
    { ...entry, capability: list.join(',') },
  );
}

/**
 * Turns whatever an adapter threw into a ProviderError (a custom adapter may throw anything). A custom adapter's own
 * ProviderError keeps its class, its message cleaned as a thrown one's is (docs/limits.md); best effort: a frozen
 * one keeps its own.
 */
export function asProviderError(err: unknown, ctx: RouterContext, entry: ChainEntry): ProviderError {
  const { provider, model } = entry;
  if (err instanceof ProviderError) {
    if (ctx.providers.get(provider)?.config.type !== 'custom') return err;
    const msg = thrownText(err, 500);
    if (msg !== err.message)
      Reflect.defineProperty(err, 'message', { value: msg, writable: true, configurable: true });
    return err;
  }
  const about = { provider, model, cause: err };
  if (err instanceof ManaLLMError)
    return new ProviderResponseError(`${provider}/${cutModel(model)}: ${err.message}`, about);
  // A custom adapter's message may be anything, of any size: cut it before anything else runs over it.
  const msg = thrownText(err, 500);
  return new ProviderResponseError(`${provider}/${cutModel(model)}: adapter failed: ${msg}`, about);
}

/**
 * Classifies a failed attempt's error (the table above) and applies the verdict to its provider's health. A rate
 * limit's retry hint is first capped at `limits.maxRetryAfterMs` in place, so that the error the caller sees, the
 * target's cool-down and `NoHealthyProviderError.retryAfterMs` all agree (`retry-after: 99999999999` would cool a
 * target for 3,000 years); a custom adapter's hint that is no duration (NaN, negative, a string) is dropped.
 */
export function judgeFailure(ctx: RouterContext, entry: ChainEntry, err: ProviderError): Verdict {
  const { health, opts } = ctx;
  let hint: number | undefined;
  if (err instanceof ProviderRateLimitError && err.retryAfterMs !== undefined) {
    const ms: unknown = err.retryAfterMs;
    hint = typeof ms === 'number' && ms >= 0 ? Math.min(ms, opts.limits.maxRetryAfterMs) : undefined;
    // Best effort: a custom adapter's frozen error keeps its own (the cool-down still uses `hint`).
    if (hint !== ms)
      Reflect.defineProperty(err, 'retryAfterMs', { value: hint, enumerable: true, configurable: true });
  }
  const verdict = classify(err, opts.fallbackOnAuthError, hint);
  if (verdict.health === 'failure') {
    // A wrong key does not fix itself: with fallbackOnAuthError the provider is opened at once.
    const times = verdict.reason === 'auth' ? opts.health.failureThreshold : 1;
    for (let i = 0; i < times; i++) health.recordFailure(entry.provider, healthReason(err));
  } else if (verdict.health === 'cool') {
    health.coolTarget(entry.target, ctx.clock.now() + (hint ?? 0));
  }
  return verdict;
}

function healthReason(err: ProviderError): string {
  if (err.status !== undefined) return `HTTP ${err.status}`;
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : err.code.toLowerCase();
}
