import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../health/fake-clock.js';
import { createMemoryCacheStore } from './cache-store.js';

describe('createMemoryCacheStore', () => {
  it('returns what was stored until its TTL runs out on the injected clock', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 10, maxBytes: 1_000, clock });
    store.setResponse('k', 'v', 1_000);
    expect(store.getResponse('k')).toBe('v');
    clock.advance(999);
    expect(store.getResponse('k')).toBe('v');
    clock.advance(1);
    expect(store.getResponse('k')).toBeUndefined();
    expect(store.getResponse('never')).toBeUndefined();
  });

  it('keeps a value of exactly maxBytes characters; a longer one is not kept and evicts nothing', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 10, maxBytes: 3, clock });
    store.setResponse('a', 'abc', 1_000);
    expect(store.getResponse('a')).toBe('abc');
    store.setResponse('b', 'abcd', 1_000);
    expect(store.getResponse('b')).toBeUndefined();
    expect(store.getResponse('a')).toBe('abc');
  });

  it('evicts the least recently used entry when full', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 2, maxBytes: 1_000, clock });
    store.setResponse('a', '1', 1_000);
    store.setResponse('b', '2', 1_000);
    expect(store.getResponse('a')).toBe('1'); // a is now the most recently used
    store.setResponse('c', '3', 1_000);
    expect(store.getResponse('b')).toBeUndefined();
    expect(store.getResponse('a')).toBe('1');
    expect(store.getResponse('c')).toBe('3');
  });

  it('overwrites an entry with a fresh TTL', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 2, maxBytes: 1_000, clock });
    store.setResponse('a', '1', 100);
    clock.advance(90);
    store.setResponse('a', '2', 100);
    clock.advance(50);
    expect(store.getResponse('a')).toBe('2');
  });

  it('counts the characters it holds: an expired or replaced entry gives its share back', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 10, maxBytes: 10, clock });
    store.setResponse('a', 'aaaaaa', 1);
    clock.advance(1);
    expect(store.getResponse('a')).toBeUndefined();
    store.setResponse('b', 'bbbbbb', 1_000);
    store.setResponse('b', 'bbbbbb', 1_000);
    store.setResponse('c', 'cccc', 1_000);
    expect(store.getResponse('b')).toBe('bbbbbb');
    expect(store.getResponse('c')).toBe('cccc');
    store.setResponse('d', 'd', 1_000); // 11 characters: b, the least recently used, goes
    expect(store.getResponse('b')).toBeUndefined();
    expect(store.getResponse('c')).toBe('cccc');
  });
  it('drops an expired entry when a read finds it, so it no longer takes a slot from a live one', () => {
    const clock = createFakeClock(0);
    const store = createMemoryCacheStore({ maxEntries: 2, maxBytes: 1_000, clock });
    store.setResponse('a', '1', 1_000);
    store.setResponse('b', '2', 10);
    clock.advance(10);
    expect(store.getResponse('b')).toBeUndefined();
    store.setResponse('c', '3', 1_000); // two live entries fit: a stays
    expect(store.getResponse('a')).toBe('1');
    expect(store.getResponse('c')).toBe('3');
  });
});
