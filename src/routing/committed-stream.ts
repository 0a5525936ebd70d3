import { ClosedError, cutModel, ProviderTimeoutError, StreamInterruptedError } from '../errors.js';
import type { ChatChunk } from '../types.js';

import { asProviderError, judgeFailure } from './classify.js';
import type { CallPlan, RouterContext } from './context.js';
import { reportCancel, reportFailure, reportResolved, reportServed } from './report.js';
import { type HeldStream, stopReader } from './stream-commit.js';
import { HandedOut } from './stream-partial.js';
import type { Served } from './walk-chain.js';

/**
 * A stream dropped by its consumer without `return()` (a manual `next()` loop left early): once it is garbage,
 * its upstream request is cancelled and its provider slot freed, instead of both being held until `close()`.
 */
const abandoned = new FinalizationRegistry<Box>((box) => box.stream?.close(true));

/**
 * What the registry holds for a stream, emptied when the stream closes. Not the stream itself: V8 keeps a
 * registration in old space after `unregister` until the next full collection, and what it points to is then copied
 * out of the young generation by every scavenge (the stream, its partial answer, every chunk handed out), which made
 * a 256-line Ollama stream cost ~2x the floor.
 */
interface Box {
  stream: CommittedStream | undefined;
}

/**
 * A stream past its commit point: reads the served entry's batches under the idle and duration timers, records how
 * it ends in health and events, and builds the StreamInterruptedError of a failure after the commit.
 */
export class CommittedStream {
  readonly plan: CallPlan;
  readonly #ctx: RouterContext;
  readonly #served: Served<HeldStream>;
  /** Reading the upstream, its end already read (handing out the rest), or over. */
  #state: 'reading' | 'ended' | 'closed' = 'reading';
  #firstChunkMs = 0;
  readonly #handed: HandedOut;
  /** Idle is upstream silence: measured only while waiting for the next read, never while the consumer holds one. */
  #waitingSince: number | undefined;
  /** Cancels the `timeouts.streamMs` timer; `#overtime` is its error once it fired. */
  #cancelStreamTimer: (() => void) | undefined;
  #overtime: ProviderTimeoutError | undefined;
  readonly #box: Box = { stream: this };

  /** Takes over the served attempt; `owner` is the object the consumer holds (cancelled once it is garbage). */
  constructor(ctx: RouterContext, plan: CallPlan, served: Served<HeldStream>, owner: object) {
    this.#ctx = ctx;
    this.plan = plan;
    this.#served = served;
    this.#handed = new HandedOut(ctx.opts.limits.maxPartialChars);
    abandoned.register(owner, this.#box, this.#box);
  }

  get target(): string {
    return this.#served.entry.target;
  }

  /** Aborted once the caller's signal aborts, `close()` runs or a timer expires the stream. */
  get stopped(): { readonly aborted: boolean } {
    return this.#served.attempt.token;
  }

  /** The commit: reports it, arms the stream's timers and returns the chunks to hand out first. */
  start(): ChatChunk[] {
    const ctx = this.#ctx;
    const plan = this.plan;
    const { entry, attempt } = this.#served;
    const { held, ended } = this.#served.value;
    this.#firstChunkMs = ctx.clock.now() - plan.startedAt;
    reportResolved(ctx, plan, entry.target);
    if (ended) {
      attempt.disarm();
      // A clean stream with no content is a success: pass on only what carries the finish reason or usage.
      this.#state = 'ended';
      return held.filter((c) => !!c.choices[0]?.finish_reason || !!c.usage);
    }
    // Committed: the walk's first-chunk and total-budget deadline ends here; from now on only idleMs applies (the
    // attempt's timer, when it fires sooner, becomes the first idle check).
    this.#watchIdle(ctx.opts.timeouts.idleMs);
    this.#watchDuration();
    return held;
  }

  /** True while the upstream may send more (not ended at the commit, not closed). */
  get reading(): boolean {
    return this.#state === 'reading';
  }

  /** True once the stream ended one way or another (its attempt released). */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Records the first `n` chunks of `batch` as handed out to the consumer. */
  handOut(batch: ChatChunk[], n: number): void {
    this.#handed.add(batch, n);
  }

  /**
   * The next network read's chunks (under the idle and duration timers); call `arrived()` once it settled.
   * Not `async`: the caller's own loop awaits it, one promise layer per read instead of two.
   */
  next(): Promise<IteratorResult<ChatChunk[]>> {
    this.#waitingSince = this.#ctx.clock.now();
    const { attempt, value } = this.#served;
    return attempt.race(value.reader.next());
  }

  /** The read settled: idle time stops counting until the next `next()`. */
  arrived(): void {
    this.#waitingSince = undefined;
  }

  /** The upstream failed after the commit (a read rejected): returns the error the consumer sees. */
  upstreamError(raw: unknown): unknown {
    return this.#interrupted(raw, false);
  }

  /** Our own failure after the commit (not the upstream's): counts against no one; returns the error the consumer sees. */
  internalError(err: unknown): unknown {
    return this.#interrupted(err, true);
  }

  /** The upstream ended cleanly and everything was handed out: health, the `response` event, the slot. */
  finish(): void {
    const ctx = this.#ctx;
    const { entry } = this.#served;
    ctx.health.recordSuccess(entry.provider);
    reportServed(ctx, this.plan, entry.target, this.#handed.usage(), this.#firstChunkMs);
    this.close(false);
  }

  /** The consumer stops a committed stream that has not finished: the call ends here (`cancel`). */
  stop(): void {
    if (this.#state === 'closed') return;
    reportCancel(this.#ctx, this.plan, this.#served.entry.target, this.#firstChunkMs);
    this.close(true);
  }

  /** Ends the stream once: the attempt is released, and the upstream cancelled when `cancel` and still reading. */
  close(cancel: boolean): void {
    const state = this.#state;
    if (state === 'closed') return;
    this.#state = 'closed';
    this.#cancelStreamTimer?.();
    abandoned.unregister(this.#box);
    this.#box.stream = undefined;
    const served = this.#served;
    const stopped = cancel && state === 'reading';
    if (stopped) stopReader(served.value.reader);
    served.attempt.end(stopped);
  }

  /**
   * A failure after the commit point: health, then the error the consumer sees. `internal`: our own failure on the
   * way (not the upstream's), which counts against no one; nor does a stream that outlived `timeouts.streamMs`.
   */
  #interrupted(raw: unknown, internal: boolean): unknown {
    const ctx = this.#ctx;
    const plan = this.plan;
    const { entry, attempt } = this.#served;
    // Read before closing: cancelling the attempt would make it look aborted.
    const callerReason = attempt.abortReason() ?? (ctx.closed ? new ClosedError() : undefined);
    try {
      if (callerReason !== undefined) return reportFailure(ctx, plan, callerReason);
      const cause = (internal ? undefined : attempt.timeout) ?? asProviderError(raw, ctx, entry);
      const partial = this.#handed.snapshot();
      if (!internal && cause !== this.#overtime) judgeFailure(ctx, entry, cause);
      return reportFailure(
        ctx,
        plan,
        new StreamInterruptedError(
          `${cutModel(entry.target)}: stream interrupted after it started: ${cause.message}`,
          {
            provider: entry.provider,
            model: entry.model,
            resolved: entry.target,
            partial,
            cause,
            ...(cause.status === undefined ? {} : { status: cause.status }),
          },
        ),
      );
    } finally {
      // Whatever happened above, the slot is released and the request closed.
      this.close(true);
    }
  }

  /** `timeouts.streamMs`: the whole stream, from the call to its last chunk. */
  #watchDuration(): void {
    const { clock, opts } = this.#ctx;
    const ms = opts.timeouts.streamMs;
    if (!Number.isFinite(ms)) return;
    this.#cancelStreamTimer = clock.setTimer(Math.max(0, this.plan.startedAt + ms - clock.now()), () => {
      const { attempt, entry } = this.#served;
      if (this.#state !== 'reading') return;
      this.#overtime = new ProviderTimeoutError(
        `${cutModel(entry.target)}: stream lasted more than ${ms}ms (timeouts.streamMs)`,
        entry,
      );
      attempt.expire(this.#overtime);
    });
  }

  /** One timer for the whole stream: on firing it re-arms for the remainder instead of resetting per chunk. */
  #watchIdle(ms: number): void {
    this.#served.attempt.rearm(ms, () => this.#idleCheck());
  }

  #idleCheck(): void {
    const { clock, opts } = this.#ctx;
    const { attempt, entry } = this.#served;
    const idleMs = opts.timeouts.idleMs;
    const since = this.#waitingSince;
    const quiet = since === undefined ? 0 : clock.now() - since;
    // Not waiting (the consumer holds a chunk), or not quiet for long enough yet: look again when it could be.
    if (since === undefined || quiet < idleMs) {
      this.#watchIdle(idleMs - quiet);
      return;
    }
    attempt.expire(
      new ProviderTimeoutError(`${cutModel(entry.target)}: stream idle for more than ${idleMs}ms`, entry),
    );
  }
}
