import { EventEmitter } from 'eventemitter3';
import type { Attempt, AttemptReason, ManaLLMError } from './errors.js';
import type { Usage } from './types.js';
import { warnThrown } from './warn.js';

/** The kind of call an event is about. */
export type CallKind = 'chat' | 'stream' | 'embed';

/** Breaker state of a provider. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Payload of every event, by name. */
export interface ManaLLMEvents {
  request: Readonly<{
    id: string;
    kind: CallKind;
    requested: string;
    alias?: string;
    /** The sampling settings the caller gave (chat and stream), for tracing; present only when one is set. */
    params?: Readonly<{ temperature?: number; max_tokens?: number; top_p?: number }>;
  }>;
  resolved: Readonly<{ id: string; kind: CallKind; alias: string; target: string }>;
  fallback: Readonly<{
    id: string;
    kind: CallKind;
    from: string;
    to: string | null;
    reason: AttemptReason;
    error?: ManaLLMError;
    /** How long the attempt took; absent when the entry was skipped without calling its upstream. */
    durationMs?: number;
    /** The upstream's HTTP status, when it answered with one. */
    status?: number;
  }>;
  response: Readonly<{
    id: string;
    kind: CallKind;
    requested: string;
    resolved: string;
    durationMs: number;
    firstChunkMs?: number;
    usage?: Usage;
    /** Every chain entry considered, in order (as `routing.attempts`); the last one served. */
    attempts?: readonly Attempt[];
  }>;
  failure: Readonly<{
    id: string;
    kind: CallKind;
    requested: string;
    error: ManaLLMError;
    durationMs: number;
    /** The chain entries considered before the call failed (absent when it failed before the walk). */
    attempts?: readonly Attempt[];
  }>;
  /** The consumer stopped a committed stream (`break`, `return()`) before its upstream ended: the call's end. */
  cancel: Readonly<{
    id: string;
    kind: CallKind;
    requested: string;
    resolved: string;
    durationMs: number;
    firstChunkMs: number;
  }>;
  health: Readonly<{
    provider: string;
    healthy: boolean;
    state: BreakerState;
    reason?: string;
    consecutiveFailures: number;
    unhealthyUntil?: number;
  }>;
  probe: Readonly<{ provider: string; ok: boolean; durationMs: number; error?: string }>;
  reload: Readonly<{ ok: boolean; aliases?: number; error?: ManaLLMError }>;
  /** A shared health store (`mana-llm/redis`) lost or regained its connection; decisions stay local either way. */
  store: Readonly<{ connected: boolean; error?: string }>;
  /**
   * The attempt at `from` had no answer (a stream: no commit) after `afterMs`: `to` was started beside it; the first to
   * answer wins and the other ends as `hedged-out` (see docs/tail-latency.md).
   */
  hedge: Readonly<{ id: string; kind: CallKind; from: string; to: string; afterMs: number }>;
  /** A call that uses the response cache: `hit` true means the chain was skipped. */
  cache: Readonly<{ id: string; kind: CallKind; requested: string; key: string; hit: boolean }>;
}

/** Name of an event. */
export type ManaLLMEventName = keyof ManaLLMEvents;

/** A listener for event `K`. */
export type ManaLLMListener<K extends ManaLLMEventName> = (payload: ManaLLMEvents[K]) => void;

type AnyListener = (payload: unknown) => void;

/** Typed emitter whose listeners can never throw into the code that emits. */
export class ManaEmitter {
  readonly #ee = new EventEmitter();
  /** Each listener's wrapper per event name, so that its warning names the event it threw on. */
  readonly #safe = new WeakMap<AnyListener, Map<string, AnyListener>>();
  /** Listeners already reported: once per listener, whatever the event. */
  readonly #warned = new WeakSet<AnyListener>();

  #wrap(name: string, fn: AnyListener): AnyListener {
    let byName = this.#safe.get(fn);
    if (!byName) this.#safe.set(fn, (byName = new Map()));
    let w = byName.get(name);
    if (!w) {
      // Once per listener: one that throws on every event would otherwise print a warning per call.
      const warn = (err: unknown): void => {
        if (this.#warned.has(fn)) return;
        this.#warned.add(fn);
        warnThrown(`an event listener (${name}, further errors not reported)`, err);
      };
      w = (payload: unknown) => {
        try {
          const out: unknown = fn(payload);
          // An async listener's rejection would otherwise be an unhandled rejection, which ends the host process.
          if (typeof (out as PromiseLike<unknown> | undefined)?.then === 'function')
            (out as PromiseLike<unknown>).then(undefined, warn);
        } catch (err) {
          warn(err);
        }
      };
      byName.set(name, w);
    }
    return w;
  }

  on<K extends ManaLLMEventName>(name: K, fn: ManaLLMListener<K>): void {
    this.#ee.on(name, this.#wrap(name, fn as AnyListener));
  }
  once<K extends ManaLLMEventName>(name: K, fn: ManaLLMListener<K>): void {
    this.#ee.once(name, this.#wrap(name, fn as AnyListener));
  }
  off<K extends ManaLLMEventName>(name: K, fn?: ManaLLMListener<K>): void {
    if (!fn) {
      this.#ee.removeAllListeners(name);
      return;
    }
    // A listener never added has no wrapper: eventemitter3 would read `off(name, undefined)` as "remove them all".
    const w = this.#safe.get(fn as AnyListener)?.get(name);
    if (w) this.#ee.off(name, w);
  }
  /** True when someone listens, so callers can skip building a payload. */
  has(name: ManaLLMEventName): boolean {
    return this.#ee.listenerCount(name) > 0;
  }
  emit<K extends ManaLLMEventName>(name: K, payload: ManaLLMEvents[K]): void {
    this.#ee.emit(name, payload);
  }
  removeAll(): void {
    this.#ee.removeAllListeners();
  }
}
