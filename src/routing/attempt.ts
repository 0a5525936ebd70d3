import type { Clock } from '../clock.js';
import type { ProviderTimeoutError } from '../errors.js';
import type { RouterContext } from './context.js';

/**
 * One attempt's abort signal: fires when the caller aborts, when the client closes, or when `ms` runs out on
 * the injected clock. `timedOut` tells the router which of the three happened.
 */
export class AttemptSignal {
  readonly controller = new AbortController();
  timeout: ProviderTimeoutError | undefined;
  #cancelTimer: (() => void) | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #live: Set<AbortController>;
  #onCallerAbort: (() => void) | undefined;

  constructor(ctx: RouterContext, caller: AbortSignal | undefined) {
    this.#caller = caller;
    this.#live = ctx.live;
    this.#live.add(this.controller);
    if (caller) {
      this.#onCallerAbort = () => this.controller.abort(caller.reason);
      // The caller may have aborted while the walk moved on from the previous entry: no event will come.
      if (caller.aborted) this.#onCallerAbort();
      else caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
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
    if (this.controller.signal.aborted) return;
    this.timeout = err;
    this.controller.abort(err);
  }

  disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** Releases timer and listeners; `cancel` also aborts the request (breaking out of a stream early). */
  end(cancel = false): void {
    this.disarm();
    if (this.#onCallerAbort) this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    this.#live.delete(this.controller);
    if (cancel && !this.controller.signal.aborted) this.controller.abort();
  }

  /**
   * Settles with `p`, or rejects as soon as the attempt aborts — so an adapter that ignores its signal
   * (a custom one) still cannot hold a call past its deadline.
   */
  race<T>(p: Promise<T>): Promise<T> {
    const s = this.controller.signal;
    if (s.aborted) {
      // Nobody else will wait for `p`: its own (abort) rejection must not go unhandled.
      p.catch(() => undefined);
      return Promise.reject(s.reason);
    }
    this.#aborted ??= new Promise<never>((_, reject) => {
      s.addEventListener('abort', () => reject(s.reason), { once: true });
    });
    this.#aborted.catch(() => undefined);
    return Promise.race([p, this.#aborted]);
  }
  #aborted: Promise<never> | undefined;

  /** When the attempt was aborted by the caller or by close(), the reason to rethrow as is. */
  abortReason(): unknown {
    const s = this.controller.signal;
    if (!s.aborted || this.timeout !== undefined) return undefined;
    return s.reason;
  }
}
