import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';

function setup() {
  const clock = createFakeClock();
  const cache = new HealthCache(['a', 'b'], { failureThreshold: 2, cooldownMs: 1_000 }, clock);
  const told: string[] = [];
  cache.opened.add((p) => void told.push(p));
  return { clock, cache, told };
}

describe('HealthCache.opened: the router hears when a provider’s breaker opens', () => {
  it('is told once, when closed turns open, of that provider only', () => {
    const { cache, told } = setup();
    cache.recordFailure('a', 'HTTP 500');
    expect(told).toEqual([]);
    cache.recordFailure('a', 'HTTP 500');
    expect(told).toEqual(['a']);
    cache.recordFailure('a', 'HTTP 500');
    expect(told).toEqual(['a']);
  });

  it('half-open turning open (a failed probe during the trial) tells it; re-arming an open breaker does not', () => {
    const { clock, cache, told } = setup();
    cache.recordFailure('a', 'x');
    cache.recordFailure('a', 'x');
    cache.recordFailure('a', 'x');
    expect(told).toEqual(['a']);
    clock.advance(1_000);
    expect(cache.admit('a')).toBe('trial');
    cache.recordProbe('a', { ok: false, error: 'probe-timeout' });
    expect(told).toEqual(['a', 'a']);
  });

  it('tells no one once unset (the client closed)', () => {
    const { cache, told } = setup();
    cache.opened.clear();
    cache.recordFailure('b', 'x');
    cache.recordFailure('b', 'x');
    expect(told).toEqual([]);
  });
});
