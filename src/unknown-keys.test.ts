import { describe, expect, it } from 'vitest';
import { didYouMean, unknownKeyMessage } from './unknown-keys.js';

describe('didYouMean', () => {
  it('suggests the one close key: a typo, a missing letter, a case slip', () => {
    expect(didYouMean('timeout', ['timeouts', 'health'])).toBe('timeouts');
    expect(didYouMean('descripton', ['description', 'chain'])).toBe('description');
    expect(didYouMean('apikey', ['apiKey', 'baseUrl'])).toBe('apiKey');
    expect(didYouMean('cahce', ['cache', 'description'])).toBe('cache');
    // A short key still gets one typo.
    expect(didYouMean('tl', ['tls', 'cache'])).toBe('tls');
  });

  it('suggests nothing when nothing is close or two keys are equally close', () => {
    expect(didYouMean('colour', ['failureThreshold', 'cooldownMs'])).toBeUndefined();
    expect(didYouMean('ab', ['ax', 'ay'])).toBeUndefined();
    expect(didYouMean('x', [])).toBeUndefined();
  });

  it('stays bounded on a long hostile key', () => {
    expect(didYouMean('a'.repeat(100_000), ['aliases'])).toBeUndefined();
  });
});

describe('unknownKeyMessage', () => {
  it('lists at most twelve known keys', () => {
    const known = Array.from({ length: 20 }, (_, i) => `key${i}zz`);
    expect(unknownKeyMessage('other', known)).toMatch(/\(known keys: key0zz, .*key11zz, …\)$/);
  });
});
