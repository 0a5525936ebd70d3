/** Parts bench variant of `src/cache/cache-store.ts`: the memory store on `lru-cache` (its TTL on our clock). */
// A computed specifier: the root typecheck runs where bench/ is not installed (see clients.ts).
const { LRUCache } = (await import(['lru', 'cache'].join('-'))) as {
  LRUCache: new <K, V>(o: {
    max: number;
    perf: { now(): number };
  }) => { get(k: K): V | undefined; set(k: K, v: V, o: { ttl: number }): unknown };
};

import type { Clock } from '../../src/clock.js';

export interface CacheStore {
  getResponse(key: string): Promise<string | undefined> | string | undefined;
  setResponse(key: string, value: string, ttlMs: number): Promise<void> | void;
  close?(): Promise<void>;
}

export function createMemoryCacheStore(opts: { maxEntries: number; clock: Clock }): CacheStore {
  const { clock } = opts;
  const entries = new LRUCache<string, string>({ max: opts.maxEntries, perf: { now: () => clock.now() } });
  return {
    getResponse: (key) => entries.get(key),
    setResponse(key, value, ttlMs) {
      entries.set(key, value, { ttl: ttlMs });
    },
  };
}
