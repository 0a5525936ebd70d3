import type { Clock } from '../clock.js';

/**
 * Where cached responses live: the built-in memory LRU (`cache.store: 'memory'`), the store of
 * `createRedisHealthStore(...)` from `mana-llm/redis`, or your own. A store that fails or is unreachable
 * answers a miss; it must not make a call wait long.
 */
export interface CacheStore {
  /**
   * The stored value, or undefined on a miss (or when the store cannot answer now). `maxBytes` is the longest
   * value (in UTF-8 bytes) the call can use (its kind's reply cap, `limits.maxResponseBytes` or `limits.maxEmbeddingResponseBytes`):
   * a longer one is a miss anyway, so a shared store should not read it.
   */
  getResponse(key: string, maxBytes?: number): Promise<string | undefined> | string | undefined;
  /** Stores `value` for `ttlMs`; fire and forget (a failure is ignored). */
  setResponse(key: string, value: string, ttlMs: number): Promise<void> | void;
  /** Releases the store's connections; the client calls it from `close()`. */
  close?(): Promise<void>;
}

/**
 * A bounded LRU with per-entry expiry on `clock`: least recently used entries go while there are more than
 * `maxEntries` or their values hold more than `maxBytes` characters; a value longer than that is not kept.
 */
export function createMemoryCacheStore(opts: {
  maxEntries: number;
  maxBytes: number;
  clock: Clock;
}): CacheStore {
  const { maxEntries, maxBytes, clock } = opts;
  // A Map iterates in insertion order: re-inserting on every hit keeps the oldest-used entry first.
  const entries = new Map<string, { readonly value: string; readonly expiresAt: number }>();
  let bytes = 0;
  const drop = (key: string) => {
    bytes -= entries.get(key)?.value.length ?? 0;
    entries.delete(key);
  };
  return {
    getResponse(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.expiresAt <= clock.now()) return void drop(key);
      entries.delete(key);
      entries.set(key, e);
      return e.value;
    },
    setResponse(key, value, ttlMs) {
      drop(key);
      if (value.length > maxBytes) return;
      entries.set(key, { value, expiresAt: clock.now() + ttlMs });
      bytes += value.length;
      while (entries.size > maxEntries || bytes > maxBytes) drop(entries.keys().next().value as string);
    },
  };
}
