import type { BreakerRecord } from '../health/breaker.js';
import type { StoreBounds } from '../health/health-store.js';
import { cleanText } from '../redact.js';

/** Largest pub/sub message or stored hash value read; anything longer is ignored unparsed (not even fetched). */
export const MAX_MESSAGE_CHARS = 4_096;
/** Longest `lastError` kept from another process. */
const MAX_LAST_ERROR_CHARS = 300;
/** Longest target name (`provider/model`) kept. */
export const MAX_TARGET_CHARS = 512;
/** Most target cool-downs mirrored at once; more are ignored until some are over. */
export const MAX_TARGETS = 10_000;
/** A failure count past this is as good as any. */
const MAX_FAILURES = 1_000_000;
/** A remote clock may run this far ahead of ours before its timestamps count as corrupt. */
export const CLOCK_SKEW_MS = 60_000;

/** What a store holds before a client has told it its providers and cool-down (a cap of one hour). */
export const UNBOUND: Required<StoreBounds> = {
  providers: undefined,
  cooldownMs: 3_600_000,
  maxCooldownMs: 3_600_000,
};

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Whether `target` is a `provider/model` of sane length whose provider this store accepts. */
function knownTarget(target: string, bounds: Required<StoreBounds>): boolean {
  if (target.length > MAX_TARGET_CHARS) return false;
  const slash = target.indexOf('/');
  if (slash <= 0 || slash === target.length - 1) return false;
  return bounds.providers === undefined || bounds.providers.has(target.slice(0, slash));
}

/**
 * Reads a breaker record another process wrote (or anyone with write access to Redis), judged against `now`:
 * malformed → ignored; an unknown provider → ignored; the rest clamped so that no record can outlive what
 * this process would itself have written (open at most `cooldownMs` from now, checked no later than now,
 * failures a non-negative integer, `lastError` short and free of control characters).
 */
export function sanitizeRecord(
  provider: string,
  x: unknown,
  now: number,
  bounds: Required<StoreBounds>,
): BreakerRecord | undefined {
  if (bounds.providers !== undefined && !bounds.providers.has(provider)) return undefined;
  if (x === null || typeof x !== 'object') return undefined;
  const r = x as Record<string, unknown>;
  if (!isNum(r.consecutiveFailures)) return undefined;
  if (r.openedUntil !== null && !isNum(r.openedUntil)) return undefined;
  if (r.lastCheckedAt !== null && !isNum(r.lastCheckedAt)) return undefined;
  if (r.lastError !== null && typeof r.lastError !== 'string') return undefined;
  const openedUntil = r.openedUntil === null ? null : Math.min(r.openedUntil, now + bounds.cooldownMs);
  return {
    consecutiveFailures: Math.min(MAX_FAILURES, Math.max(0, Math.floor(r.consecutiveFailures))),
    openedUntil,
    trialInFlight: false,
    // A lastError goes into health() and logs.
    lastError: r.lastError === null ? null : cleanText(r.lastError, MAX_LAST_ERROR_CHARS),
    lastCheckedAt: r.lastCheckedAt === null ? null : Math.min(r.lastCheckedAt, now),
  };
}

/** A target's cool-down from elsewhere: for a known provider, and ending no later than the retry cap from now. */
export function sanitizeCooldown(
  target: string,
  until: unknown,
  now: number,
  bounds: Required<StoreBounds>,
): number | undefined {
  if (!knownTarget(target, bounds)) return undefined;
  const n = typeof until === 'string' ? Number(until) : until;
  if (!isNum(n) || n <= now) return undefined;
  return Math.min(n, now + bounds.maxCooldownMs);
}

/** Parses a message or stored value no longer than the cap; anything else is `undefined`. */
export function parseBounded(text: unknown): unknown {
  if (typeof text !== 'string' || text.length > MAX_MESSAGE_CHARS) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
