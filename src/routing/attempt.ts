import type { Clock } from '../clock.js';
import type { ProviderTimeoutError } from '../errors.js';
import type { AdapterContext } from '../providers/adapter.js';
import { CancelToken } from '../wire/cancel.js';
import type { Abortable, RouterContext } from './context.js';

const ignore = (): void => undefined;

/**
 * One attempt's abort signal: fires when the caller aborts, when the client closes, or when `ms` runs out on
 * the injected clock. `timedOut` tells the router which of the three happened.
 */
export class AttemptSignal {
  /** Cancels the attempt's requests; an AbortSignal is made from it only when someone reads `signal`. */
  readonly token = new CancelToken();
  timeout: ProviderTimeoutError | undefined;
  #cancelTimer: (() => void) | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #live: Set<Abortable>;
  #onCallerAbort: (() => void) | undefined;
  #context: AdapterContext | undefined;
  /** Rejecters of the races in progress, settled together when the attempt aborts. */
  #racing: Set<(reason: unknown) => void> | undefined;

  constructor(ctx: RouterContext, caller: AbortSignal | undefined) {
    this.#caller = caller;
    this.#live = ctx.live;
    this.#live.add(this.token);
    if (caller) {
      this.#onCallerAbort = () => this.token.abort(caller.reason);
      // The caller may have aborted while the walk moved on from the previous entry: no event will come.
      if (caller.aborted) this.#onCallerAbort();
      else caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.token.signal;
  }

  /** The context handed to the adapter: its `signal` follows this attempt. */
  get context(): AdapterContext {
    if (!this.#context) this.#context = this.token.context();
    return this.#context;
  }

  /** (Re)arms the attempt's one timer: after `ms`, `onFire` runs (normally `expire`). */
  arm(clock: Clock, ms: number, onFire: () => void): void {
    this.#cancelTimer?.();
    if (!Number.isFinite(ms)) {
      this.#cancelTimer = undefined;
      return;
    }
    this.#cancelTimer = clock.setTimer(ms, onFire);
  }

  /** Ends the attempt now as timed out. */
  expire(err: ProviderTimeoutError): void {
    if (this.token.aborted) return;
    this.timeout = err;
    this.token.abort(err);
  }

  disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** Releases timer and listeners; `cancel` also aborts the request (breaking out of a stream early). */
  end(cancel = false): void {
    this.disarm();
    if (this.#onCallerAbort) this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    this.#live.delete(this.token);
    if (cancel && !this.token.aborted) this.token.abort();
  }

  /**
   * Settles with `p`, or rejects as soon as the attempt aborts — so an adapter that ignores its signal
   * (a custom one) still cannot hold a call past its deadline.
   */
  race<T>(p: Promise<T>): Promise<T> {
    const token = this.token;
    if (token.aborted) {
      // Nobody else will wait for `p`: its own (abort) rejection must not go unhandled.
      p.catch(ignore);
      return Promise.reject(token.reason);
    }
    // The adapter took the token (a built-in one): an abort cancels its request, which settles `p` itself.
    if (token.claimed) return p;
    let racing = this.#racing;
    if (!racing) {
      const set = new Set<(reason: unknown) => void>();
      token.on('abort', () => {
        for (const reject of set) reject(token.reason);
        set.clear();
      });
      racing = this.#racing = set;
    }
    const waiting = racing;
    // One promise per race and nothing left behind when it settles (Promise.race would leave a reaction on a
    // shared abort promise for every chunk of a stream).
    return new Promise<T>((resolve, reject) => {
      waiting.add(reject);
      p.then(
        (v) => {
          waiting.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          waiting.delete(reject);
          reject(err);
        },
      );
    });
  }

  /** When the attempt was aborted by the caller or by close(), the reason to rethrow as is. */
  abortReason(): unknown {
    const token = this.token;
    if (!token.aborted || this.timeout !== undefined) return undefined;
    return token.reason;
  }
}
