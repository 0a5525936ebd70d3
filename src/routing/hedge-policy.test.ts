import { describe, expect, it } from 'vitest';
import { LatencyBook } from '../health/latency-book.js';
import { HedgePolicy } from './hedge-policy.js';

const opts = { budgetRatio: 0.1, budgetMax: 10, autoMinMs: 100 };

describe('hedge budget', () => {
  it('starts full and lets a burst of budgetMax hedges through, then none', () => {
    const p = new HedgePolicy(opts, new LatencyBook());
    let hedges = 0;
    for (let i = 0; i < 10; i++) {
      p.deposit();
      if (p.take()) hedges++;
    }
    expect(hedges).toBe(10);
    // The first deposit found the bucket full: 0.9 tokens are left, and one more deposit makes a whole one.
    expect(p.take()).toBe(false);
    p.deposit();
    expect(p.take()).toBe(true);
  });

  it('ten deposits of 0.1 make exactly one token (no float drift)', () => {
    const p = new HedgePolicy({ ...opts, budgetMax: 1 }, new LatencyBook());
    expect(p.take()).toBe(true);
    for (let i = 0; i < 9; i++) p.deposit();
    expect(p.take()).toBe(false);
    p.deposit();
    expect(p.take()).toBe(true);
  });

  it('allows one hedge per 1/budgetRatio calls when every call would hedge (an outage)', () => {
    const p = new HedgePolicy(opts, new LatencyBook());
    let hedges = 0;
    for (let i = 0; i < 1000; i++) {
      p.deposit();
      if (p.take()) hedges++;
    }
    // The burst, then 10 % of the calls: the load rises by at most ~10 %, never doubles.
    expect(hedges).toBe(10 + 99);
  });

  it('never holds more than budgetMax, and a refund gives the token back', () => {
    const p = new HedgePolicy({ ...opts, budgetMax: 2 }, new LatencyBook());
    for (let i = 0; i < 100; i++) p.deposit();
    expect(p.take()).toBe(true);
    expect(p.take()).toBe(true);
    expect(p.take()).toBe(false);
    p.refund();
    expect(p.take()).toBe(true);
  });

  it('a refund after deposits refilled the bucket still holds no more than budgetMax', () => {
    const p = new HedgePolicy({ ...opts, budgetMax: 2, budgetRatio: 1 }, new LatencyBook());
    expect(p.take()).toBe(true);
    // Another call deposits while the hedge's entry gets its images; then that hedge starts nothing.
    p.deposit();
    p.refund();
    expect(p.take()).toBe(true);
    expect(p.take()).toBe(true);
    expect(p.take()).toBe(false);
  });

  it('budgetRatio 0 allows the initial burst only', () => {
    const p = new HedgePolicy({ ...opts, budgetRatio: 0, budgetMax: 1 }, new LatencyBook());
    expect(p.take()).toBe(true);
    for (let i = 0; i < 100; i++) p.deposit();
    expect(p.take()).toBe(false);
  });
});

describe('hedge delay', () => {
  it('uses a fixed afterMs as is; 0 means no hedge', () => {
    const p = new HedgePolicy(opts, new LatencyBook());
    expect(p.delay(300, 'a/m', 'chat')).toBe(300);
    expect(p.delay(0, 'a/m', 'chat')).toBeUndefined();
  });

  it("'auto' is the target's high latency estimate for the kind of call, never below autoMinMs", () => {
    const seen: string[] = [];
    const high = (target: string, kind: string) => {
      seen.push(`${target} ${kind}`);
      return target === 'fast/m' ? 20 : target === 'slow/m' ? 2400.2 : undefined;
    };
    const p = new HedgePolicy(opts, { high });
    expect(p.delay('auto', 'slow/m', 'stream')).toBe(2401);
    expect(p.delay('auto', 'fast/m', 'chat')).toBe(100);
    expect(seen).toEqual(['slow/m stream', 'fast/m chat']);
  });

  it("'auto' without a sample does not hedge", () => {
    const book = new LatencyBook();
    book.record('a/m', 'chat', 500);
    expect(new HedgePolicy(opts, book).delay('auto', 'a/m', 'embed')).toBeUndefined();
    expect(new HedgePolicy(opts, book).delay('auto', 'a/m', 'chat')).toBe(500 + 3 * 250);
  });
});
