import { MAX_TIMER_MS, systemClock, TIMER, within } from '../clock.js';
import type { HealthStoreStatus } from '../health/health-store.js';
import { thrownText } from '../redact.js';
import { requirePeer } from '../require-peer.js';

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

type IORedis = new (url: string, options: Record<string, unknown>) => RedisClientLike;

/**
 * Two ioredis clients for `url` (ioredis is an optional peer dependency): one for commands, one for pub/sub.
 * @throws ConfigError when ioredis is not installed
 */
export function connectUrl(
  url: string,
  commandTimeoutMs: number,
): { client: RedisClientLike; sub: RedisClientLike } {
  const mod = requirePeer<{ default?: IORedis } & IORedis>(
    'ioredis',
    'mana-llm/redis with `url` needs the optional peer dependency ioredis: npm install ioredis (or pass `client`)',
  );
  const Redis = mod.default ?? mod;
  // A command issued while reconnecting is retried once, not twenty times: the store resyncs anyway. A command
  // Redis never answers is dropped after the store's timeout, so a frozen Redis cannot pile up a queue. After
  // close(), a timer holding the process runs `disconnectTimeout` (ioredis: 2 s), even with Redis down. Both are
  // one Node timer each, so capped at what one holds: a longer one would fire after 1 ms.
  const ms = Math.min(commandTimeoutMs, MAX_TIMER_MS);
  const base = { maxRetriesPerRequest: 1, disconnectTimeout: ms };
  return {
    client: new Redis(url, { ...base, commandTimeout: Math.max(ms, 1_000) }),
    // It sends one SUBSCRIBE (nothing to pile up). With a commandTimeout, one queued while Redis is down kept its
    // timer holding the process after close(): ioredis never ends a client closed between reconnect attempts.
    sub: new Redis(url, base),
  };
}

const noop = (): void => {};

/** Why a command was given up on. */
class NoAnswer extends Error {
  override name = 'NoAnswer';
}

/** `p`, or a rejection with NoAnswer after `ms` (the command itself is left to the client's own timeout). */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  const answer = await within(systemClock, p, ms);
  if (answer === TIMER) throw new NoAnswer(`Redis did not answer within ${ms} ms`);
  return answer;
}

/** What the connection tells the store it serves. */
interface ConnectionOptions {
  /** Longest wait on any command. */
  timeoutMs: number;
  /** The key read to find out whether a stalled Redis answers again. */
  aliveKey: string;
  /** Scrubbed from every error message kept (the password and user of a `url`). */
  secrets: readonly string[];
  /** Connected flipped (or an error while starting up): report it. */
  onStatus(status: HealthStoreStatus): void;
  /** Redis is (again) ready: push and load the state. */
  onReady(): void;
}

/**
 * Whether the store can talk to Redis: both clients ready, the state loaded (`synced`), and no command left
 * unanswered. A command that gets no answer in time stalls the connection: nothing waits on Redis until one
 * cheap read, tried soon and then every second, answers again.
 */
export class RedisConnection {
  /** The state is loaded since the clients were last ready. */
  synced = false;
  closed = false;
  /** A command got no answer in time, and the cheap read since has not either. */
  stalled = false;
  #connected: boolean | undefined;
  #lastError: string | undefined;
  #checks = 0;
  #cancelCheck = noop;
  // What both clients are listened to for (and, on close, no longer).
  readonly #on: Record<'ready' | 'close' | 'end' | 'error', (err?: unknown) => void> = {
    ready: () => this.options.onReady(),
    close: () => this.#down(),
    end: () => this.#down(),
    error: (err) => {
      this.noteError(err);
      this.update();
    },
  };

  constructor(
    readonly client: RedisClientLike,
    readonly sub: RedisClientLike,
    readonly options: ConnectionOptions,
  ) {
    for (const c of [client, sub])
      for (const [event, listener] of Object.entries(this.#on)) c.on(event, listener);
  }

  /** Commands may be sent now (the subscriber may still be connecting). */
  ready(): boolean {
    return !this.closed && !this.stalled && this.client.status === 'ready';
  }

  /** Commands may be sent and the other processes' state has been loaded. */
  connected(): boolean {
    return this.#connected === true;
  }

  /** Starts both clients: subscribes to `channel`, connects a client created lazily. */
  start(channel: string): void {
    this.sub.subscribe(channel).catch(this.#on.error);
    if (this.client.status === 'wait') this.client.connect().catch(this.#on.error);
    if (this.client.status === 'ready') this.options.onReady();
  }

  /** A command with the store's timeout: no answer in time stalls the connection. */
  timed<T>(p: Promise<T>): Promise<T> {
    return withTimeout(p, this.options.timeoutMs);
  }

  /** A timed command when Redis can answer now; `fallback` when it cannot or the command fails (reason kept). */
  async attempt<T>(command: (client: RedisClientLike) => Promise<T>, fallback: T): Promise<T> {
    if (!this.ready()) return fallback;
    try {
      return await this.timed(command(this.client));
    } catch (err) {
      this.noteError(err);
      return fallback;
    }
  }

  status(): HealthStoreStatus {
    return this.#connected !== true && this.#lastError !== undefined
      ? { kind: 'redis', connected: false, error: this.#lastError }
      : { kind: 'redis', connected: this.#connected === true };
  }

  /** Works out whether the store is connected and reports a flip. */
  update(): void {
    if (this.closed) return;
    const now = this.ready() && this.sub.status === 'ready' && this.synced;
    // Only flips are reported; while starting up, "not connected yet" is news only with an error.
    if (now === this.#connected || (!now && this.#connected === undefined && this.#lastError === undefined))
      return;
    this.#connected = now;
    if (now) this.#lastError = undefined;
    this.options.onStatus(this.status());
  }

  /** Keeps a failed command's reason (cleaned like every outside text); one that got no answer stalls the connection. */
  noteError(err: unknown): void {
    this.#lastError = thrownText(err, 200, this.options.secrets);
    if (err instanceof NoAnswer) this.#stall();
  }

  #down(): void {
    this.synced = false;
    this.update();
  }

  #stall(): void {
    if (this.stalled || this.closed) return;
    this.stalled = true;
    this.synced = false;
    this.update();
    this.#check();
  }

  // Soon, then every second: one cheap read with the same timeout; the first answer ends the stall and resyncs.
  #check(): void {
    this.#cancelCheck();
    const { timeoutMs } = this.options;
    const delay = this.#checks++ === 0 ? Math.min(1_000, Math.max(100, timeoutMs)) : 1_000;
    this.#cancelCheck = systemClock.setTimer(delay, () => {
      if (this.closed) return;
      this.timed(this.client.get(this.options.aliveKey)).then(
        () => {
          if (this.closed) return;
          this.stalled = false;
          this.#checks = 0;
          this.options.onReady();
        },
        () => this.#check(),
      );
    });
  }

  /** Stops listening and disconnects; a client the store created itself is also quit. */
  async close(ownClient: boolean): Promise<void> {
    this.closed = true;
    this.#cancelCheck();
    for (const c of [this.client, this.sub])
      for (const [event, listener] of Object.entries(this.#on)) c.off(event, listener);
    // A late error from a closing socket must not become an unhandled 'error' event.
    this.sub.on('error', noop);
    this.sub.disconnect();
    if (ownClient) {
      this.client.on('error', noop);
      if (this.client.status === 'ready' && !this.stalled)
        await withTimeout(this.client.quit(), 1_000).catch(noop);
      this.client.disconnect();
    }
  }
}
