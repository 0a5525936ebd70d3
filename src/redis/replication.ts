import { systemClock } from '../clock.js';
import { type BreakerRecord, mergeBreaker } from '../health/breaker.js';
import type { StoreBounds } from '../health/health-store.js';
import type { RedisConnection } from './connection.js';
import {
  CLOCK_SKEW_MS,
  MAX_MESSAGE_CHARS,
  MAX_TARGET_CHARS,
  MAX_TARGETS,
  parseBounded,
  sanitizeCooldown,
  sanitizeRecord,
  UNBOUND,
} from './sanitize.js';
import { LOAD_CAPPED, SET_COOLDOWN, SET_PROVIDER } from './scripts.js';

/** The replicated part of a breaker record: a trial in flight is this process's own business. */
function toWire(r: BreakerRecord): string {
  return JSON.stringify({
    consecutiveFailures: r.consecutiveFailures,
    openedUntil: r.openedUntil,
    lastError: r.lastError,
    lastCheckedAt: r.lastCheckedAt,
  });
}

/**
 * What other processes must hear about: the breaker's state, not when it was last confirmed. A success on a healthy
 * provider changes only `lastCheckedAt`; writing and publishing that on every call would cost a Redis round trip
 * and a message to every process per call.
 */
function stateKey(r: BreakerRecord): string {
  return `${r.consecutiveFailures}|${r.openedUntil}|${r.lastError}`;
}

/** Where the replicated state lives, and who this process is. */
interface ReplicationOptions {
  /** This store's id: its own messages are not applied twice. */
  id: string;
  /** The hashes are `<prefix>providers` and `<prefix>targets`. */
  prefix: string;
  channel: string;
  /** Another process changed a provider's record. */
  onProvider(provider: string, before: BreakerRecord | undefined): void;
}

/**
 * The in-memory mirror of breakers and cool-downs, kept in step with Redis: local changes are written (by scripts
 * that keep whichever is newer) and published; messages and the hashes read on (re)connecting are merged in,
 * every value clamped against the bounds the client gave first. Times are `Date.now()`: other processes compare them.
 */
export class Replication {
  readonly providers = new Map<string, BreakerRecord>();
  readonly targets = new Map<string, number>();
  // The state last written or received per provider (see stateKey): writes that change no state are skipped.
  readonly #sent = new Map<string, string>();
  // What this store accepts from elsewhere: every record and message is clamped against now by these.
  #bounds: Required<StoreBounds> = UNBOUND;
  #syncing = false;
  #again = false;
  #cancelRetry: (() => void) | undefined;

  constructor(
    readonly conn: RedisConnection,
    readonly options: ReplicationOptions,
  ) {
    conn.sub.on('message', this.#onMessage);
  }

  /** Records this process's change and writes it when the breaker's state changed. */
  setProvider(provider: string, record: BreakerRecord): void {
    this.providers.set(provider, record);
    if (this.conn.closed) return;
    const key = stateKey(record);
    if (this.#sent.get(provider) === key) return;
    this.#sent.set(provider, key);
    // Not connected: the next resync pushes it.
    if (!this.conn.ready()) return;
    this.#writeProvider(provider, record).then((won) => {
      // Redis kept a newer record: forget this one, so the next change of this process is written again.
      if (won === 0 && this.#sent.get(provider) === key) this.#sent.delete(provider);
    }, this.#failed);
  }

  /** Records this process's cool-down and writes it. */
  setCooldown(target: string, until: number): void {
    // Kept even when the mirror is full of running cool-downs: this process's own routing depends on it.
    this.#makeRoom(target, Date.now());
    this.targets.set(target, until);
    if (this.conn.ready()) this.#writeCooldown(target, until).catch(this.#failed);
  }

  /** Takes the client's bounds; what was mirrored before is judged again. */
  bind(bounds: StoreBounds): void {
    this.#bounds = { ...UNBOUND, ...bounds };
    const now = Date.now();
    for (const [p, r] of this.providers) {
      const clean = sanitizeRecord(p, r, now, this.#bounds);
      if (clean) this.providers.set(p, { ...clean, trialInFlight: r.trialInFlight });
      else this.providers.delete(p);
    }
    for (const [t, u] of this.targets) {
      const clean = sanitizeCooldown(t, u, now, this.#bounds);
      if (clean === undefined) this.targets.delete(t);
      else this.targets.set(t, clean);
    }
  }

  /**
   * After (re)connecting: push what this process learnt meanwhile (the scripts keep whichever is newer), then
   * load everything, so a process that starts, or comes back, sees what the others found.
   */
  async resync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    const { conn } = this;
    this.#syncing = true;
    try {
      do {
        this.#again = false;
        if (!conn.ready() || conn.sub.status !== 'ready') break;
        await Promise.all([
          ...[...this.providers].map(([p, r]) => this.#writeProvider(p, r)),
          ...[...this.targets].map(([t, u]) => this.#writeCooldown(t, u)),
        ]);
        const [ps, ts] = await Promise.all([this.#load('providers'), this.#load('targets')]);
        if (conn.closed) return;
        const now = Date.now();
        for (const [p, text] of ps) this.#receiveProvider(p, parseBounded(text), now);
        // A cool-down already over is left out (the next cool-down write deletes it from Redis).
        for (const [t, u] of ts) this.#receiveCooldown(t, u, now);
        conn.synced = true;
      } while (this.#again);
    } catch (err) {
      conn.synced = false;
      this.#failed(err);
    } finally {
      this.#syncing = false;
      conn.update();
    }
  }

  /** Stops listening and retrying. */
  close(): void {
    this.#cancelRetry?.();
    this.conn.sub.off('message', this.#onMessage);
  }

  /**
   * A write or sync that failed: a stalled Redis is resynced by the stall check once it answers; one that answered
   * with an error (out of memory, READONLY after a failover) is resynced shortly, which writes this process's state
   * again, so the others do not keep a stale one.
   */
  readonly #failed = (err: unknown): void => {
    this.conn.noteError(err);
    // A retry already due is not put off: a stream of failing writes must not postpone it forever.
    if (this.conn.stalled || this.conn.closed || this.#cancelRetry) return;
    this.#cancelRetry = systemClock.setTimer(1_000, () => {
      this.#cancelRetry = undefined;
      void this.resync();
    });
  };

  /** A provider's record from elsewhere (a message or the hash), clamped against now and merged in. */
  #receiveProvider(provider: string, raw: unknown, now: number): void {
    const incoming = sanitizeRecord(provider, raw, now, this.#bounds);
    if (!incoming) return;
    const before = this.providers.get(provider);
    const after = mergeBreaker(before, incoming);
    if (after === before) return;
    this.providers.set(provider, after);
    this.#sent.set(provider, stateKey(after));
    this.options.onProvider(provider, before);
  }

  /** A target's cool-down from elsewhere, clamped against now and merged in. */
  #receiveCooldown(target: string, raw: unknown, now: number): void {
    const until = sanitizeCooldown(target, raw, now, this.#bounds);
    if (until === undefined) return;
    // Still full of running cool-downs: a flood of new targets is not mirrored.
    if (!this.#makeRoom(target, now)) return;
    // The later deadline wins.
    this.targets.set(target, Math.max(until, this.targets.get(target) ?? until));
  }

  /** Whether `target` fits in the mirror, after dropping the cool-downs already over when it is full. */
  #makeRoom(target: string, now: number): boolean {
    const { targets } = this;
    if (targets.has(target) || targets.size < MAX_TARGETS) return true;
    for (const [t, u] of targets) if (u <= now) targets.delete(t);
    return targets.size < MAX_TARGETS;
  }

  /** A hash's fields and values within the caps (a field is at most 3 bytes a character), measured inside Redis. */
  async #load(hash: 'providers' | 'targets'): Promise<[string, unknown][]> {
    const flat = await this.#eval(LOAD_CAPPED, hash, [MAX_TARGET_CHARS * 3, MAX_MESSAGE_CHARS, MAX_TARGETS]);
    const out: [string, unknown][] = [];
    if (Array.isArray(flat))
      for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
    return out;
  }

  /** Runs a script of scripts.ts on the `hash` with the store's timeout. */
  #eval(script: string, hash: 'providers' | 'targets', argv: (string | number)[]): Promise<unknown> {
    const key = `${this.options.prefix}${hash}`;
    return this.conn.timed(this.conn.client.eval(script, 1, key, ...argv.map(String)));
  }

  // ARGV of the write scripts: field, value, channel, message, now, then the bounds each script reads.
  #writeProvider(provider: string, record: BreakerRecord): Promise<unknown> {
    const { id, channel } = this.options;
    const wire = toWire(record);
    const message = `{"s":${JSON.stringify(id)},"p":${JSON.stringify(provider)},"r":${wire}}`;
    const argv = [provider, wire, channel, message, Date.now(), this.#bounds.cooldownMs, CLOCK_SKEW_MS];
    return this.#eval(SET_PROVIDER, 'providers', argv);
  }

  #writeCooldown(target: string, until: number): Promise<unknown> {
    const { id, channel } = this.options;
    const message = JSON.stringify({ s: id, t: target, u: until });
    const argv = [target, until, channel, message, Date.now(), this.#bounds.maxCooldownMs];
    return this.#eval(SET_COOLDOWN, 'targets', argv);
  }

  readonly #onMessage = (ch: string, text: string): void => {
    if (ch !== this.options.channel || this.conn.closed) return;
    // Bounded before parsing: anyone who can publish on the channel can send anything.
    const m = parseBounded(text) as { s?: unknown; p?: unknown; r?: unknown; t?: unknown; u?: unknown };
    if (m === null || typeof m !== 'object' || m.s === this.options.id) return;
    if (typeof m.p === 'string') this.#receiveProvider(m.p, m.r, Date.now());
    else if (typeof m.t === 'string') this.#receiveCooldown(m.t, m.u, Date.now());
  };
}
