import type { ChainEntry } from '../aliases/schema.js';
import {
  type Attempt,
  type AttemptReason,
  ClosedError,
  cutModel,
  InvalidRequestError,
  NoHealthyProviderError,
  type ProviderError,
  ProviderTimeoutError,
} from '../errors.js';
import { RELEASE_AFTER_MS } from '../options.js';
import { INLINE_IMAGES, type InlinesImages } from '../providers/adapter.js';
import { CALL_IMAGES } from '../providers/images.js';
import { AttemptSignal } from './attempt.js';
import { precheck } from './candidates.js';
import { asProviderError, cannotServe, judgeFailure } from './classify.js';
import type { CallPlan, ProviderSlot, RouterContext } from './context.js';
import { reportFallback } from './report.js';
import type { Running, Served, Step } from './walk-chain.js';

/**
 * One call's walk down its chain: a cursor over the entries, the attempts it starts, and what it learned (the last
 * error, the soonest retry). `walkChain` drives it one attempt at a time; `hedgedWalk` keeps up to two in flight.
 */
export class ChainWalk<T, R> {
  /** The next entry to look at. */
  #next = 0;
  #lastError: ProviderError | undefined;
  /** The soonest time a skipped or failed entry is callable again (for `retryAfterMs`). */
  #soonest = Number.POSITIVE_INFINITY;

  constructor(
    readonly ctx: RouterContext,
    readonly plan: CallPlan,
    readonly step: Step<T, R>,
    readonly request: R,
  ) {}

  /** True when an entry after the cursor could be called now (precheck changes nothing: looking is free). */
  callableAhead(): boolean {
    const { chain, needs } = this.plan;
    for (let j = this.#next; j < chain.length; j++) {
      if ('adapter' in precheck(this.ctx, chain[j] as ChainEntry, needs)) return true;
    }
    return false;
  }

  /**
   * Moves the cursor to the next entry that can be called, recording the ones skipped, and starts its attempt;
   * undefined when no entry is left or the budget ran out. Synchronous unless an entry needs the call's images
   * first (no promise per attempt on the common path); `imagesFor` is the entry whose images are in.
   */
  start(imagesFor = -1): Running<T> | undefined | Promise<Running<T> | undefined> {
    const { ctx, plan } = this;
    const { chain, attempts } = plan;
    while (this.#next < chain.length) {
      const i = this.#next;
      // A call that waited (on the cache, on a failed entry) while the client closed must not walk a closed transport,
      // nor one whose caller gave up meanwhile start an adapter call.
      if (ctx.closed) throw new ClosedError();
      if (plan.signal?.aborted) throw plan.signal.reason;
      const entry = chain[i] as ChainEntry;
      const pre = precheck(ctx, entry, plan.needs);
      if (
        plan.images !== undefined &&
        imagesFor !== i &&
        'adapter' in pre &&
        (pre.adapter as InlinesImages)[INLINE_IMAGES] === true
      ) {
        // Fetched once per call, before the attempt's clock starts and outside its health accounting: an image
        // that cannot be had is the caller's error (InvalidRequestError), never this provider's. The same entry is
        // looked at again once they are in.
        return plan.images.ready().then(() => this.start(i));
      }
      this.#next++;
      if (!('adapter' in pre)) {
        if (pre.reason === 'capability' && plan.alias === undefined) throw cannotServe(entry, plan.needs);
        this.#soonest = Math.min(this.#soonest, pre.until ?? Number.POSITIVE_INFINITY);
        this.#fellThrough(i, { target: entry.target, reason: pre.reason });
        continue;
      }
      const started = ctx.clock.now();
      const left = plan.deadline - started;
      if (left <= 0) {
        for (let j = i; j < chain.length; j++)
          attempts.push({ target: (chain[j] as ChainEntry).target, reason: 'deadline' });
        this.#next = chain.length;
        return undefined;
      }
      const admission = ctx.health.admit(entry.provider);
      if (admission === 'unhealthy') {
        this.#fellThrough(i, { target: entry.target, reason: 'unhealthy' });
        continue;
      }
      const run = this.#call(i, entry, pre, started, left);
      if (admission === 'trial') run.attempt.trial = ctx.health.trialOf(entry.provider);
      return run;
    }
    return undefined;
  }

  /**
   * Starts the attempt at entry `i` (the cursor is past it) with its share of what is `left` of the call's budget:
   * half while a later entry could still be called (so a hung entry leaves the fallback time to answer), all of it
   * for the last one. Its timer is armed, it is counted in its slot, and it is released when its provider's breaker
   * opens once it has waited 5 s or its target's usual highest latency.
   */
  #call(i: number, entry: ChainEntry, slot: ProviderSlot, started: number, left: number): Running<T> {
    const { ctx, plan, step } = this;
    const budget = this.callableAhead() ? Math.ceil(left / 2) : left;
    const cap = step.attemptCap;
    const ms = Math.min(budget, slot.config.timeoutMs, cap ? ctx.opts.timeouts[cap] : budget);
    const lateAt =
      started + Math.max(RELEASE_AFTER_MS, ctx.health.latency.high(entry.target, plan.kind) ?? 0);
    const attempt = new AttemptSignal(ctx, plan.signal, slot, lateAt);
    attempt.arm(ms, () =>
      attempt.expire(
        new ProviderTimeoutError(`${cutModel(entry.target)}: ${step.timeoutLabel} within ${ms}ms`, entry),
      ),
    );
    const { context } = attempt;
    // The call's images ride on the context to a built-in adapter.
    if (plan.images !== undefined) (context as { [CALL_IMAGES]?: unknown })[CALL_IMAGES] = plan.images;
    let answer: Promise<T>;
    try {
      answer = step.run(slot, entry, context, this.request);
    } catch (err) {
      // An adapter that throws instead of rejecting fails its attempt the same way.
      answer = Promise.reject(err);
    }
    return { i, entry, attempt, started, answer, result: attempt.race(answer) };
  }

  /**
   * An attempt failed: its health and record, and the fallback event; returns to let the walk go on.
   * @throws the failure when it ends the call (the caller's mistake or abort, a closed client)
   */
  failed(run: Running<T>, raw: unknown): void {
    const { ctx, plan } = this;
    const { entry, attempt, started } = run;
    const callerReason = attempt.abortReason();
    // The caller's abort: an aborted attempt did call its upstream, so it is recorded like a cancelled one.
    if (callerReason !== undefined && !ctx.closed) {
      this.cancel(run);
      throw callerReason;
    }
    attempt.end();
    this.#letGo(run);
    // After close() nothing is recorded: the failure may be the closed transport's own.
    if (ctx.closed) throw callerReason ?? new ClosedError();
    if (attempt.released) {
      this.#released(run);
      return;
    }
    const { timeout } = attempt;
    // Content the adapter could not build a request from: the caller's error, never the provider's.
    if (timeout === undefined && raw instanceof InvalidRequestError) {
      attempt.releaseTrial();
      throw raw;
    }
    const err = timeout ?? asProviderError(raw, ctx, entry);
    const verdict = judgeFailure(ctx, entry, err);
    // A verdict that counts no failure ends the half-open trial this attempt may be (a failure ends it anyway).
    if (verdict.health !== 'failure') attempt.releaseTrial();
    const now = ctx.clock.now();
    // The hint cooled the target from when the 429 came (or further, when it was cooling already); a breaker that
    // opened meanwhile keeps it unusable until the later of the two ends (as precheck's `until`).
    if (verdict.health === 'cool') {
      const cooling = ctx.health.coolingUntil(entry.target) ?? now;
      const usable = Math.max(cooling, ctx.health.unhealthyUntil(entry.provider) ?? cooling);
      this.#soonest = Math.min(this.#soonest, usable);
    }
    const durationMs = now - started;
    const status = err.status === undefined ? {} : { status: err.status };
    const a: Attempt = { target: entry.target, reason: verdict.reason, ...status, durationMs, error: err };
    this.#record(run, a);
    if (!verdict.fallback || (verdict.reason === 'capability' && plan.alias === undefined)) throw err;
    this.#lastError = err;
    reportFallback(ctx, plan, run.i, a);
  }

  /** An attempt answered: the served call, or undefined when the answer was rejected (recorded; the walk goes on). */
  answered(run: Running<T>, value: T): Served<T> | undefined {
    const { ctx, plan, step } = this;
    const { entry, attempt } = run;
    attempt.answered();
    // Released between a stream's commit and this line: nothing reached the caller yet, so it still falls through.
    if (attempt.released && step.judgedAtEnd?.(value)) {
      attempt.end();
      step.discard?.(value);
      this.#released(run);
      return undefined;
    }
    const rejected = step.reject?.(value, plan);
    if (rejected !== undefined) {
      attempt.end();
      ctx.health.recordSuccess(entry.provider);
      this.#fellThrough(run.i, this.#timed(run, rejected), run);
      return undefined;
    }
    // One clock read for both (the health cache reads the same clock).
    const ended = ctx.clock.now();
    if (step.judgedAtEnd?.(value)) ctx.health.recordCommit(entry.provider, ended);
    else ctx.health.recordSuccess(entry.provider, ended);
    ctx.health.latency.record(entry.target, plan.kind, ended - run.started);
    this.#record(run, this.#timed(run, 'ok', ended));
    return { value, entry, attempt };
  }

  /**
   * Cancels an attempt that lost a race (or outlived its call): its request is aborted and it counts neither for nor
   * against its provider's health; it is recorded as `hedged-out`.
   */
  cancel(run: Running<T>): void {
    run.attempt.end(true);
    if (!this.ctx.closed) run.attempt.releaseTrial();
    this.#record(run, this.#timed(run, 'hedged-out'));
    // It may have answered in the same turn as the winner: what it holds (an open stream) is let go.
    this.#letGo(run);
  }

  /**
   * What an attempt the call no longer waits for still produces (an open stream) is let go when it comes: an adapter
   * that ignores its signal may answer after the attempt timed out or lost its race.
   */
  #letGo(run: Running<T>): void {
    const { discard } = this.step;
    if (discard) void run.answer.then(discard, () => undefined);
  }

  /** Starts nothing more: an entry still waiting for the call's images is not called, and their fetch ends. */
  stop(): void {
    this.#next = this.plan.chain.length;
    this.plan.images?.cancel();
  }

  /** Reserves `run`'s place in the record before later entries are recorded (chain order is kept). */
  hold(run: Running<T>): void {
    run.at = this.plan.attempts.push({ target: run.entry.target, reason: 'hedged-out' }) - 1;
  }

  /**
   * Nothing served: the caller's own error when every entry said the prompt is too long, else NoHealthyProviderError.
   * @throws always
   */
  exhausted(): never {
    const { ctx, plan } = this;
    const lastError = this.#lastError;
    // Every entry called (a skipped one has no duration) said so: nothing bigger is left, the caller's 400 propagates.
    if (lastError && plan.attempts.every((a) => a.durationMs === undefined || a.reason === 'context-length'))
      throw lastError;
    const soonest = this.#soonest;
    throw new NoHealthyProviderError(plan.requested, plan.attempts, {
      // A cool-down from a shared store may reach further than any hint this process accepted: capped alike.
      retryAfterMs: Number.isFinite(soonest)
        ? Math.min(ctx.opts.limits.maxRetryAfterMs, Math.max(0, soonest - ctx.clock.now()))
        : undefined,
      cause: lastError,
      keyless: ctx.opts.keyless,
    });
  }

  /**
   * An attempt let go because its provider's breaker opened while it waited: recorded as `breaker-open`, counting
   * against no one (the breaker is open already); the walk goes on.
   */
  #released(run: Running<T>): void {
    // Ends the half-open trial it may have been (no verdict: the open breaker already says what is known).
    run.attempt.releaseTrial();
    const until = this.ctx.health.unhealthyUntil(run.entry.provider);
    this.#soonest = Math.min(this.#soonest, until ?? Number.POSITIVE_INFINITY);
    this.#fellThrough(run.i, this.#timed(run, 'breaker-open'), run);
  }

  /** `run`'s attempt as `reason`, timed from its start to now (or `now`). */
  #timed(run: Running<T>, reason: AttemptReason, now = this.ctx.clock.now()): Attempt {
    return { target: run.entry.target, reason, durationMs: now - run.started };
  }

  /** Records `a`: in the place `run` reserved when it has one, else next. */
  #record(run: Running<T> | undefined, a: Attempt): void {
    const { attempts } = this.plan;
    if (run?.at === undefined) attempts.push(a);
    else attempts[run.at] = a;
  }

  /** Records entry `i`'s attempt `a` (skipped, failed, or its answer rejected) and reports its `fallback`. */
  #fellThrough(i: number, a: Attempt, run?: Running<T>): void {
    this.#record(run, a);
    reportFallback(this.ctx, this.plan, i, a);
  }
}
