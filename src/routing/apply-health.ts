import type { ChainEntry } from '../aliases/schema.js';
import type { ProviderError } from '../errors.js';
import { capRetryAfter, type Verdict } from './classify.js';
import type { RouterContext } from './context.js';

function healthReason(err: ProviderError): string {
  if (err.status !== undefined) return `HTTP ${err.status}`;
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : err.code.toLowerCase();
}

/** Applies a verdict to the provider's health; `trial` ends the breaker's half-open trial either way. */
export function applyHealth(
  ctx: RouterContext,
  entry: ChainEntry,
  verdict: Verdict,
  err: ProviderError,
): void {
  const { health } = ctx;
  capRetryAfter(err, ctx.opts.limits.maxRetryAfterMs);
  if (verdict.health === 'failure') {
    // A wrong key does not fix itself: with fallbackOnAuthError the provider is opened at once.
    const times = verdict.reason === 'auth' ? ctx.opts.health.failureThreshold : 1;
    for (let i = 0; i < times; i++) health.recordFailure(entry.provider, healthReason(err));
  } else {
    const { retryAfterMs } = err as { retryAfterMs?: number };
    if (verdict.health === 'cool') health.coolTarget(entry.target, ctx.clock.now() + (retryAfterMs ?? 0));
    health.release(entry.provider);
  }
}
