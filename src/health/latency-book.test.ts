import { describe, expect, it } from 'vitest';
import { LatencyBook } from './latency-book.js';

describe('LatencyBook', () => {
  it('starts a series at the first sample with half of it as deviation, then smooths (RFC 6298 weights)', () => {
    const book = new LatencyBook();
    expect(book.high('a/m', 'chat')).toBeUndefined();
    book.record('a/m', 'chat', 400);
    expect(book.view('a/m').chat).toEqual({ ms: 400, deviationMs: 200, samples: 1 });
    expect(book.high('a/m', 'chat')).toBe(400 + 3 * 200);
    book.record('a/m', 'chat', 200);
    // deviation 200 + (|400 - 200| - 200) / 4 = 200; mean 400 + (200 - 400) / 8 = 375
    expect(book.high('a/m', 'chat')).toBe(375 + 3 * 200);
    expect(book.view('a/m')).toEqual({
      chat: { ms: 375, deviationMs: 200, samples: 2 },
      stream: null,
      embed: null,
    });
  });

  it('keeps one series per kind of call', () => {
    const book = new LatencyBook();
    book.record('a/m', 'stream', 80);
    book.record('a/m', 'chat', 2_000);
    book.record('a/m', 'embed', 30);
    expect(book.view('a/m')).toEqual({
      chat: { ms: 2_000, deviationMs: 1_000, samples: 1 },
      stream: { ms: 80, deviationMs: 40, samples: 1 },
      embed: { ms: 30, deviationMs: 15, samples: 1 },
    });
  });

  it('converges on a steady latency and its deviation shrinks towards zero', () => {
    const book = new LatencyBook();
    book.record('a/m', 'chat', 1_000);
    for (let i = 0; i < 60; i++) book.record('a/m', 'chat', 100);
    expect(book.view('a/m').chat).toEqual({ ms: 100, deviationMs: expect.any(Number), samples: 61 });
    expect(book.high('a/m', 'chat')).toBeLessThan(105);
  });

  it('one outlier moves the tail more than the mean', () => {
    const book = new LatencyBook();
    for (let i = 0; i < 40; i++) book.record('a/m', 'chat', 100);
    book.record('a/m', 'chat', 900);
    const { ms, deviationMs } = book.view('a/m').chat ?? { ms: 0, deviationMs: 0 };
    expect(ms).toBe(200);
    expect(deviationMs).toBe(200);
  });

  it('ignores samples that are not numbers and counts a negative one (a clock step back) as zero', () => {
    const book = new LatencyBook();
    book.record('a/m', 'chat', Number.NaN);
    book.record('a/m', 'chat', Number.POSITIVE_INFINITY);
    expect([...book.targets()]).toEqual([]);
    book.record('a/m', 'chat', -50);
    expect(book.view('a/m').chat).toEqual({ ms: 0, deviationMs: 0, samples: 1 });
    expect(book.high('a/m', 'chat')).toBe(0);
  });

  it('is bounded: at most 1000 targets (the least recently measured dropped), none longer than 256 characters', () => {
    const book = new LatencyBook();
    book.record('keep/me', 'chat', 10);
    for (let i = 0; i < 5_000; i++) {
      book.record(`hostile/${i}`, 'chat', 1);
      // A target measured all along stays in.
      if (i % 100 === 0) book.record('keep/me', 'chat', 10);
    }
    expect([...book.targets()].length).toBe(1_000);
    expect(book.view('keep/me').chat?.samples).toBe(51);
    expect(book.high('hostile/0', 'chat')).toBeUndefined();
    expect(book.high('hostile/4999', 'chat')).toBeDefined();
    book.record(`p/${'x'.repeat(1_000_000)}`, 'chat', 1);
    expect([...book.targets()].every((t) => t.length <= 256)).toBe(true);
    book.clear();
    expect([...book.targets()]).toEqual([]);
  });
});
