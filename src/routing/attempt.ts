import type { ProviderTimeoutError } from '../errors.js';
import type { AdapterContext } from '../providers/adapter.js';
import { warnThrown } from '../warn.js';
import { CancelToken, followAbort } from '../wire/cancel.js';
import type { ProviderSlot, RouterContext } from './context.js';

/**
 * One attempt's abort signal: fires when the caller aborts, when the client closes, when `ms` runs out on the
 * injected clock, or when the provider's breaker opens while the attempt still waits (`released`). `timeout` and
 * `released` tell the router which happened. It is in the client's `live` set while it runs: `close()` aborts it,
 * and `releaseWaiting` finds it there when its provider's breaker opens. It counts itself in its provider's slot
 * (in flight until `end()`, unanswered until `answered()`).
 */
export class AttemptSignal {
  /** Cancels the attempt's requests; an AbortSignal is made from it only when someone reads `signal`. */
  readonly token = new CancelToken();
  /** The context handed to the adapter: its `signal` follows this attempt. */
  readonly context: AdapterContext = this.token.context();
  timeout: ProviderTimeoutError | undefined;
  /** True once the provider's breaker opened while the attempt waited: it falls through, counting against no one. */
  released = false;
  /** The number of its provider's half-open trial (`HealthCache.trialOf`) when the walk admitted it as one, else 0. */
  trial = 0;
  readonly #slot: ProviderSlot | undefined;
  #answered = false;
  #ended = false;
  /** The provider whose breaker this attempt follows until it is answered (or ends). */
  #provider: string | undefined;
  /** Its client's health, clock and `live` set. */
  readonly #ctx: RouterContext;
  /** When the attempt has waited longer than its target usually takes (its latency estimate's highMs). */
  readonly #lateAt: number;
  #cancelLate: (() => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  /** What the pending timer runs, and when it fires (epoch ms). */
  #onFire: (() => void) | undefined;
  #firesAt = 0;
  /** Stops following the caller's signal. */
  #unfollow: (() => void) | undefined;
  /** Rejecters of the races in progress, settled together when the attempt aborts. */
  #racing: Set<(reason: unknown) => void> | undefined;

  /**
   * `slot`: the provider the attempt waits on; it lets go when its breaker opens (until `answered()` or `end()`) once
   * it is late, that is past `lateAt` (epoch ms: its start plus the target's usual highest latency).
   */
  constructor(ctx: RouterContext, caller: AbortSignal | undefined, slot?: ProviderSlot, lateAt = 0) {
    this.#ctx = ctx;
    this.#lateAt = lateAt;
    if (slot) {
      this.#slot = slot;
      this.#provider = slot.config.id;
      slot.inFlight++;
      slot.unanswered++;
    }
    ctx.live.add(this);
    // The caller may have aborted while the walk moved on from the previous entry: followAbort aborts at once then.
    if (caller) this.#unfollow = followAbort(caller, () => this.token.abort(caller.reason));
  }

  /** Aborts the attempt's requests (what `close()` calls). */
  abort(reason?: unknown): void {
    this.token.abort(reason);
  }

  /** Lets go of the attempts in `live` (a client's) still waiting on `provider`, whose breaker opened. */
  static releaseWaiting(live: ReadonlySet<AttemptSignal>, provider: string): void {
    for (const a of [...live]) {
      if (a.#provider !== provider) continue;
      try {
        a.breakerOpened(provider);
      } catch (err) {
        // One attempt's failure must not stop the others, nor the health update that fired it.
        warnThrown('releasing an attempt', err);
      }
    }
  }

  /** (Re)arms the attempt's one timer: after `ms`, `onFire` runs (normally `expire`). */
  arm(ms: number, onFire: () => void): void {
    this.disarm();
    this.#onFire = onFire;
    this.#firesAt = this.#ctx.clock.now() + ms;
    this.#cancelTimer = this.#ctx.clock.setTimer(ms, () => {
      this.#cancelTimer = undefined;
      this.#onFire?.();
    });
  }

  /**
   * `arm`, except that a pending timer firing within `ms` is kept and runs `onFire` instead, which must then check
   * whether its time really came (a stream's idle check): one timer per stream instead of one more at its commit.
   */
  rearm(ms: number, onFire: () => void): void {
    if (this.#cancelTimer !== undefined && this.#firesAt <= this.#ctx.clock.now() + ms) this.#onFire = onFire;
    else this.arm(ms, onFire);
  }

  /** Ends the attempt now as timed out. */
  expire(err: ProviderTimeoutError): void {
    if (this.token.aborted) return;
    this.timeout = err;
    this.token.abort(err);
  }

  /** The provider's breaker opened: the attempt stops waiting now, or once it is late if the breaker is still open. */
  breakerOpened(provider: string): void {
    this.#provider = undefined;
    if (this.token.aborted) return;
    const wait = this.#lateAt - this.#ctx.clock.now();
    // Still within the time its target usually takes: other calls' failures do not say this one will fail, so it
    // gets that long, and lets go then if the breaker is still open.
    if (wait > 0) {
      this.#cancelLate = this.#ctx.clock.setTimer(wait, () => {
        this.#cancelLate = undefined;
        if (this.#ctx.health.peek(provider) === 'open') this.#release(provider);
        // Half-open or closed by then: it follows the breaker again, so that a re-open lets it go at once.
        else this.#provider = provider;
      });
      return;
    }
    this.#release(provider);
  }

  #release(provider: string): void {
    if (this.token.aborted) return;
    this.released = true;
    this.token.abort(new Error(`mana-llm: ${provider}'s breaker opened while this attempt waited for it`));
  }

  /** The provider answered (a whole reply, or a stream's commit): from now on its breaker no longer cuts it. */
  answered(): void {
    this.#cancelLate?.();
    this.#cancelLate = undefined;
    this.#provider = undefined;
    if (this.#answered || !this.#slot) return;
    this.#answered = true;
    this.#slot.unanswered--;
  }

  /**
   * Ends the provider's half-open trial without a verdict (the caller's error or abort, a lost hedge), when this
   * attempt is that trial: another attempt's trial is not its to end.
   */
  releaseTrial(): void {
    const trial = this.trial;
    if (trial === 0) return;
    this.trial = 0;
    if (this.#slot) this.#ctx.health.release(this.#slot.config.id, trial);
  }

  disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  /** Releases timer, listeners and its place in the slot, once; `cancel` also aborts the request (a stream left early). */
  end(cancel = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.disarm();
    this.answered();
    if (this.#slot) this.#slot.inFlight--;
    this.#unfollow?.();
    this.#ctx.live.delete(this);
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
      p.catch(() => undefined);
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
    // One promise per race and nothing left behind when it settles (Promise.race would leave a reaction on a
    // shared abort promise for every chunk of a stream).
    return new Promise<T>((resolve, reject) => {
      racing.add(reject);
      p.then(
        (v) => {
          racing.delete(reject);
          resolve(v);
        },
        (err: unknown) => {
          racing.delete(reject);
          reject(err);
        },
      );
    });
  }

  /** When the attempt was aborted by the caller or by close() (not a timeout, not a release), the reason to rethrow. */
  abortReason(): unknown {
    const token = this.token;
    if (!token.aborted || this.timeout !== undefined || this.released) return undefined;
    return token.reason;
  }
}
