import { describe, expect, it } from 'vitest';
import { cleanText, redact } from './redact.js';

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

  it('replaces a configured secret echoed JSON-escaped or URL-encoded, in any hex case', () => {
    const secret = 'ab/cd+ef=1234';
    for (const echoed of [
      'ab\\/cd+ef=1234',
      '\\u0061b/cd\\u002Bef=1234',
      'ab%2fcd%2Bef%3D1234',
      '%61%62%2F%63%64%2b%65%66%3d%31%32%33%34',
    ])
      expect(redact(`said: ${echoed}.`, [secret])).toBe('said: [redacted].');
    // Only the secret's own characters: a near miss stays as it was.
    expect(redact('ab/cd+ef=1235', [secret])).toBe('ab/cd+ef=1235');
  });

  it('replaces a secret beyond Latin-1 (a redis URL password may be any text) echoed JSON-escaped or URL-encoded', () => {
    const secret = 'pass\u{1F600}wörd';
    for (const echoed of [secret, 'pass\\ud83d\\ude00w\\u00f6rd', encodeURIComponent(secret)])
      expect(redact(`said: ${echoed}.`, [secret])).toBe('said: [redacted].');
  });

  it('leaves prose after a key label readable', () => {
    expect(redact('providers.groq.apiKey: must be a string')).toBe('providers.groq.apiKey: must be a string');
  });
});

describe('cleanText', () => {
  it('cuts before redacting: the work is bounded by max, not by the text', () => {
    const huge = `start ${'word '.repeat(2_000_000)}`;
    const out = cleanText(huge, 300);
    expect(out.length).toBeLessThanOrEqual(301);
    expect(out.startsWith('start word word')).toBe(true);
    expect(out.endsWith('…')).toBe(true);
  });

  it('drops a token cut in two, so a key at the cut cannot escape redaction', () => {
    const secret = 'my-configured-secret-value-1234567890';
    // White space folds away, so what follows a long run of it reaches the message: the cut falls in the key.
    for (let pad = 1250; pad < 1310; pad += 3) {
      const text = `x${' '.repeat(pad)}${secret} tail`;
      const out = cleanText(text, 300, [secret]);
      for (let n = 6; n <= secret.length; n++) expect(out).not.toContain(secret.slice(0, n));
    }
  });

  it('replaces control characters (NUL, a whole escape sequence, CR, LF, C1, bidi overrides) and folds white space', () => {
    const out = cleanText('a\u0000b\u001b[31mc\r\nd\u0085e\u202ef\t\tg\u001b]0;title\u0007h', 300);
    expect(out).toBe('a b c d e f g h');
  });

  it('redacts configured secrets and key shapes, and leaves short text as it was', () => {
    expect(cleanText('bad key sk-proj-abcdefghijkl and top-secret-x', 300, ['top-secret-x'])).toBe(
      'bad key [redacted] and [redacted]',
    );
    expect(cleanText('  fine  ', 300)).toBe('fine');
  });
});
