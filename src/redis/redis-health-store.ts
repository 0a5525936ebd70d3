import { randomUUID } from 'node:crypto';
import type { CacheStore } from '../cache/cache-store.js';
import { type Clock, systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { BreakerRecord } from '../health/breaker.js';
import { mergeBreaker, mergeCooldown } from '../health/breaker-merge.js';
import type { HealthStore, HealthStoreStatus, HealthStoreUpdate } from '../health/health-store.js';
import { redact } from '../redact.js';
import { ACQUIRE_LEASE, SET_COOLDOWN, SET_PROVIDER } from './scripts.js';

/**
 * The parts of an ioredis client (`Redis` or `Cluster`) the store uses. Your own client is used as is, so
 * cluster and sentinel set-ups work; the store adds one `duplicate()` of it for pub/sub.
 */
export interface RedisClientLike {
  readonly status: string;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  duplicate(): RedisClientLike;
  connect(): Promise<void>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

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
  /** Longest wait on Redis where something waits at all: cache reads and probe leases (default 250 ms). */
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

/** The replicated part of a breaker record: a trial in flight is this process's own business. */
interface WireRecord {
  consecutiveFailures: number;
  openedUntil: number | null;
  lastError: string | null;
  lastCheckedAt: number | null;
}

type Load = (url: string) => RedisClientLike;

const noop = (): void => {};

function toWire(r: BreakerRecord): WireRecord {
  return {
    consecutiveFailures: r.consecutiveFailures,
    openedUntil: r.openedUntil,
    lastError: r.lastError,
    lastCheckedAt: r.lastCheckedAt,
  };
}

/**
 * What other processes must hear about: the breaker's state, not when it was last confirmed. A success on a healthy
 * provider changes only `lastCheckedAt`; writing and publishing that on every call would cost a Redis round trip
 * and a message to every process per call.
 */
function stateKey(r: BreakerRecord): string {
  return `${r.consecutiveFailures}|${r.openedUntil}|${r.lastError}`;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Reads a record another process wrote; anything malformed is ignored. */
export function parseWireRecord(x: unknown): BreakerRecord | undefined {
  if (x === null || typeof x !== 'object') return undefined;
  const r = x as Record<string, unknown>;
  if (!isNum(r.consecutiveFailures)) return undefined;
  if (r.openedUntil !== null && !isNum(r.openedUntil)) return undefined;
  if (r.lastCheckedAt !== null && !isNum(r.lastCheckedAt)) return undefined;
  if (r.lastError !== null && typeof r.lastError !== 'string') return undefined;
  return {
    consecutiveFailures: r.consecutiveFailures,
    openedUntil: r.openedUntil as number | null,
    trialInFlight: false,
    lastError: r.lastError as string | null,
    lastCheckedAt: r.lastCheckedAt as number | null,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * The store behind `createRedisHealthStore` (with the ioredis loader, and the clock that tells which cool-downs
 * are over, injected).
 * @internal
 */
export function createStore(
  options: RedisHealthStoreOptions,
  load: Load,
  clock: Clock = systemClock,
): RedisHealthStore {
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
  const prefix = options.keyPrefix ?? 'mana-llm:';
  const channel = options.channel ?? `${prefix}health`;
  const timeoutMs = options.timeoutMs ?? 250;
  const providersKey = `${prefix}providers`;
  const targetsKey = `${prefix}targets`;
  const secrets = options.url ? urlSecrets(options.url) : [];
  const id = randomUUID();

  const client = options.client ?? load(options.url as string);
  const sub = client.duplicate();
  const providers = new Map<string, BreakerRecord>();
  const targets = new Map<string, number>();
  // The state last written or received per provider (see stateKey): writes that change no state are skipped.
  const sent = new Map<string, string>();
  const listeners = new Set<(u: HealthStoreUpdate) => void>();

  let connected: boolean | undefined;
  let synced = false;
  let lastError: string | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let syncing = false;
  let again = false;
  let cancelRetry = noop;

  const ready = (): boolean => !closed && client.status === 'ready';

  const emit = (u: HealthStoreUpdate): void => {
    for (const listener of [...listeners]) {
      try {
        listener(u);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        process.emitWarning(`mana-llm: a health store listener threw: ${msg}`, { code: 'MANA_LLM_LISTENER' });
      }
    }
  };

  const status = (): HealthStoreStatus =>
    connected !== true && lastError !== undefined
      ? { kind: 'redis', connected: false, error: lastError }
      : { kind: 'redis', connected: connected === true };

  const update = (): void => {
    if (closed) return;
    const now = ready() && sub.status === 'ready' && synced;
    // Only flips are reported; while starting up, "not connected yet" is news only with an error.
    if (now === connected || (!now && connected === undefined && lastError === undefined)) return;
    connected = now;
    if (now) lastError = undefined;
    emit({ type: 'status', ...status() });
  };

  const noteError = (err: unknown): void => {
    const msg = err instanceof Error ? err.message : String(err);
    lastError = redact(msg, secrets).slice(0, 200);
  };

  const applyProvider = (provider: string, incoming: BreakerRecord): void => {
    const before = providers.get(provider);
    const after = mergeBreaker(before, incoming);
    if (after === before) return;
    providers.set(provider, after);
    sent.set(provider, stateKey(after));
    emit({ type: 'provider', provider, before });
  };

  const applyCooldown = (target: string, until: number): void => {
    targets.set(target, mergeCooldown(targets.get(target), until));
  };

  const writeProvider = (provider: string, wire: string): Promise<unknown> =>
    client.eval(
      SET_PROVIDER,
      1,
      providersKey,
      provider,
      wire,
      channel,
      `{"s":${JSON.stringify(id)},"p":${JSON.stringify(provider)},"r":${wire}}`,
    );

  const writeCooldown = (target: string, until: number): Promise<unknown> =>
    client.eval(
      SET_COOLDOWN,
      1,
      targetsKey,
      target,
      String(until),
      channel,
      JSON.stringify({ s: id, t: target, u: until }),
      String(clock.now()),
    );

  const onMessage = (ch: string, text: string): void => {
    if (ch !== channel || closed) return;
    let m: { s?: unknown; p?: unknown; r?: unknown; t?: unknown; u?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (m === null || typeof m !== 'object' || m.s === id) return;
    if (typeof m.p === 'string') {
      const r = parseWireRecord(m.r);
      if (r) applyProvider(m.p, r);
    } else if (typeof m.t === 'string' && isNum(m.u)) {
      applyCooldown(m.t, m.u);
    }
  };

  // After (re)connecting: push what this process learnt meanwhile (the scripts keep whichever is newer), then
  // load everything, so a process that starts, or comes back, sees what the others found.
  const resync = async (): Promise<void> => {
    if (syncing) {
      again = true;
      return;
    }
    syncing = true;
    try {
      do {
        again = false;
        if (!ready() || sub.status !== 'ready') break;
        await Promise.all([
          ...[...providers].map(([p, r]) => writeProvider(p, JSON.stringify(toWire(r)))),
          ...[...targets].map(([t, u]) => writeCooldown(t, u)),
        ]);
        const [ps, ts] = await Promise.all([client.hgetall(providersKey), client.hgetall(targetsKey)]);
        if (closed) return;
        for (const [p, text] of Object.entries(ps ?? {})) {
          let r: BreakerRecord | undefined;
          try {
            r = parseWireRecord(JSON.parse(text));
          } catch {
            r = undefined;
          }
          if (r) applyProvider(p, r);
        }
        // A cool-down already over is left out (the next cool-down write deletes it from Redis).
        const now = clock.now();
        for (const [t, u] of Object.entries(ts ?? {})) {
          const until = Number(u);
          if (Number.isFinite(until) && until > now) applyCooldown(t, until);
        }
        synced = true;
      } while (again);
    } catch (err) {
      noteError(err);
      synced = false;
      // Still connected but the sync failed (a slow or busy Redis): try again shortly.
      cancelRetry();
      const timer = setTimeout(() => void resync(), 1_000);
      timer.unref();
      cancelRetry = () => clearTimeout(timer);
    } finally {
      syncing = false;
      update();
    }
  };

  const onReady = (): void => void resync();
  const onDown = (): void => {
    synced = false;
    update();
  };
  const onError = (err: unknown): void => {
    noteError(err);
    update();
  };
  for (const c of [client, sub]) {
    c.on('ready', onReady);
    c.on('close', onDown);
    c.on('end', onDown);
    c.on('error', onError);
  }
  sub.on('message', onMessage);
  sub.subscribe(channel).catch(onError);
  if (client.status === 'wait') client.connect().catch(onError);
  if (client.status === 'ready') void resync();

  const replicate = (provider: string, record: BreakerRecord): void => {
    const key = stateKey(record);
    if (sent.get(provider) === key) return;
    sent.set(provider, key);
    // Not connected: the next resync pushes it.
    if (!ready()) return;
    writeProvider(provider, JSON.stringify(toWire(record))).then((won) => {
      // Redis kept a newer record: forget this one, so the next change of this process is written again.
      if (won === 0 && sent.get(provider) === key) sent.delete(provider);
    }, noteError);
  };

  return {
    getProvider: (provider) => providers.get(provider),
    setProvider(provider, record) {
      providers.set(provider, record);
      replicate(provider, record);
    },
    getTargetCooldown: (target) => targets.get(target),
    setTargetCooldown(target, untilMs) {
      targets.set(target, untilMs);
      if (ready()) writeCooldown(target, untilMs).catch(noteError);
    },
    listTargetCooldowns: () => [...targets].map(([target, until]) => ({ target, until })),
    status,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async acquireProbe(provider, ttlMs) {
      // Without Redis every process probes for itself: a degraded store must not stop health checks.
      if (!ready() || connected !== true) return true;
      const ttl = String(Math.max(1, Math.round(ttlMs)));
      try {
        const got = await withTimeout(
          client.eval(ACQUIRE_LEASE, 1, `${prefix}probe:${provider}`, id, ttl),
          timeoutMs,
          1,
        );
        return Number(got) === 1;
      } catch (err) {
        noteError(err);
        return true;
      }
    },
    async getResponse(key) {
      if (!ready()) return undefined;
      try {
        return (await withTimeout(client.get(`${prefix}cache:${key}`), timeoutMs, null)) ?? undefined;
      } catch (err) {
        noteError(err);
        return undefined;
      }
    },
    setResponse(key, value, ttlMs) {
      if (!ready()) return;
      client.set(`${prefix}cache:${key}`, value, 'PX', Math.max(1, Math.round(ttlMs))).catch(noteError);
    },
    close() {
      closing ??= (async () => {
        closed = true;
        cancelRetry();
        listeners.clear();
        sub.off('message', onMessage);
        for (const c of [client, sub]) {
          c.off('ready', onReady);
          c.off('close', onDown);
          c.off('end', onDown);
          c.off('error', onError);
        }
        // A late error from a closing socket must not become an unhandled 'error' event.
        sub.on('error', noop);
        sub.disconnect();
        if (!given) {
          client.on('error', noop);
          if (client.status === 'ready') await withTimeout(client.quit(), 1_000, 'OK').catch(noop);
          client.disconnect();
        }
      })();
      return closing;
    },
  };
}

function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [decodeURIComponent(u.password), decodeURIComponent(u.username)].filter((s) => s.length >= 4);
  } catch {
    return [];
  }
}
