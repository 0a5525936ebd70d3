import { describe, expect, it } from 'vitest';
import type { ManaLLMEvents } from '../events.js';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';
import { createMemoryHealthStore } from './health-store.js';

const T0 = 1_700_000_000_000;

function setup(providers = ['ollama', 'groq'], failureThreshold = 2, cooldownMs = 1_000) {
  const clock = createFakeClock(T0);
  const cache = new HealthCache(providers, { failureThreshold, cooldownMs }, clock);
  const events: ManaLLMEvents['health'][] = [];
  cache.transitions.add((t) => events.push(t));
  return { clock, cache, events };
}

describe('HealthCache admission', () => {
  it('walks closed → open → half-open (one trial) → closed', () => {
    const { clock, cache } = setup();
    expect(cache.admit('ollama')).toBe('ready');
    cache.recordFailure('ollama', 'ECONNREFUSED');
    expect(cache.admit('ollama')).toBe('ready');
    cache.recordFailure('ollama', 'ECONNREFUSED');
    expect(cache.peek('ollama')).toBe('open');
    expect(cache.refuses('ollama')).toBe(true);
    expect(cache.admit('ollama')).toBe('unhealthy');
    expect(cache.unhealthyUntil('ollama')).toBe(T0 + 1_000);
    clock.advance(1_000);
    expect(cache.peek('ollama')).toBe('half-open');
    expect(cache.unhealthyUntil('ollama')).toBeUndefined();
    expect(cache.refuses('ollama')).toBe(false);
    expect(cache.admit('ollama')).toBe('trial');
    expect(cache.refuses('ollama')).toBe(true);
    expect(cache.admit('ollama')).toBe('unhealthy');
    cache.recordSuccess('ollama');
    expect(cache.peek('ollama')).toBe('closed');
    expect(cache.refuses('ollama')).toBe(false);
    expect(cache.admit('ollama')).toBe('ready');
  });

  it('re-opens from now when the trial fails', () => {
    const { clock, cache } = setup();
    cache.recordFailure('groq', 'HTTP 503');
    cache.recordFailure('groq', 'HTTP 503');
    clock.advance(1_500);
    expect(cache.admit('groq')).toBe('trial');
    cache.recordFailure('groq', 'HTTP 502');
    expect(cache.unhealthyUntil('groq')).toBe(T0 + 2_500);
    expect(cache.admit('groq')).toBe('unhealthy');
  });

  it('release ends a trial without changing the state', () => {
    const { clock, cache } = setup(['p'], 1);
    cache.recordFailure('p', 'x');
    clock.advance(1_000);
    expect(cache.admit('p')).toBe('trial');
    cache.release('p');
    expect(cache.peek('p')).toBe('half-open');
    expect(cache.snapshot().providers.p).toMatchObject({ consecutiveFailures: 1, lastError: 'x' });
    expect(cache.admit('p')).toBe('trial');
    cache.release('p');
    cache.release('p');
    expect(cache.admit('p')).toBe('trial');
  });

  it('treats an unknown provider as ready and records nothing for it', () => {
    const { cache, events } = setup(['p'], 1);
    cache.recordFailure('nope', 'x');
    cache.recordProbe('nope', { ok: false });
    cache.release('nope');
    expect(cache.admit('nope')).toBe('ready');
    expect(cache.peek('nope')).toBe('closed');
    expect(Object.keys(cache.snapshot().providers)).toEqual(['p']);
    expect(events).toEqual([]);
  });
});

describe('HealthCache probes', () => {
  it('a successful probe closes an open breaker and stamps lastCheckedAt', () => {
    const { clock, cache } = setup();
    cache.recordFailure('ollama', 'ECONNREFUSED');
    cache.recordFailure('ollama', 'ECONNREFUSED');
    clock.advance(10);
    cache.recordProbe('ollama', { ok: true });
    expect(cache.snapshot().providers.ollama).toEqual({
      healthy: true,
      state: 'closed',
      consecutiveFailures: 0,
      lastError: null,
      lastCheckedAt: T0 + 10,
      unhealthyUntil: null,
    });
  });

  it('a 401 answer marks the provider alive but keeps the error visible', () => {
    const { cache } = setup();
    cache.recordProbe('groq', { ok: true, error: 'HTTP 401' });
    expect(cache.snapshot().providers.groq).toMatchObject({ healthy: true, lastError: 'HTTP 401' });
  });

  it('a failed probe counts like a failed call', () => {
    const { cache } = setup(['p'], 1);
    cache.recordProbe('p', { ok: false, error: 'probe-timeout (>3000ms)' });
    expect(cache.snapshot().providers.p).toMatchObject({
      state: 'open',
      lastError: 'probe-timeout (>3000ms)',
    });
    cache.recordProbe('p', { ok: false });
    expect(cache.snapshot().providers.p).toMatchObject({ consecutiveFailures: 2, lastError: 'probe-failed' });
  });
});

describe('HealthCache target cool-downs', () => {
  it('keeps the later deadline and forgets a cool-down once it expires', () => {
    const { clock, cache } = setup();
    cache.coolTarget('groq/llama', T0 + 500);
    cache.coolTarget('groq/llama', T0 + 200);
    expect(cache.coolingUntil('groq/llama')).toBe(T0 + 500);
    cache.coolTarget('groq/llama', T0 + 800);
    expect(cache.coolingUntil('groq/llama')).toBe(T0 + 800);
    expect(cache.coolingUntil('groq/other')).toBeUndefined();
    clock.advance(799);
    expect(cache.coolingUntil('groq/llama')).toBe(T0 + 800);
    clock.advance(1);
    expect(cache.coolingUntil('groq/llama')).toBeUndefined();
  });

  it('lists cooling targets in the snapshot, sorted, without touching provider health', () => {
    const { clock, cache } = setup();
    cache.coolTarget('ollama/b', T0 + 100);
    cache.coolTarget('groq/a', T0 + 900);
    const latency = { chat: null, stream: null, embed: null };
    expect(cache.snapshot().targets).toEqual([
      { target: 'groq/a', until: T0 + 900, latency },
      { target: 'ollama/b', until: T0 + 100, latency },
    ]);
    clock.advance(100);
    expect(cache.snapshot()).toMatchObject({ status: 'healthy', targets: [{ target: 'groq/a' }] });
  });

  it('keeps its state in the store it is given', () => {
    const store = createMemoryHealthStore();
    const cache = new HealthCache(['p'], { failureThreshold: 1, cooldownMs: 10 }, createFakeClock(T0), store);
    cache.recordFailure('p', 'boom');
    cache.coolTarget('p/m', T0 + 5);
    expect(store.getProvider('p')).toMatchObject({ consecutiveFailures: 1, openedUntil: T0 + 10 });
    expect(store.getTargetCooldown('p/m')).toBe(T0 + 5);
  });
});

describe('HealthCache snapshot', () => {
  it('lists every configured provider with every key present', () => {
    const { cache } = setup(['ollama', '__proto__']);
    const snap = cache.snapshot();
    const fresh = {
      healthy: true,
      state: 'closed',
      consecutiveFailures: 0,
      lastError: null,
      lastCheckedAt: null,
      unhealthyUntil: null,
    };
    expect(snap.status).toBe('healthy');
    expect(snap.targets).toEqual([]);
    expect(snap.providers.ollama).toEqual(fresh);
    expect(Object.hasOwn(snap.providers, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(snap.providers, '__proto__')?.value).toEqual(fresh);
    expect(Object.getPrototypeOf(snap.providers)).toBe(Object.prototype);
    expect(Object.keys(snap.providers)).toEqual(['ollama', '__proto__']);
  });

  it('reports an open provider with its reopening time', () => {
    const { cache } = setup(['p'], 1);
    cache.recordFailure('p', 'HTTP 503');
    expect(cache.snapshot().providers.p).toEqual({
      healthy: false,
      state: 'open',
      consecutiveFailures: 1,
      lastError: 'HTTP 503',
      lastCheckedAt: T0,
      unhealthyUntil: T0 + 1_000,
    });
  });

  it('aggregates status: all healthy, some (half-open counts as unhealthy), none, zero providers', () => {
    const { clock, cache } = setup(['a', 'b'], 1);
    expect(cache.snapshot().status).toBe('healthy');
    cache.recordFailure('a', 'x');
    expect(cache.snapshot().status).toBe('degraded');
    cache.recordFailure('b', 'x');
    expect(cache.snapshot().status).toBe('unhealthy');
    clock.advance(1_000);
    expect(cache.snapshot().providers.a).toMatchObject({
      healthy: false,
      state: 'half-open',
      unhealthyUntil: null,
    });
    expect(cache.snapshot().status).toBe('unhealthy');
    expect(new HealthCache([], { failureThreshold: 1, cooldownMs: 1 }, clock).snapshot()).toEqual({
      status: 'healthy',
      providers: {},
      targets: [],
    });
  });
});
