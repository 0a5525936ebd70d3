import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';

function setup() {
  const clock = createFakeClock();
  const cache = new HealthCache(['a', 'b'], { failureThreshold: 2, cooldownMs: 1_000 }, clock);
  const told: string[] = [];
  const watcher = (name: string) => ({ breakerOpened: (p: string) => void told.push(`${name}:${p}`) });
  return { clock, cache, told, watcher };
}

describe('HealthCache.opened: who waits on a provider hears when its breaker opens', () => {
  it('tells the watchers of that provider once, when closed turns open', () => {
    const { cache, told, watcher } = setup();
    cache.opened.watch('a', watcher('w1'));
    cache.opened.watch('a', watcher('w2'));
    cache.opened.watch('b', watcher('w3'));
    cache.recordFailure('a', 'HTTP 500');
    expect(told).toEqual([]);
    cache.recordFailure('a', 'HTTP 500');
    expect(told).toEqual(['w1:a', 'w2:a']);
    expect(cache.opened.count('a')).toBe(0);
    expect(cache.opened.count('b')).toBe(1);
  });

  it('half-open turning open (a failed probe during the trial) tells them; re-arming an open breaker does not', () => {
    const { clock, cache, told, watcher } = setup();
    cache.recordFailure('a', 'x');
    cache.recordFailure('a', 'x');
    cache.opened.watch('a', watcher('late'));
    cache.recordFailure('a', 'x');
    expect(told).toEqual([]);
    clock.advance(1_000);
    expect(cache.admit('a')).toBe('trial');
    cache.recordProbe('a', { ok: false, error: 'probe-timeout' });
    expect(told).toEqual(['late:a']);
  });

  it('an unwatched attempt hears nothing; a throwing watcher does not stop the others', () => {
    const { cache, told, watcher } = setup();
    const gone = watcher('gone');
    cache.opened.watch('a', gone);
    cache.opened.unwatch('a', gone);
    cache.opened.watch('a', {
      breakerOpened: () => {
        throw new Error('boom');
      },
    });
    cache.opened.watch('a', watcher('kept'));
    cache.recordFailure('a', 'x');
    cache.recordFailure('a', 'x');
    expect(told).toEqual(['kept:a']);
  });
});
