import type { BreakerRecord } from './breaker.js';

/**
 * Whether a breaker record written by another process replaces the one held here. Each record is stamped
 * by `lastCheckedAt` (when its last verdict was recorded): an open only moves its open-until later; an open
 * replaces a closed record no older than it; a close (or a newer count on a closed breaker) applies only when
 * it is newer than what it replaces. The same rule runs inside Redis (see src/redis/scripts.ts).
 */
export function incomingWins(current: BreakerRecord | undefined, incoming: BreakerRecord): boolean {
  if (current === undefined) return true;
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

/** A target's cool-down after merging: the later deadline wins. */
export function mergeCooldown(current: number | undefined, incoming: number): number {
  return current === undefined || incoming > current ? incoming : current;
}
