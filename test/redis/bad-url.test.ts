import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/index.js';
import { createRedisHealthStore } from '../../src/redis/index.js';

describe('createRedisHealthStore url', () => {
  it('a redis:// url that is not a URL is a ConfigError naming url, not a TypeError carrying the password', () => {
    let err: unknown;
    try {
      createRedisHealthStore({ url: 'redis://user:hunter2secret@[oops' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      { path: 'url', message: 'must be a redis:// or rediss:// URL' },
    ]);
    expect(JSON.stringify(err)).not.toContain('hunter2secret');
    expect(String(err)).not.toContain('hunter2secret');
  });

  it('a url whose password has a malformed %-escape is a ConfigError naming url, not a URIError from ioredis', () => {
    let err: unknown;
    try {
      createRedisHealthStore({ url: 'redis://alice:hunter2%zzsecret@127.0.0.1:1' });
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
