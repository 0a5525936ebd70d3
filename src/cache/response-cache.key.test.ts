import { describe, expect, it } from 'vitest';
import { cacheKey, stableJson } from './response-cache.js';

describe('stableJson', () => {
  it('sorts keys at every depth and leaves arrays in order', () => {
    expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
    expect(stableJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('keeps a "__proto__" key as an ordinary key', () => {
    const input = JSON.parse('{"__proto__": {"x": 1}, "a": 2}');
    expect(stableJson(input)).toBe('{"__proto__":{"x":1},"a":2}');
  });
});

describe('cacheKey', () => {
  const messages = [{ role: 'user', content: 'Hi' }];

  it('is the same whatever order the fields came in, and ignores `model`', () => {
    const k1 = cacheKey('chat', 'mana/x', { model: 'mana/x', messages, temperature: 0 });
    const k2 = cacheKey('chat', 'mana/x', { temperature: 0, messages, model: 'other' });
    expect(k1).toBe(k2);
    expect(k1).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same whatever order the fields of a message (an object inside a list) came in', () => {
    const k1 = cacheKey('chat', 'mana/x', { messages: [{ role: 'user', content: 'Hi' }] });
    const k2 = cacheKey('chat', 'mana/x', { messages: [{ content: 'Hi', role: 'user' }] });
    expect(k1).toBe(k2);
  });

  it('differs by resolved alias or model, kind and request content', () => {
    const base = cacheKey('chat', 'mana/x', { messages });
    expect(cacheKey('chat', 'mana/y', { messages })).not.toBe(base);
    expect(cacheKey('chat', 'mana/x', { messages, temperature: 1 })).not.toBe(base);
    expect(cacheKey('embed', 'mana/x', { messages })).not.toBe(base);
  });

  it('treats one embedding input and a list of it alike', () => {
    expect(cacheKey('embed', 'p/m', { input: 'a' })).toBe(cacheKey('embed', 'p/m', { input: ['a'] }));
  });
});
