import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ManaLLMEvents } from '../events.js';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';

const T0 = 1_700_000_000_000;

function setup(providers: string[], failureThreshold: number, cooldownMs = 1_000) {
  const clock = createFakeClock(T0);
  const cache = new HealthCache(providers, { failureThreshold, cooldownMs }, clock);
  const events: ManaLLMEvents['health'][] = [];
  cache.transitions.add((t) => events.push(t));
  return { clock, cache, events };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('HealthCache transition listeners', () => {
  it('fires only when healthy flips, with the health event payload', () => {
    const { clock, cache, events } = setup(['p'], 2);
    cache.recordFailure('p', 'ECONNREFUSED');
    expect(events).toEqual([]);
    cache.recordFailure('p', 'ECONNREFUSED');
    expect(events).toEqual([
      {
        provider: 'p',
        healthy: false,
        state: 'open',
        reason: 'ECONNREFUSED',
        consecutiveFailures: 2,
        unhealthyUntil: T0 + 1_000,
      },
    ]);
    clock.advance(500);
    cache.recordFailure('p', 'again');
    clock.advance(2_000);
    expect(cache.peek('p')).toBe('half-open');
    expect(cache.admit('p')).toBe('trial');
    cache.release('p');
    expect(events).toHaveLength(1);
    cache.recordSuccess('p');
    expect(events[1]).toEqual({ provider: 'p', healthy: true, state: 'closed', consecutiveFailures: 0 });
    cache.recordSuccess('p');
    expect(events).toHaveLength(2);
  });

  it('reports the half-open state when a zero cooldown opens the breaker', () => {
    const { cache, events } = setup(['p'], 1, 0);
    cache.recordFailure('p', 'HTTP 500');
    expect(events).toEqual([
      { provider: 'p', healthy: false, state: 'half-open', reason: 'HTTP 500', consecutiveFailures: 1 },
    ]);
  });

  it('calls listeners after the state update', () => {
    const { cache } = setup(['p'], 1);
    const seen: string[] = [];
    cache.transitions.add(() => seen.push(`${cache.peek('p')}:${cache.admit('p')}`));
    cache.recordFailure('p', 'x');
    expect(seen).toEqual(['open:unhealthy']);
  });

  it('contains a throwing listener, warns, and still tells the other listeners', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { cache, events } = setup(['p'], 1);
    cache.transitions.add(() => {
      throw new Error('listener bug');
    });
    const after: boolean[] = [];
    cache.transitions.add((t) => after.push(t.healthy));
    expect(() => cache.recordFailure('p', 'x')).not.toThrow();
    expect(cache.peek('p')).toBe('open');
    expect(events).toHaveLength(1);
    expect(after).toEqual([false]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('listener bug');
  });

  it('stops calling a listener once unsubscribed', () => {
    const { cache } = setup(['p'], 1);
    const seen: boolean[] = [];
    const off = cache.transitions.add((t) => seen.push(t.healthy));
    cache.recordFailure('p', 'x');
    off();
    cache.recordSuccess('p');
    expect(seen).toEqual([false]);
  });
});
