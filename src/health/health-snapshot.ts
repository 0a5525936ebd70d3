import type { BreakerState } from '../events.js';
import type { HealthStoreStatus } from './health-store.js';
import type { TargetLatency } from './latency-book.js';

/** One provider's entry in `llm.health()`; every key is always present. */
export interface ProviderHealth {
  readonly healthy: boolean;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  readonly lastCheckedAt: number | null;
  readonly unhealthyUntil: number | null;
}

/** One target's entry in `llm.health().targets`; every key is always present. */
export interface TargetHealth {
  readonly target: string;
  /** When the target's cool-down after a 429 ends; null when it is not cooling. */
  readonly until: number | null;
  readonly latency: TargetLatency;
}

/** Overall health: every provider healthy, some, or none. */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** What `llm.health()` returns. */
export interface HealthSnapshot {
  readonly status: HealthStatus;
  readonly providers: Readonly<Record<string, ProviderHealth>>;
  /**
   * Every `provider/model` target cooling after a 429 (`until`, else null) or measured by this process (`latency`),
   * sorted by name.
   */
  readonly targets: readonly TargetHealth[];
  /**
   * Present with a shared store (`mana-llm/redis`): whether it is connected, and why not when it knows; decisions
   * stay local either way.
   */
  readonly store?: HealthStoreStatus;
}
