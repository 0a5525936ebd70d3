import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/index.js';
import { createRedisHealthStore } from '../../src/redis/index.js';

describe('createRedisHealthStore url', () => {
  it.each([
    ['is not a URL (ioredis: a TypeError carrying it whole)', 'redis://user:hunter2secret@[oops'],
    [
      'has a malformed %-escape in its password (ioredis: a URIError)',
      'redis://alice:hunter2%zzsecret@127.0.0.1:1',
    ],
  ])('a redis:// url that %s is a ConfigError naming url, without the password', (_what, url) => {
    let err: unknown;
    try {
      createRedisHealthStore({ url });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      { path: 'url', message: 'must be a redis:// or rediss:// URL' },
    ]);
    expect(JSON.stringify(err)).not.toContain('hunter2');
    expect(String(err)).not.toContain('hunter2');
  });

  it('a url whose user has a malformed %-escape is a ConfigError naming url, not a URIError from ioredis', () => {
    let err: unknown;
    try {
      createRedisHealthStore({ url: 'redis://ali%zzce:hunter2secret@127.0.0.1:1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      { path: 'url', message: 'must be a redis:// or rediss:// URL' },
    ]);
    expect(JSON.stringify(err)).not.toContain('hunter2');
  });
});
