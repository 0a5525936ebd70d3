import { describe, expect, it } from 'vitest';
import { redact } from './redact.js';

describe('redact', () => {
  it('strips bearer tokens, key headers, key= query values and well-known key shapes', () => {
    const text =
      'Authorization: Bearer tok_9f8e7d6c x-api-key: sk-ant-abc123456789 x-goog-api-key=AIzaSyA1234567890abcdefghij ?key=abc123&x=1 gsk_ABCDEF12345678';
    const out = redact(text);
    for (const secret of [
      'tok_9f8e7d6c',
      'sk-ant-abc123456789',
      'AIzaSyA1234567890abcdefghij',
      'abc123',
      'gsk_ABCDEF12345678',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('?key=[redacted]&x=1');
  });

  it('replaces configured secrets wherever they appear', () => {
    expect(redact('upstream said: invalid key my-own-secret', ['my-own-secret'])).toBe(
      'upstream said: invalid key [redacted]',
    );
  });

  it('leaves prose after a key label readable', () => {
    expect(redact('providers.groq.apiKey: must be a string')).toBe('providers.groq.apiKey: must be a string');
  });
});
