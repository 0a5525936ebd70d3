import type { CacheStore } from '../cache/cache-store.js';
import type { RedisConnection } from './connection.js';

/** The response cache in Redis (`<keyPrefix>cache:<key>`, expiring by itself): a miss whenever Redis cannot answer now. */
export function redisCache(conn: RedisConnection, prefix: string): CacheStore {
  return {
    async getResponse(key) {
      if (!conn.ready()) return undefined;
      try {
        return (await conn.timed(conn.client.get(`${prefix}cache:${key}`))) ?? undefined;
      } catch (err) {
        conn.noteError(err);
        return undefined;
      }
    },
    setResponse(key, value, ttlMs) {
      if (!conn.ready()) return;
      const ms = Math.max(1, Math.round(ttlMs));
      conn
        .timed(conn.client.set(`${prefix}cache:${key}`, value, 'PX', ms))
        .catch((err) => conn.noteError(err));
    },
  };
}
