import type { RedisConnection } from './connection.js';
import { ACQUIRE_LEASE } from './scripts.js';

/**
 * Whether this process runs this interval's probe of a provider: the first to take the lease (`key`, held by
 * `holder` for `ttlMs`) does. Without Redis every process probes for itself: a degraded store must not stop
 * health checks.
 */
export async function acquireProbeLease(
  conn: RedisConnection,
  key: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  if (!conn.ready() || !conn.connected()) return true;
  const ttl = String(Math.max(1, Math.round(ttlMs)));
  try {
    return Number(await conn.timed(conn.client.eval(ACQUIRE_LEASE, 1, key, holder, ttl))) === 1;
  } catch (err) {
    conn.noteError(err);
    return true;
  }
}
