import { describe, expect, it } from 'vitest';
import type { ManaLLMEvents } from '../events.js';
import type { BreakerRecord } from './breaker.js';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';
import { createMemoryHealthStore, type HealthStore, type HealthStoreUpdate } from './health-store.js';

const T0 = 1_700_000_000_000;

/** A memory store that can also play "another process wrote this" and "the connection dropped". */
function sharedStore() {
  const base = createMemoryHealthStore();
  const listeners = new Set<(u: HealthStoreUpdate) => void>();
  let connected = true;
  let closed = 0;
  const store: HealthStore = {
    ...base,
    status: () => ({ kind: 'test', connected }),
    subscribe(l) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    close: async () => void closed++,
  };
  return {
    store,
    remote(provider: string, record: BreakerRecord) {
      const before = base.getProvider(provider);
      base.setProvider(provider, record);
      for (const l of listeners) l({ type: 'provider', provider, before });
    },
    connection(up: boolean, error?: string) {
      connected = up;
      for (const l of listeners)
        l({ type: 'status', kind: 'test', connected: up, ...(error ? { error } : {}) });
    },
    listeners,
    closed: () => closed,
  };
}

const opened = (until: number): BreakerRecord => ({
  consecutiveFailures: 2,
  openedUntil: until,
  trialInFlight: false,
  lastError: 'ECONNREFUSED',
  lastCheckedAt: T0,
});

describe('HealthCache with a shared store', () => {
  it('announces a provider opened or closed by another process as a health transition', () => {
    const clock = createFakeClock(T0);
    const shared = sharedStore();
    const cache = new HealthCache(
      ['a', 'b'],
      { failureThreshold: 2, cooldownMs: 1_000 },
      clock,
      shared.store,
    );
    const seen: ManaLLMEvents['health'][] = [];
    cache.transitions.add((t) => seen.push(t));
    shared.remote('a', opened(T0 + 60_000));
    expect(cache.admit('a')).toBe('unhealthy');
    shared.remote('a', opened(T0 + 90_000)); // re-armed elsewhere: not a flip
    shared.remote('zzz', opened(T0 + 60_000)); // not configured here: ignored
    shared.remote('a', { ...opened(T0), openedUntil: null, consecutiveFailures: 0, lastCheckedAt: T0 + 1 });
    expect(seen).toEqual([
      {
        provider: 'a',
        healthy: false,
        state: 'open',
        reason: 'ECONNREFUSED',
        consecutiveFailures: 2,
        unhealthyUntil: T0 + 60_000,
      },
      { provider: 'a', healthy: true, state: 'closed', consecutiveFailures: 0 },
    ]);
  });

  it('shows the store in health() and relays its connection changes', async () => {
    const clock = createFakeClock(T0);
    const shared = sharedStore();
    const cache = new HealthCache(['a'], { failureThreshold: 2, cooldownMs: 1_000 }, clock, shared.store);
    const changes: ManaLLMEvents['store'][] = [];
    cache.storeStatus.add((s) => changes.push(s));
    expect(cache.snapshot().store).toEqual({ kind: 'test', connected: true });
    shared.connection(false, 'ECONNREFUSED');
    expect(cache.snapshot().store).toEqual({ kind: 'test', connected: false });
    shared.connection(true);
    expect(changes).toEqual([{ connected: false, error: 'ECONNREFUSED' }, { connected: true }]);
    await cache.close();
    expect(shared.listeners.size).toBe(0);
    expect(shared.closed()).toBe(1);
  });

  it('leaves health() without a store field for the in-memory store', () => {
    const cache = new HealthCache(['a'], { failureThreshold: 2, cooldownMs: 1_000 }, createFakeClock(T0));
    expect('store' in cache.snapshot()).toBe(false);
  });
});

describe('the in-memory store', () => {
  it('sweeps expired cool-downs, those ending exactly now included, once the map has doubled (ever-new 429 targets)', () => {
    const clock = createFakeClock(T0);
    const store = createMemoryHealthStore(clock);
    for (let i = 0; i < 63; i++) store.setTargetCooldown(`p/old-${i}`, T0 + 1_000);
    store.setTargetCooldown('p/live', T0 + 5_000);
    clock.advance(1_000);
    store.setTargetCooldown('p/new', T0 + 9_000);
    expect(store.listTargetCooldowns().map((t) => t.target)).toEqual(['p/live', 'p/new']);
  });
});
