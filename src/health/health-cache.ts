import type { Clock } from '../clock.js';
import type { BreakerState, ManaLLMEvents } from '../events.js';
import type { ProbeOutcome } from '../providers/adapter.js';
import {
  type Admission,
  admitCall,
  type BreakerOptions,
  type BreakerRecord,
  breakerCommit,
  breakerFailure,
  breakerRelease,
  breakerState,
  breakerSuccess,
  closedBreaker,
} from './breaker.js';
import type { HealthSnapshot, HealthStatus, ProviderHealth } from './health-snapshot.js';
import {
  createMemoryHealthStore,
  type HealthStore,
  type HealthStoreStatus,
  type HealthStoreUpdate,
} from './health-store.js';
import { LatencyBook } from './latency-book.js';
import { Listeners } from './listeners.js';

/** Per-provider breakers and per-target cool-downs, read and written by routing and the prober. */
export class HealthCache {
  readonly #known: ReadonlySet<string>;
  readonly #opts: BreakerOptions;
  readonly #clock: Clock;
  readonly #store: HealthStore;
  readonly #unsubscribe: (() => void) | undefined;
  /** This process's latency of each target: fed by answers, read by `'auto'` hedging, `health()` and `resolve()`. */
  readonly latency = new LatencyBook();
  /** Hears every flip of a provider's `healthy`, after the update (the `health` event's payload). */
  readonly transitions = new Listeners<ManaLLMEvents['health']>('health');
  /** Hears a shared store lose or regain its connection (the `store` event's payload). */
  readonly storeStatus = new Listeners<ManaLLMEvents['store']>('store');
  /**
   * Hears a provider's breaker open (by calls' failures, a probe or another process), so that the calls still
   * waiting on it let go at once: the router looks for them among its attempts in flight (see docs/latency.md).
   */
  readonly opened = new Listeners<string>('breaker-open');
  /**
   * Each provider's latest half-open trial, numbered: a trial that a re-open already ended must not end the next one
   * when its attempt lets go (this process's own business, like `trialInFlight`).
   */
  readonly #trials = new Map<string, number>();
  #trialCount = 0;

  constructor(
    providers: readonly string[],
    opts: BreakerOptions & { readonly maxCooldownMs?: number },
    clock: Clock,
    store?: HealthStore,
  ) {
    this.#known = new Set(providers);
    this.#opts = opts;
    this.#clock = clock;
    this.#store = store ?? createMemoryHealthStore(clock);
    const { cooldownMs, maxCooldownMs } = opts;
    const max = maxCooldownMs === undefined ? {} : { maxCooldownMs };
    this.#store.bind?.({ providers: this.#known, cooldownMs, ...max });
    this.#unsubscribe = this.#store.subscribe?.((u) => this.#onStoreUpdate(u));
  }

  /** Whether a call may use `provider` now; a `'trial'` must end in recordSuccess, recordFailure or release. */
  admit(provider: string): Admission {
    const before = this.#read(provider);
    // A closed breaker admits without a change (admitCall's first case), and needs no clock read.
    if (before.openedUntil === null) return 'ready';
    const { verdict, next } = admitCall(before, this.#clock.now());
    if (next !== before) this.#store.setProvider(provider, next);
    if (verdict === 'trial') this.#trials.set(provider, ++this.#trialCount);
    return verdict;
  }

  /** The number of `provider`'s latest trial (0: none yet), which `release` takes to end that trial only. */
  trialOf(provider: string): number {
    return this.#trials.get(provider) ?? 0;
  }

  /** The breaker state of `provider`, without side effects. */
  peek(provider: string): BreakerState {
    const r = this.#read(provider);
    return r.openedUntil === null ? 'closed' : breakerState(r, this.#clock.now());
  }

  /** True while `provider`'s last counted call failed and none has succeeded since (its breaker may still be closed). */
  lastCallFailed(provider: string): boolean {
    return this.#read(provider).consecutiveFailures > 0;
  }

  /** Whether `admit` would refuse `provider` now (open, or half-open with its trial taken), without side effects. */
  refuses(provider: string): boolean {
    const r = this.#read(provider);
    return r.openedUntil !== null && (r.trialInFlight || this.#clock.now() < r.openedUntil);
  }

  /** A call succeeded (at `now`, read from the clock when not given): closes the breaker, resets the count and ends any trial. */
  recordSuccess(provider: string, now?: number): void {
    this.#update(provider, breakerSuccess, now);
  }

  /** A stream committed (at `now`): closes the breaker and ends any trial, keeping the failures in a row until it ends. */
  recordCommit(provider: string, now?: number): void {
    this.#update(provider, breakerCommit, now);
  }

  /** A counted failure (`reason` such as `'ECONNREFUSED'` or `'HTTP 503'`); may open or re-open the breaker. */
  recordFailure(provider: string, reason: string): void {
    this.#update(provider, (r, now) => breakerFailure(r, reason, now, this.#opts));
  }

  /**
   * Ends a trial with no verdict (the caller's error or abort); the state stays as it was. With `trial` (its number
   * from `trialOf`), only while that trial is the latest: a later one taken after a re-open goes on.
   */
  release(provider: string, trial?: number): void {
    if (trial !== undefined && trial !== this.trialOf(provider)) return;
    this.#update(provider, breakerRelease);
  }

  /** Records a probe: an answer marks the provider alive (keeping e.g. a 401 as lastError), no answer counts. */
  recordProbe(provider: string, outcome: ProbeOutcome): void {
    this.#update(provider, (r, now) =>
      outcome.ok
        ? breakerSuccess(r, now, outcome.error ?? null)
        : breakerFailure(r, outcome.error ?? 'probe-failed', now, this.#opts),
    );
  }

  /** Cools a `provider/model` target until `untilMs`, keeping a later deadline already in force. */
  coolTarget(target: string, untilMs: number): void {
    const current = this.#store.getTargetCooldown(target);
    if (current === undefined || untilMs > current) this.#store.setTargetCooldown(target, untilMs);
  }

  /** When the target's cool-down ends, or undefined when it is not cooling. */
  coolingUntil(target: string): number | undefined {
    const until = this.#store.getTargetCooldown(target);
    return until !== undefined && until > this.#clock.now() ? until : undefined;
  }

  /** When an open breaker turns half-open, or undefined when it is not open. */
  unhealthyUntil(provider: string): number | undefined {
    const { openedUntil } = this.#read(provider);
    return openedUntil !== null && this.#clock.now() < openedUntil ? openedUntil : undefined;
  }

  /** Every configured provider's health, the overall status, and the cooling targets. */
  snapshot(): HealthSnapshot {
    const now = this.#clock.now();
    const entries = [...this.#known].map((id): [string, ProviderHealth] => {
      const r = this.#read(id);
      const state = breakerState(r, now);
      return [
        id,
        {
          healthy: state === 'closed',
          state,
          consecutiveFailures: r.consecutiveFailures,
          lastError: r.lastError,
          lastCheckedAt: r.lastCheckedAt,
          unhealthyUntil: state === 'open' ? r.openedUntil : null,
        },
      ];
    });
    const healthy = entries.filter(([, p]) => p.healthy).length;
    const status: HealthStatus =
      healthy === entries.length ? 'healthy' : healthy === 0 ? 'unhealthy' : 'degraded';
    const cooling = new Map<string, number>();
    for (const t of this.#store.listTargetCooldowns()) if (t.until > now) cooling.set(t.target, t.until);
    const names = new Set([...cooling.keys(), ...this.latency.targets()]);
    const targets = [...names]
      .sort((a, b) => a.localeCompare(b))
      .map((target) => ({ target, until: cooling.get(target) ?? null, latency: this.latency.view(target) }));
    const store = this.#store.status?.();
    // fromEntries defines own properties, so an id like "__proto__" stays an ordinary key.
    return {
      status,
      providers: Object.fromEntries(entries),
      targets,
      ...(store ? { store: storeStatus(store) } : {}),
    };
  }

  /** Stops listening to the store, leaving it open: a client whose construction failed does not own it. */
  detach(): void {
    this.#unsubscribe?.();
    this.transitions.clear();
    this.storeStatus.clear();
    this.opened.clear();
  }

  /** Stops listening to the store and closes it (a shared store's connections). */
  async close(): Promise<void> {
    this.detach();
    this.latency.clear();
    await this.#store.close?.();
  }

  // Another process changed a record: the mirror already holds it; tell listeners if `healthy` flipped.
  #onStoreUpdate(u: HealthStoreUpdate): void {
    if (u.type === 'status') {
      const { connected, error } = u;
      this.storeStatus.emit(Object.freeze(error === undefined ? { connected } : { connected, error }));
      return;
    }
    if (!this.#known.has(u.provider)) return;
    this.#changed(u.provider, u.before ?? closedBreaker, this.#read(u.provider), this.#clock.now());
  }

  #read(provider: string): BreakerRecord {
    return this.#store.getProvider(provider) ?? closedBreaker;
  }

  #update(
    provider: string,
    change: (r: BreakerRecord, now: number) => BreakerRecord,
    now = this.#clock.now(),
  ): void {
    if (!this.#known.has(provider)) return;
    const before = this.#read(provider);
    const after = change(before, now);
    if (after === before) return;
    this.#store.setProvider(provider, after);
    this.#changed(provider, before, after, now);
  }

  #changed(provider: string, before: BreakerRecord, after: BreakerRecord, now: number): void {
    const was = breakerState(before, now);
    const state = breakerState(after, now);
    const healthy = state === 'closed';
    // Re-arming an open breaker, or its cooldown running out, is not a flip: listeners hear only real changes.
    if ((was === 'closed') !== healthy) {
      this.transitions.emit(
        Object.freeze({
          provider,
          healthy,
          state,
          consecutiveFailures: after.consecutiveFailures,
          ...(!healthy && after.lastError !== null ? { reason: after.lastError } : {}),
          ...(state === 'open' && after.openedUntil !== null ? { unhealthyUntil: after.openedUntil } : {}),
        }),
      );
    }
    // Attempts still waiting on the provider let go now, after the `health` event, instead of at their timeout.
    if (state === 'open' && was !== 'open') this.opened.emit(provider);
  }
}

/** A store's status as `health().store` shows it: its own keys only, `error` when it says why it is down. */
function storeStatus({ kind, connected, error }: HealthStoreStatus): HealthStoreStatus {
  return error === undefined ? { kind, connected } : { kind, connected, error };
}
