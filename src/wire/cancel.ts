/** What cancels a request: an AbortSignal, or a CancelToken (the response body listens to either). */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
}

type Listener = () => void;

const TOKEN = Symbol('mana-llm.cancel');

/**
 * A one-shot abort switch that costs nothing until it fires. Node 20's AbortSignal costs ~10 µs per request
 * once something listens to it (allocation plus EventTarget bookkeeping), which is more than the router's whole
 * hot path, so attempts use this instead and make a real AbortSignal only for code that asks for `signal`
 * (custom adapters and adapters that pass it on). The parts table in bench/README.md has its measurement.
 */
export class CancelToken implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  /**
   * Set when an adapter takes the token with `cancelOf`: it then passes it to every request it awaits, so an
   * abort settles the adapter's own promises and nothing needs to race them.
   */
  claimed = false;
  #listeners: Listener[] | undefined;
  #controller: AbortController | undefined;

  /**
   * An adapter context (`{ signal }`) whose AbortSignal is made only when read; built-in adapters find the token
   * in it with `cancelOf` and never make one.
   */
  context(): { readonly signal: AbortSignal } {
    return new TokenContext(this);
  }

  /** A real AbortSignal that follows this token, made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** Fires once: sets `reason` (an AbortError DOMException when none is given, as AbortController does). */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason =
      reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    this.#controller?.abort(this.reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const fn of listeners) fn();
  }

  /** Subscribes to `'abort'` (EventEmitter-style, as the response body reads it); a listener runs at most once. */
  on(_event: 'abort', fn: Listener): this {
    if (!this.aborted) (this.#listeners ??= []).push(fn);
    return this;
  }

  removeListener(_event: 'abort', fn: Listener): this {
    const l = this.#listeners;
    if (l) {
      const i = l.indexOf(fn);
      if (i !== -1) l.splice(i, 1);
    }
    return this;
  }
}

/** The callbacks following each caller signal, and the one 'abort' listener that runs them. */
const following = new WeakMap<AbortSignal, { readonly fns: Set<Listener>; readonly fire: Listener }>();
const unfollowed: Listener = () => undefined;

/**
 * Runs `fn` when `signal` aborts (at once if it has), until the returned function is called. However many calls
 * share a caller's signal (a server's shutdown signal), it holds one 'abort' listener, removed when the last
 * follower goes: one listener per call would make Node print MaxListenersExceededWarning past 10 calls in flight.
 */
export function followAbort(signal: AbortSignal, fn: Listener): Listener {
  if (signal.aborted) {
    fn();
    return unfollowed;
  }
  let f = following.get(signal);
  if (!f) {
    const fns = new Set<Listener>();
    const fire = () => {
      following.delete(signal);
      for (const g of fns) {
        try {
          g();
        } catch (err) {
          // As EventTarget does for a throwing listener: the others still run, the error is not lost.
          process.nextTick(() => {
            throw err;
          });
        }
      }
      fns.clear();
    };
    f = { fns, fire };
    following.set(signal, f);
    signal.addEventListener('abort', fire, { once: true });
  }
  const followers = f;
  followers.fns.add(fn);
  return () => {
    if (!followers.fns.delete(fn) || followers.fns.size > 0) return;
    signal.removeEventListener('abort', followers.fire);
    following.delete(signal); // still `followers`: a set leaves the map when it fires (emptied) or empties
  };
}

// A class, not an object literal with a getter: that costs ~0.8 µs per call to build.
class TokenContext {
  readonly [TOKEN]: CancelToken;
  constructor(token: CancelToken) {
    this[TOKEN] = token;
  }
  get signal(): AbortSignal {
    return this[TOKEN].signal;
  }
}

/**
 * The cheapest cancel handle for requests made on behalf of adapter context `ctx`. Only for adapters that pass
 * it to every request they await (the built-in HTTP ones): taking it tells the router not to race them.
 */
export function cancelOf(ctx: { readonly signal: AbortSignal }): CancelSignal {
  const token = (ctx as { [TOKEN]?: CancelToken })[TOKEN];
  if (!token) return ctx.signal;
  token.claimed = true;
  return token;
}
