import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';

describe('createFakeClock', () => {
  it('starts at a fixed epoch time, or the one given', () => {
    expect(createFakeClock().now()).toBe(1_700_000_000_000);
    expect(createFakeClock(5).now()).toBe(5);
  });

  it('fires due timers in time order, each at its own deadline, and leaves later ones pending', () => {
    const clock = createFakeClock(0);
    const seen: [string, number][] = [];
    clock.setTimer(30, () => seen.push(['c', clock.now()]));
    clock.setTimer(10, () => seen.push(['a', clock.now()]));
    clock.setTimer(20, () => seen.push(['b', clock.now()]));
    clock.setTimer(100, () => seen.push(['late', clock.now()]));
    clock.advance(50);
    expect(seen).toEqual([
      ['a', 10],
      ['b', 20],
      ['c', 30],
    ]);
    expect(clock.now()).toBe(50);
    expect(clock.pending()).toBe(1);
  });

  it('fires timers with equal deadlines in the order they were scheduled', () => {
    const clock = createFakeClock(0);
    const seen: number[] = [];
    for (const n of [1, 2, 3]) clock.setTimer(10, () => seen.push(n));
    clock.advance(10);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('fires timers scheduled by fired timers when they fall due in the same advance', () => {
    const clock = createFakeClock(0);
    const seen: number[] = [];
    clock.setTimer(10, () => {
      seen.push(clock.now());
      clock.setTimer(10, () => seen.push(clock.now()));
      clock.setTimer(0, () => seen.push(clock.now()));
    });
    clock.advance(25);
    expect(seen).toEqual([10, 10, 20]);
  });

  it('does not fire a cancelled timer and counts only pending ones', () => {
    const clock = createFakeClock(0);
    let fired = false;
    const cancel = clock.setTimer(10, () => {
      fired = true;
    });
    expect(clock.pending()).toBe(1);
    cancel();
    cancel();
    expect(clock.pending()).toBe(0);
    clock.advance(20);
    expect(fired).toBe(false);
  });

  it('treats a negative delay as zero', () => {
    const clock = createFakeClock(0);
    let at = -1;
    clock.setTimer(-5, () => {
      at = clock.now();
    });
    clock.advance(0);
    expect(at).toBe(0);
  });

  it('refuses a non-finite advance (NaN would stop time for good; Infinity never returns with probes running)', async () => {
    const clock = createFakeClock(0);
    let fired = 0;
    const tick = (): void => {
      fired++;
      clock.setTimer(10, tick);
    };
    clock.setTimer(10, tick);
    for (const ms of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => clock.advance(ms)).toThrow(RangeError);
      await expect(clock.advanceAsync(ms)).rejects.toThrow(RangeError);
    }
    // Nothing moved; the clock still works. A negative finite advance stays a no-op.
    expect([clock.now(), fired]).toEqual([0, 0]);
    clock.advance(-5);
    clock.advance(25);
    expect([clock.now(), fired]).toEqual([25, 2]);
  });

  it('advanceAsync lets async callbacks settle so timers they schedule still fire in order', async () => {
    const clock = createFakeClock(0);
    const seen: number[] = [];
    clock.setTimer(10, () => {
      void (async () => {
        await Promise.resolve();
        await new Promise((r) => setImmediate(r));
        clock.setTimer(5, () => seen.push(clock.now()));
      })();
    });
    clock.setTimer(30, () => seen.push(clock.now()));
    await clock.advanceAsync(40);
    expect(seen).toEqual([15, 30]);
    expect(clock.now()).toBe(40);
  });
});
