import type { BreakerState } from '../events.js';

/** How many consecutive failures open a breaker, and for how long it then stays open. */
export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

/** A provider's breaker as plain data, so any `HealthStore` can hold and replicate it. */
export interface BreakerRecord {
  readonly consecutiveFailures: number;
  /** When the breaker stops being open (half-open from then on); null while closed. */
  readonly openedUntil: number | null;
  readonly trialInFlight: boolean;
  readonly lastError: string | null;
  readonly lastCheckedAt: number | null;
}

/** What a caller may do with a provider right now. */
export type Admission = 'ready' | 'trial' | 'unhealthy';

/** The breaker of a provider nothing is known about yet. */
export const closedBreaker: BreakerRecord = Object.freeze({
  consecutiveFailures: 0,
  openedUntil: null,
  trialInFlight: false,
  lastError: null,
  lastCheckedAt: null,
});

/** The breaker's state at `now`, computed on read so no timer is needed for open → half-open. */
export function breakerState(r: BreakerRecord, now: number): BreakerState {
  if (r.openedUntil === null) return 'closed';
  return now < r.openedUntil ? 'open' : 'half-open';
}

/** Decides whether a call may go ahead; admitting the single half-open trial marks it in flight. */
export function admitCall(r: BreakerRecord, now: number): { verdict: Admission; next: BreakerRecord } {
  const state = breakerState(r, now);
  if (state === 'closed') return { verdict: 'ready', next: r };
  if (state === 'open' || r.trialInFlight) return { verdict: 'unhealthy', next: r };
  return { verdict: 'trial', next: { ...r, trialInFlight: true } };
}

/** Closes the breaker and resets its count; `lastError` survives only when the verdict carries one. */
export function breakerSuccess(
  _r: BreakerRecord,
  now: number,
  lastError: string | null = null,
): BreakerRecord {
  // Every field is set: a literal, not a spread of `r`, which costs more on every success.
  return {
    consecutiveFailures: 0,
    openedUntil: null,
    trialInFlight: false,
    lastError,
    lastCheckedAt: now,
  };
}

/**
 * A stream committed: the provider answers, so the breaker closes and any trial ends, but a stream is judged by how
 * it ends: the count of failures in a row stays until it ends cleanly (an interrupted stream then adds to it).
 */
export function breakerCommit(r: BreakerRecord, now: number): BreakerRecord {
  if (r.consecutiveFailures === 0) return breakerSuccess(r, now);
  return { ...r, openedUntil: null, trialInFlight: false, lastCheckedAt: now };
}

/** Counts a failure: opens at the threshold, and re-arms from `now` when already open or half-open. */
export function breakerFailure(
  r: BreakerRecord,
  reason: string,
  now: number,
  opts: BreakerOptions,
): BreakerRecord {
  const consecutiveFailures = r.consecutiveFailures + 1;
  const opens = r.openedUntil !== null || consecutiveFailures >= opts.failureThreshold;
  return {
    consecutiveFailures,
    openedUntil: opens ? now + opts.cooldownMs : null,
    trialInFlight: false,
    lastError: reason,
    lastCheckedAt: now,
  };
}

/** Ends a trial with no verdict (the caller's own error or abort), leaving the state as it was. */
export function breakerRelease(r: BreakerRecord): BreakerRecord {
  return r.trialInFlight ? { ...r, trialInFlight: false } : r;
}

/**
 * Whether a breaker record written by another process replaces the one held here. Each record is stamped
 * by `lastCheckedAt` (when its last verdict was recorded): an open only moves its open-until later; an open
 * replaces a closed record no older than it; a close (or a newer count on a closed breaker) applies only when
 * it is newer than what it replaces. The same rule runs inside Redis (see src/redis/scripts.ts).
 */
export function incomingWins(current: BreakerRecord, incoming: BreakerRecord): boolean {
  const at = current.lastCheckedAt ?? 0;
  const inAt = incoming.lastCheckedAt ?? 0;
  if (incoming.openedUntil !== null) {
    return current.openedUntil !== null ? incoming.openedUntil > current.openedUntil : inAt >= at;
  }
  return inAt > at;
}

/**
 * The record to keep when `incoming` (another process's write) meets `current`; returns `current` itself
 * when nothing changes. A trial in flight is this process's own business and survives a remote re-open.
 */
export function mergeBreaker(current: BreakerRecord | undefined, incoming: BreakerRecord): BreakerRecord {
  if (current !== undefined && !incomingWins(current, incoming)) return current;
  const trialInFlight = incoming.openedUntil !== null && current?.trialInFlight === true;
  return { ...incoming, trialInFlight };
}
