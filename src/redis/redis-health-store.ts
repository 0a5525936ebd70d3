import { randomUUID } from 'node:crypto';
import type { CacheStore } from '../cache/cache-store.js';
import { type Clock, systemClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { BreakerRecord } from '../health/breaker.js';
import { mergeBreaker, mergeCooldown } from '../health/breaker-merge.js';
import type { HealthStore, HealthStoreStatus, HealthStoreUpdate } from '../health/health-store.js';
import { redact } from '../redact.js';
import {
  CLOCK_SKEW_MS,
  MAX_TARGETS,
  parseBounded,
  sanitizeCooldown,
  sanitizeRecord,
  UNBOUND,
} from './sanitize.js';
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

/** The replicated part of a breaker record: a trial in flight is this process's own business. */
interface WireRecord {
  consecutiveFailures: number;
  openedUntil: number | null;
  lastError: string | null;
  lastCheckedAt: number | null;
}

type Load = (url: string, commandTimeoutMs: number) => RedisClientLike;

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

/** Why a command was given up on. */
class NoAnswer extends Error {
  override name = 'NoAnswer';
}

/** `p`, or a rejection with NoAnswer after `ms` (the command itself is left to the client's own timeout). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new NoAnswer(`Redis did not answer within ${ms} ms`)), ms);
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

  const client = options.client ?? load(options.url as string, timeoutMs);
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
  // What this store accepts from elsewhere: every record and message is clamped against now by these.
  let bounds = UNBOUND;
  // A command went unanswered: Redis is treated as gone (nothing waits on it) until a check answers.
  let stalled = false;
  let cancelCheck = noop;

  const ready = (): boolean => !closed && !stalled && client.status === 'ready';

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
    lastError = redact(msg.slice(0, 400), secrets).slice(0, 200);
    if (err instanceof NoAnswer) stall();
  };

  // Soon, then every second: one cheap read with the same timeout; the first answer ends the stall and resyncs.
  let checks = 0;
  const check = (): void => {
    cancelCheck();
    const delay = checks++ === 0 ? Math.min(1_000, Math.max(100, timeoutMs)) : 1_000;
    const timer = setTimeout(() => {
      if (closed) return;
      withTimeout(client.get(`${prefix}alive`), timeoutMs).then(
        () => {
          if (closed) return;
          stalled = false;
          checks = 0;
          void resync();
        },
        () => check(),
      );
    }, delay);
    timer.unref();
    cancelCheck = () => clearTimeout(timer);
  };

  function stall(): void {
    if (stalled || closed) return;
    stalled = true;
    synced = false;
    update();
    check();
  }

  /** A command with the store's timeout: no answer in time marks the store stalled. */
  const timed = <T>(p: Promise<T>): Promise<T> => withTimeout(p, timeoutMs);

  const applyProvider = (provider: string, incoming: BreakerRecord): void => {
    const before = providers.get(provider);
    const after = mergeBreaker(before, incoming);
    if (after === before) return;
    providers.set(provider, after);
    sent.set(provider, stateKey(after));
    emit({ type: 'provider', provider, before });
  };

  const applyCooldown = (target: string, until: number): void => {
    if (!targets.has(target) && targets.size >= MAX_TARGETS) {
      const now = clock.now();
      for (const [t, u] of targets) if (u <= now) targets.delete(t);
      // Still full of running cool-downs: a flood of new targets is not mirrored.
      if (targets.size >= MAX_TARGETS) return;
    }
    targets.set(target, mergeCooldown(targets.get(target), until));
  };

  const writeProvider = (provider: string, wire: string): Promise<unknown> =>
    timed(
      client.eval(
        SET_PROVIDER,
        1,
        providersKey,
        provider,
        wire,
        channel,
        `{"s":${JSON.stringify(id)},"p":${JSON.stringify(provider)},"r":${wire}}`,
        String(clock.now()),
        String(bounds.cooldownMs),
        String(CLOCK_SKEW_MS),
      ),
    );

  const writeCooldown = (target: string, until: number): Promise<unknown> =>
    timed(
      client.eval(
        SET_COOLDOWN,
        1,
        targetsKey,
        target,
        String(until),
        channel,
        JSON.stringify({ s: id, t: target, u: until }),
        String(clock.now()),
        String(bounds.maxCooldownMs),
      ),
    );

  const onMessage = (ch: string, text: string): void => {
    if (ch !== channel || closed) return;
    // Bounded before parsing: anyone who can publish on the channel can send anything.
    const m = parseBounded(text) as { s?: unknown; p?: unknown; r?: unknown; t?: unknown; u?: unknown };
    if (m === null || typeof m !== 'object' || m.s === id) return;
    const now = clock.now();
    if (typeof m.p === 'string') {
      const r = sanitizeRecord(m.p, m.r, now, bounds);
      if (r) applyProvider(m.p, r);
    } else if (typeof m.t === 'string') {
      const until = sanitizeCooldown(m.t, m.u, now, bounds);
      if (until !== undefined) applyCooldown(m.t, until);
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
        const [ps, ts] = await Promise.all([
          timed(client.hgetall(providersKey)),
          timed(client.hgetall(targetsKey)),
        ]);
        if (closed) return;
        const now = clock.now();
        for (const [p, text] of Object.entries(ps ?? {})) {
          const r = sanitizeRecord(p, parseBounded(text), now, bounds);
          if (r) applyProvider(p, r);
        }
        // A cool-down already over is left out (the next cool-down write deletes it from Redis).
        for (const [t, u] of Object.entries(ts ?? {})) {
          const until = sanitizeCooldown(t, u, now, bounds);
          if (until !== undefined) applyCooldown(t, until);
        }
        synced = true;
      } while (again);
    } catch (err) {
      noteError(err);
      synced = false;
      // A stalled Redis is retried by the stall check; a sync that failed otherwise, shortly.
      if (stalled) return;
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
    if (closed) return;
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
    bind(b) {
      bounds = { ...UNBOUND, ...b };
      // What was mirrored before the client said what it accepts is judged again.
      const now = clock.now();
      for (const [p, r] of providers) {
        const clean = sanitizeRecord(p, r, now, bounds);
        if (clean) providers.set(p, { ...clean, trialInFlight: r.trialInFlight });
        else providers.delete(p);
      }
      for (const [t, u] of targets) {
        const clean = sanitizeCooldown(t, u, now, bounds);
        if (clean === undefined) targets.delete(t);
        else targets.set(t, clean);
      }
    },
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
        const got = await timed(client.eval(ACQUIRE_LEASE, 1, `${prefix}probe:${provider}`, id, ttl));
        return Number(got) === 1;
      } catch (err) {
        noteError(err);
        return true;
      }
    },
    async getResponse(key) {
      if (!ready()) return undefined;
      try {
        return (await timed(client.get(`${prefix}cache:${key}`))) ?? undefined;
      } catch (err) {
        noteError(err);
        return undefined;
      }
    },
    setResponse(key, value, ttlMs) {
      if (!ready()) return;
      timed(client.set(`${prefix}cache:${key}`, value, 'PX', Math.max(1, Math.round(ttlMs)))).catch(
        noteError,
      );
    },
    close() {
      closing ??= (async () => {
        closed = true;
        cancelRetry();
        cancelCheck();
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
          if (client.status === 'ready' && !stalled) await withTimeout(client.quit(), 1_000).catch(noop);
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
