import type { CallKind } from '../events.js';
import type { LatencyBook } from '../health/latency-book.js';
import type { ResolvedOptions } from '../options.js';

// Tokens are counted in thousandths: ten deposits of 0.1 must make exactly one token (in floats they make 0.999…).
const UNIT = 1000;

/**
 * When a call may hedge, per client: a token bucket (each call with hedging on deposits `budgetRatio`, up to
 * `budgetMax`; each hedge spends one token), so that an outage hedging every call cannot double the load, and the
 * delay rule of `afterMs: 'auto'`. Per client, as every other state: two clients in one process share nothing.
 */
export class HedgePolicy {
  readonly #deposit: number;
  readonly #max: number;
  readonly #autoMinMs: number;
  readonly #latency: Pick<LatencyBook, 'high'>;
  #tokens: number;

  /** `latency` gives `'auto'` a target's high estimate of its time to answer (a stream: to commit). */
  constructor(opts: ResolvedOptions['hedging'], latency: Pick<LatencyBook, 'high'>) {
    this.#deposit = Math.round(opts.budgetRatio * UNIT);
    this.#max = opts.budgetMax * UNIT;
    // Full at start: a fresh client hedges its first slow calls instead of waiting for the bucket to fill.
    this.#tokens = this.#max;
    this.#autoMinMs = opts.autoMinMs;
    this.#latency = latency;
  }

  /** A call with hedging on starts: it adds its share to the budget. */
  deposit(): void {
    this.#tokens = Math.min(this.#max, this.#tokens + this.#deposit);
  }

  /** Spends one token for a hedge; false (nothing spent) when the budget is exhausted. */
  take(): boolean {
    if (this.#tokens < UNIT) return false;
    this.#tokens -= UNIT;
    return true;
  }

  /** Gives back a token taken for a hedge that found nothing to start. */
  refund(): void {
    this.#tokens = Math.min(this.#max, this.#tokens + UNIT);
  }

  /**
   * How long an attempt at `target` runs alone before a hedge may start, or undefined for no hedge. `'auto'`: the
   * target's high latency estimate (about its 95th percentile), never below `autoMinMs`; no estimate yet → no hedge.
   */
  delay(afterMs: number | 'auto', target: string, kind: CallKind): number | undefined {
    if (afterMs !== 'auto') return afterMs > 0 ? afterMs : undefined;
    const high = this.#latency.high(target, kind);
    if (high === undefined || !Number.isFinite(high)) return undefined;
    return Math.max(this.#autoMinMs, Math.ceil(high));
  }
}
