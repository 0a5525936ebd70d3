import { randomUUID } from 'node:crypto';
import type { CacheStore } from '../cache/cache-store.js';
import { ConfigError } from '../errors.js';
import type { HealthStore, HealthStoreStatus, HealthStoreUpdate } from '../health/health-store.js';
import { Listeners } from '../health/listeners.js';
import { REDIS_DEFAULTS } from '../options.js';
import { refuseUnknownKeys } from '../unknown-keys.js';
import { connectUrl, type RedisClientLike, RedisConnection } from './connection.js';
import { Replication } from './replication.js';
import { ACQUIRE_LEASE, GET_CAPPED } from './scripts.js';

/** Options of `createRedisHealthStore`: exactly one of `client` and `url`. */
export interface RedisHealthStoreOptions {
  /** An ioredis client (Redis, Cluster, sentinel) used as is; closing the store leaves it open. */
  client?: RedisClientLike;
  /** `redis://…` / `rediss://…`: the store creates (and closes) its own ioredis client. */
  url?: string;
  /** Prefix of every key the store writes (default `mana-llm:`). */
  keyPrefix?: string;
  /** Pub/sub channel for state changes (default `<keyPrefix>health`). */
  channel?: string;
  /**
   * Longest wait on any Redis command (default 250 ms). A command that gets no answer in time marks the store
   * not connected: from then on nothing waits on Redis until it answers again (checked every second).
   */
  timeoutMs?: number;
}

/** A health store (and response cache store) shared through Redis; decisions stay local and synchronous. */
export interface RedisHealthStore extends HealthStore, CacheStore {
  status(): HealthStoreStatus;
  subscribe(listener: (update: HealthStoreUpdate) => void): () => void;
  acquireProbe(provider: string, ttlMs: number): Promise<boolean>;
  /** Stops replicating and closes the store's own connections (not a client you passed in). */
  close(): Promise<void>;
}

const OPTION_KEYS = ['client', 'url', 'keyPrefix', 'channel', 'timeoutMs'];

/**
 * A health store shared by every process that points at the same Redis (`createManaLLM({ health: { store } })`),
 * usable as the response cache store too (`cache: { store }`). Each process keeps deciding from an in-memory
 * mirror; breaker transitions and cool-downs are written to Redis in the background, published, and merged on
 * receipt (an open-until only moves later, a close applies only if newer than the open it closes, cool-downs
 * keep the later deadline). Probes are coordinated with a lease per provider. Redis being down or slow never
 * fails or delays a call: the store reconnects and resyncs, and reports its state as `health().store` and the
 * `store` event. Closing the client closes the store.
 * @throws ConfigError on an unknown option, without exactly one of `client` / `url`, on a `url` that is not a
 *   redis:// URL, or with `url` when ioredis is not installed
 */
export function createRedisHealthStore(options: RedisHealthStoreOptions): RedisHealthStore {
  // `keyprefix` for `keyPrefix` would share the default prefix (health and cached answers) with other apps.
  refuseUnknownKeys('invalid createRedisHealthStore options', options, OPTION_KEYS);
  const given = options.client !== undefined;
  if (given === (options.url !== undefined)) {
    throw new ConfigError('createRedisHealthStore needs exactly one of client or url', [
      { path: 'client', message: 'give exactly one of client or url' },
    ]);
  }
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) {
    throw new ConfigError('createRedisHealthStore: url must start with redis:// or rediss://', [
      { path: 'url', message: 'must be a redis:// or rediss:// URL' },
    ]);
  }
  const secrets = options.url === undefined ? [] : urlSecrets(options.url);
  const timeoutMs = options.timeoutMs ?? REDIS_DEFAULTS.timeoutMs;
  // 0, NaN or Infinity would time every command out at once (a Node timer fires after 1 ms instead).
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new ConfigError('createRedisHealthStore: timeoutMs must be a finite number of ms above 0', [
      { path: 'timeoutMs', message: 'must be a finite number above 0' },
    ]);
  }
  const prefix = options.keyPrefix ?? REDIS_DEFAULTS.keyPrefix;
  const channel = options.channel ?? `${prefix}health`;
  const id = randomUUID();

  const { client, sub } = options.client
    ? { client: options.client, sub: options.client.duplicate() }
    : connectUrl(options.url as string, timeoutMs);
  const listeners = new Listeners<HealthStoreUpdate>('health store');
  const conn = new RedisConnection(client, sub, {
    timeoutMs,
    aliveKey: `${prefix}alive`,
    secrets,
    onStatus: (status) => listeners.emit({ type: 'status', ...status }),
    onReady: () => void replication.resync(),
  });
  const replication = new Replication(conn, {
    id,
    prefix,
    channel,
    onProvider: (provider, before) => listeners.emit({ type: 'provider', provider, before }),
  });
  conn.start(channel);
  let closing: Promise<void> | undefined;

  return {
    getProvider: (provider) => replication.providers.get(provider),
    setProvider: (provider, record) => replication.setProvider(provider, record),
    getTargetCooldown: (target) => replication.targets.get(target),
    setTargetCooldown: (target, untilMs) => replication.setCooldown(target, untilMs),
    listTargetCooldowns: () => [...replication.targets].map(([target, until]) => ({ target, until })),
    status: () => conn.status(),
    bind: (bounds) => replication.bind(bounds),
    subscribe: (listener) => listeners.add(listener),
    // The first process to take a provider's lease runs this interval's probe of it. Without Redis every process
    // probes for itself: a degraded store must not stop health checks.
    async acquireProbe(provider, ttlMs) {
      if (!conn.connected()) return true;
      const won = await conn.attempt(
        (c) => c.eval(ACQUIRE_LEASE, 1, `${prefix}probe:${provider}`, id, String(px(ttlMs))),
        1,
      );
      return Number(won) === 1;
    },
    // The response cache (`<keyPrefix>cache:<key>`, expiring by itself): a miss whenever Redis cannot answer now,
    // and for a value over `maxBytes` (anyone who can write to Redis could plant 512 MB), which is not even sent.
    async getResponse(key, maxBytes = Number.MAX_SAFE_INTEGER) {
      const value = await conn.attempt(
        (c) => c.eval(GET_CAPPED, 1, `${prefix}cache:${key}`, String(maxBytes)),
        null,
      );
      return typeof value === 'string' ? value : undefined;
    },
    setResponse(key, value, ttlMs) {
      void conn.attempt((c) => c.set(`${prefix}cache:${key}`, value, 'PX', px(ttlMs)), undefined);
    },
    close() {
      closing ??= (() => {
        replication.close();
        listeners.clear();
        return conn.close(!given);
      })();
      return closing;
    },
  };
}

/** A time to live as Redis takes it: whole milliseconds, at least 1, and an integer it can read (not `1e+21`). */
function px(ttlMs: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.round(ttlMs)));
}

function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [decodeURIComponent(u.password), decodeURIComponent(u.username)].filter((s) => s.length >= 4);
  } catch {
    // ioredis would throw a TypeError holding the whole URL (password too) as its `input`, or a URIError for a
    // malformed %-escape in the user or password.
    throw new ConfigError('createRedisHealthStore: url is not a valid URL', [
      { path: 'url', message: 'must be a redis:// or rediss:// URL' },
    ]);
  }
}
