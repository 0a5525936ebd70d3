import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/index.js';
import { createRedisHealthStore } from '../../src/redis/index.js';
import { haveRedis, type RedisServer, startRedis } from './redis-server.js';

describe.skipIf(!haveRedis())('createRedisHealthStore timeoutMs', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('a timeoutMs past what one Node timer holds (24.8 days) still lets commands be answered', async () => {
    // A Node timer longer than it holds fires after 1 ms, with a TimeoutOverflowWarning.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const store = createRedisHealthStore({ url: redis.url, timeoutMs: 2 ** 31 });
    try {
      const end = Date.now() + 5_000;
      while (!store.status().connected && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(store.status()).toEqual({ kind: 'redis', connected: true });
      expect(await store.acquireProbe('p', 60_000)).toBe(true);
      expect(store.status()).toEqual({ kind: 'redis', connected: true });
      await store.close();
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
      await store.close();
    }
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '250'])(
    'timeoutMs %s is a ConfigError naming timeoutMs, not a store whose every command times out',
    (timeoutMs) => {
      let err: unknown;
      try {
        createRedisHealthStore({ url: redis.url, timeoutMs: timeoutMs as number });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toEqual([{ path: 'timeoutMs', message: expect.any(String) }]);
    },
  );

  it('an unknown key (keyprefix for keyPrefix) is a ConfigError naming it, not a store sharing the default prefix', async () => {
    let err: unknown;
    try {
      const store = createRedisHealthStore({ url: redis.url, keyprefix: 'tenant-a:' } as never);
      await store.close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      { path: 'keyprefix', message: 'unknown key "keyprefix": did you mean "keyPrefix"?' },
    ]);
  });
});
