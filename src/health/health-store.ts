import { type Clock, systemClock } from '../clock.js';
import type { BreakerRecord } from './breaker.js';

/** Connection state of a shared store, shown as `health().store` and announced by the `store` event. */
export interface HealthStoreStatus {
  readonly kind: string;
  readonly connected: boolean;
  /** Why the store is not connected, when it knows. */
  readonly error?: string;
}

/** What a shared store tells its client: a provider record changed by another process, or a connection change. */
export type HealthStoreUpdate =
  | { readonly type: 'provider'; readonly provider: string; readonly before: BreakerRecord | undefined }
  | ({ readonly type: 'status' } & HealthStoreStatus);

/** What a shared store may accept from elsewhere, told by the client that uses it (see `HealthStore.bind`). */
export interface StoreBounds {
  /** The configured provider ids; records and cool-downs of any other are ignored (undefined: not told yet). */
  readonly providers: ReadonlySet<string> | undefined;
  /** A breaker is never open longer than this from now. */
  readonly cooldownMs: number;
  /** A target never cools longer than this from now (the retry-hint cap; the store's own when not told). */
  readonly maxCooldownMs?: number;
}

/**
 * Where breaker records and target cool-downs live; synchronous so routing decisions stay local,
 * which lets a shared store (Redis) mirror its state in memory and replicate in the background.
 * The optional members are for shared stores; the in-memory store has none of them.
 */
export interface HealthStore {
  getProvider(provider: string): BreakerRecord | undefined;
  setProvider(provider: string, record: BreakerRecord): void;
  getTargetCooldown(target: string): number | undefined;
  setTargetCooldown(target: string, untilMs: number): void;
  /** Every stored cool-down, expired or not; the caller filters by its clock. */
  listTargetCooldowns(): { target: string; until: number }[];
  /** Connection state (shared stores). */
  status?(): HealthStoreStatus;
  /** Hears records changed from elsewhere (after the mirror is updated) and connection changes; returns an unsubscribe. */
  subscribe?(listener: (update: HealthStoreUpdate) => void): () => void;
  /** True when this process should run this interval's probe of `provider` (a lease of `ttlMs` shared by all). */
  acquireProbe?(provider: string, ttlMs: number): boolean | Promise<boolean>;
  /** Tells a shared store what this client accepts from other processes, so corrupt state is clamped or ignored. */
  bind?(bounds: StoreBounds): void;
  /** Releases the store's connections; the client calls it from `close()`. */
  close?(): Promise<void>;
}

/** Fewest cool-downs kept before expired ones are swept. */
const MIN_SWEEP = 64;

/**
 * A store that keeps everything in this process, owned by one client. Expired target cool-downs are swept when
 * the map has doubled since the last sweep (a gateway's callers may send ever-new model names, each a 429).
 */
export function createMemoryHealthStore(clock: Clock = systemClock): HealthStore {
  const providers = new Map<string, BreakerRecord>();
  const targets = new Map<string, number>();
  let sweepAt = MIN_SWEEP;
  return {
    getProvider: (provider) => providers.get(provider),
    setProvider: (provider, record) => void providers.set(provider, record),
    getTargetCooldown: (target) => targets.get(target),
    setTargetCooldown: (target, untilMs) => {
      if (targets.size >= sweepAt && !targets.has(target)) {
        const now = clock.now();
        for (const [t, until] of targets) if (until <= now) targets.delete(t);
        sweepAt = Math.max(MIN_SWEEP, 2 * targets.size);
      }
      targets.set(target, untilMs);
    },
    listTargetCooldowns: () => [...targets].map(([target, until]) => ({ target, until })),
  };
}
