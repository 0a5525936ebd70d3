import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';
import {
  createStore,
  type RedisClientLike,
  type RedisHealthStore,
  type RedisHealthStoreOptions,
} from './redis-health-store.js';

export type { RedisClientLike, RedisHealthStore, RedisHealthStoreOptions };

type IORedis = new (url: string, options: Record<string, unknown>) => RedisClientLike;

function connect(url: string, commandTimeoutMs: number): RedisClientLike {
  let mod: { default?: IORedis } & IORedis;
  try {
    mod = createRequire(import.meta.url)('ioredis');
  } catch (err) {
    throw new ConfigError(
      'mana-llm/redis with `url` needs the optional peer dependency ioredis: npm install ioredis (or pass `client`)',
      [],
      { cause: err },
    );
  }
  const Redis = mod.default ?? mod;
  // A command issued while reconnecting is retried once, not twenty times: the store resyncs anyway. A command
  // Redis never answers is dropped after the store's timeout, so a frozen Redis cannot pile up a queue.
  return new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: Math.max(commandTimeoutMs, 1_000) });
}

/**
 * A health store shared by every process that points at the same Redis (`createManaLLM({ health: { store } })`),
 * usable as the response cache store too (`cache: { store }`). Each process keeps deciding from an in-memory
 * mirror; breaker transitions and cool-downs are written to Redis in the background, published, and merged on
 * receipt (an open-until only moves later, a close applies only if newer than the open it closes, cool-downs
 * keep the later deadline). Probes are coordinated with a lease per provider. Redis being down or slow never
 * fails or delays a call: the store reconnects and resyncs, and reports its state as `health().store` and the
 * `store` event. Closing the client closes the store.
 * @throws ConfigError without exactly one of `client` / `url`, or with `url` when ioredis is not installed
 */
export function createRedisHealthStore(options: RedisHealthStoreOptions): RedisHealthStore {
  return createStore(options, connect);
}
