import {
  ClosedError,
  type ManaLLMError,
  type ProviderError,
  ProviderTimeoutError,
  StreamInterruptedError,
} from '../errors.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  type BatchStreaming,
  type ProviderAdapter,
  STREAM_BATCHES,
} from '../providers/adapter.js';
import type { ChatChunk, ChatRequest, Usage } from '../types.js';
import { asProviderError, classify } from './classify.js';
import type { CallPlan, RouterContext } from './context.js';
import { reportCancel, reportFailure, reportRequest, reportServed } from './report.js';
import { PartialAnswer } from './stream-partial.js';
import { applyHealth, type Served, walkChain } from './walk-chain.js';

interface Opened {
  it: AsyncIterator<ChatChunk[]>;
  held: ChatChunk[];
  ended: boolean;
}

/**
 * An adapter's stream as arrays of chunks: the built-in adapters' own batches (one promise per network read),
 * else each chunk of `stream()` alone.
 */
function batchesOf(
  adapter: ProviderAdapter,
  req: AdapterChatRequest,
  ctx: AdapterContext,
): AsyncIterable<ChatChunk[]> {
  const batches = (adapter as BatchStreaming)[STREAM_BATCHES];
  if (batches) return batches.call(adapter, req, ctx);
  const stream = adapter.stream(req, ctx);
  return {
    [Symbol.asyncIterator](): AsyncIterator<ChatChunk[]> {
      const it = stream[Symbol.asyncIterator]();
      const end = { done: true, value: undefined } as const;
      return {
        // A `then` per chunk: cheaper than a generator wrapped around the adapter's.
        next: () => it.next().then((r) => (r.done ? end : { done: false, value: [r.value] })),
        return: () => (it.return ? it.return().then(() => end) : Promise.resolve(end)),
      };
    },
  };
}

/** A chunk that commits the stream: text, a refusal, a tool-call fragment or reasoning. */
function hasContent(c: ChatChunk): boolean {
  const d = c.choices[0]?.delta;
  if (!d) return false;
  return (
    !!d.content ||
    !!d.reasoning_content ||
    !!d.refusal ||
    (d.tool_calls !== undefined && d.tool_calls.length > 0)
  );
}

/**
 * Opens one attempt's stream and reads until the first content chunk (the commit point) or a clean end; the
 * rest of the batch holding that chunk is held too.
 */
async function openUntilCommit(stream: AsyncIterable<ChatChunk[]>): Promise<Opened> {
  const it = stream[Symbol.asyncIterator]();
  const held: ChatChunk[] = [];
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return { it, held, ended: true };
      let committed = false;
      for (const c of r.value) {
        held.push(c);
        if (!committed && hasContent(c)) committed = true;
      }
      if (committed) return { it, held, ended: false };
    }
  } catch (err) {
    void it.return?.()?.catch(() => undefined);
    throw err;
  }
}

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * A stream dropped by its consumer without `return()` (a manual `next()` loop left early): once it is garbage,
 * its upstream request is cancelled and its provider slot freed, instead of both being held until `close()`.
 */
const abandoned = new FinalizationRegistry<Served<Opened>>((served) => {
  void served.value.it.return?.()?.catch(() => undefined);
  served.done(true);
});

/** Where a stream is: not started, reading upstream, upstream ended (handing out the rest), or over. */
enum Phase {
  New,
  Reading,
  Ended,
  Closed,
}

/**
 * Streams with fallback up to the commit point: nothing reaches the consumer before the first content chunk;
 * a failure before it falls back invisibly; after it, any failure ends the stream with StreamInterruptedError.
 * This is what `llm.stream()` returns: an async generator written by hand, because a `yield` costs several
 * promise steps per chunk where this hands out each chunk of a network read as one resolved promise. It plans the
 * call on the first `next()` — a closed client or an unknown alias fails there — and reports it.
 */
export function streamChain(ctx: RouterContext, makePlan: () => CallPlan, req: ChatRequest): ChatStream {
  return new ChatStream(ctx, makePlan, req);
}

/** What a stream committed to: its plan, the entry that serves it and the attempts before it. */
export interface Committed {
  readonly plan: CallPlan;
  readonly target: string;
  readonly attempts: Served<unknown>['attempts'];
}

/** The stream `llm.stream()` returns; `committed` is set once the walk served (see `openStream`). */
export class ChatStream implements AsyncGenerator<ChatChunk, void, undefined> {
  readonly #ctx: RouterContext;
  readonly #makePlan: () => CallPlan;
  readonly #req: ChatRequest;
  #phase = Phase.New;
  #plan: CallPlan | undefined;
  #served: Served<Opened> | undefined;
  #firstChunkMs = 0;
  /** The chunks of the last network read; those before `#at` were handed out. */
  #batch: ChatChunk[] = [];
  #at = 0;
  /**
   * What was handed out, for StreamInterruptedError's partial answer: whole batches are kept as they are and added
   * up only when needed (or past 512 chunks, to bound memory), so a stream that ends well never pays for it.
   */
  readonly #partial: PartialAnswer;
  #handed: ChatChunk[][] = [];
  #handedCount = 0;
  /** Idle is upstream silence: measured only while waiting for the next read, never while the consumer holds one. */
  #waitingSince: number | undefined;
  /** Settles after the last call in line; a call made before then waits its turn, as on a native generator. */
  #tail: Promise<unknown> | undefined;
  /** Cancels the `timeouts.streamMs` timer; `#overtime` is its error once it fired. */
  #cancelStreamTimer: (() => void) | undefined;
  #overtime: ProviderTimeoutError | undefined;

  constructor(ctx: RouterContext, makePlan: () => CallPlan, req: ChatRequest) {
    this.#ctx = ctx;
    this.#makePlan = makePlan;
    this.#req = req;
    this.#partial = new PartialAnswer(ctx.opts.limits.maxPartialChars);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The plan, served entry and attempts once the stream committed; undefined before (or when the walk failed). */
  get committed(): Committed | undefined {
    const served = this.#served;
    const plan = this.#plan;
    return served && plan ? { plan, target: served.entry.target, attempts: served.attempts } : undefined;
  }

  next(): Promise<IteratorResult<ChatChunk, void>> {
    if (this.#tail === undefined) {
      // Nothing in line (the common case): a chunk already read goes out at once.
      if (this.#at < this.#batch.length)
        return Promise.resolve({ done: false, value: this.#batch[this.#at++] as ChatChunk });
      return this.#line(this.#step());
    }
    // Calls made while a read is in progress wait their turn, in order, as with a native generator.
    return this.#line(this.#tail.then(() => this.#step()));
  }

  /** Stops the stream: the upstream request is cancelled unless it already ended. */
  return(): Promise<IteratorResult<ChatChunk, void>> {
    const stop = (): IteratorResult<ChatChunk, void> => {
      this.#stopped();
      this.#close(true);
      return DONE;
    };
    return this.#line(this.#tail === undefined ? stop() : this.#tail.then(stop));
  }

  throw(err?: unknown): Promise<IteratorResult<ChatChunk, void>> {
    const stop = (): never => {
      this.#stopped();
      this.#close(true);
      throw err;
    };
    if (this.#tail === undefined) {
      this.#stopped();
      this.#close(true);
      return Promise.reject(err);
    }
    return this.#line(this.#tail.then(stop));
  }

  /** The next result: a chunk already read, the end, or a read (or the first, the walk). */
  #step(): IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>> {
    if (this.#at < this.#batch.length) return { done: false, value: this.#batch[this.#at++] as ChatChunk };
    if (this.#phase === Phase.Closed) return DONE;
    return this.#phase === Phase.New ? this.#open() : this.#read();
  }

  /** Puts a result in line: while it is pending, later calls wait for it. */
  #line(
    r: IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>>,
  ): Promise<IteratorResult<ChatChunk, void>> {
    if (!(r instanceof Promise)) return Promise.resolve(r);
    const tail: Promise<unknown> = r.then(
      () => {
        if (this.#tail === tail) this.#tail = undefined;
      },
      () => {
        if (this.#tail === tail) this.#tail = undefined;
      },
    );
    this.#tail = tail;
    return r;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => undefined);
  }

  /** Plans and walks the chain until an entry commits (or ends cleanly). */
  async #open(): Promise<IteratorResult<ChatChunk, void>> {
    const ctx = this.#ctx;
    const req = this.#req;
    // Closed from here on unless the walk serves: a failure to plan or serve ends the stream.
    this.#phase = Phase.Closed;
    const plan = this.#makePlan();
    this.#plan = plan;
    reportRequest(ctx, plan, req);
    let served: Served<Opened>;
    try {
      served = await walkChain(
        ctx,
        plan,
        {
          attemptMs: ctx.opts.timeouts.firstChunkMs,
          timeoutLabel: 'no first content chunk',
          run: (slot, entry, context) =>
            openUntilCommit(batchesOf(slot.adapter, { ...req, model: entry.model }, context)),
          // A commit is not yet a success: a provider whose streams all break after it must leave rotation.
          judgedAtEnd: (opened) => !opened.ended,
        },
        undefined,
      );
    } catch (err) {
      throw reportFailure(ctx, plan, err);
    }
    this.#served = served;
    abandoned.register(this, served, this);
    // Open until #commit says otherwise: a failure inside it must still release the slot and close the request.
    this.#phase = Phase.Reading;
    try {
      return this.#commit(plan, served);
    } catch (err) {
      throw this.#interrupted(err, true);
    }
  }

  /** The walk served: report it, arm the stream's timers and hand out the first chunk. */
  #commit(
    plan: CallPlan,
    served: Served<Opened>,
  ): IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>> {
    const ctx = this.#ctx;
    const { entry, attempt } = served;
    const { held, ended } = served.value;
    this.#firstChunkMs = ctx.clock.now() - plan.startedAt;
    if (plan.alias && ctx.events.has('resolved')) {
      ctx.events.emit('resolved', {
        id: plan.id,
        kind: plan.kind,
        alias: plan.alias.name,
        target: entry.target,
      });
    }
    // Committed: the walk's first-chunk and total-budget deadline ends here; from now on only idleMs applies.
    attempt.disarm();
    if (ended) {
      // A clean stream with no content is a success: pass on only what carries the finish reason or usage.
      this.#batch = held.filter((c) => !!c.choices[0]?.finish_reason || !!c.usage);
      this.#phase = Phase.Ended;
    } else {
      this.#batch = held;
      this.#phase = Phase.Reading;
      this.#watchIdle(ctx.opts.timeouts.idleMs);
      this.#watchDuration(plan);
    }
    // The chunk itself, not `this.next()`: a promise returned from here would cost two more steps.
    if (this.#at < this.#batch.length) return { done: false, value: this.#batch[this.#at++] as ChatChunk };
    return this.#read();
  }

  /** Waits for the next network read's chunks, or finishes the stream at its end. */
  async #read(): Promise<IteratorResult<ChatChunk, void>> {
    const served = this.#served as Served<Opened>;
    try {
      while (this.#phase === Phase.Reading) {
        let r: IteratorResult<ChatChunk[]>;
        try {
          this.#waitingSince = this.#ctx.clock.now();
          r = await served.attempt.race(served.value.it.next());
          this.#waitingSince = undefined;
        } catch (raw) {
          throw this.#interrupted(raw, false);
        }
        if (r.done) break;
        this.#fold();
        this.#batch = r.value;
        if (this.#batch.length > 0) return { done: false, value: this.#batch[this.#at++] as ChatChunk };
      }
      this.#finish();
      return DONE;
    } catch (err) {
      // Already the consumer's error (the stream is closed), or a failure of our own bookkeeping on the way.
      if (this.#phase === Phase.Closed) throw err;
      throw this.#interrupted(err, true);
    }
  }

  /** `timeouts.streamMs`: the whole stream, from the call to its last chunk, held weakly as the idle timer is. */
  #watchDuration(plan: CallPlan): void {
    const { clock, opts } = this.#ctx;
    const ms = opts.timeouts.streamMs;
    if (!Number.isFinite(ms)) return;
    const stream = new WeakRef(this);
    this.#cancelStreamTimer = clock.setTimer(Math.max(0, plan.startedAt + ms - clock.now()), () => {
      const alive = stream.deref();
      if (alive) alive.#overrun(ms);
    });
  }

  #overrun(ms: number): void {
    const { attempt, entry } = this.#served as Served<Opened>;
    if (this.#phase !== Phase.Reading) return;
    this.#overtime = new ProviderTimeoutError(
      `${entry.target}: stream lasted more than ${ms}ms (timeouts.streamMs)`,
      { provider: entry.provider, model: entry.model },
    );
    attempt.expire(this.#overtime);
  }

  /**
   * One timer for the whole stream: on firing it re-arms for the remainder instead of resetting per chunk. It holds
   * the stream weakly, so that a stream its consumer dropped can be collected (see `abandoned`).
   */
  #watchIdle(ms: number): void {
    const { clock } = this.#ctx;
    const stream = new WeakRef(this);
    (this.#served as Served<Opened>).attempt.arm(clock, ms, () => {
      const alive = stream.deref();
      if (alive) alive.#idleCheck();
    });
  }

  #idleCheck(): void {
    const { clock, opts } = this.#ctx;
    const { attempt, entry } = this.#served as Served<Opened>;
    const idleMs = opts.timeouts.idleMs;
    const since = this.#waitingSince;
    const quiet = since === undefined ? 0 : clock.now() - since;
    // Not waiting (the consumer holds a chunk), or not quiet for long enough yet: look again when it could be.
    if (since === undefined || quiet < idleMs) {
      this.#watchIdle(idleMs - quiet);
      return;
    }
    attempt.expire(
      new ProviderTimeoutError(`${entry.target}: stream idle for more than ${idleMs}ms`, {
        provider: entry.provider,
        model: entry.model,
      }),
    );
  }

  /** The consumer stops a committed stream that has not finished: the call ends here (`cancel`). */
  #stopped(): void {
    const served = this.#served;
    if (!served || this.#phase === Phase.Closed) return;
    reportCancel(this.#ctx, this.#plan as CallPlan, served.entry.target, this.#firstChunkMs);
  }

  /** The upstream ended cleanly and everything was handed out. */
  #finish(): void {
    const ctx = this.#ctx;
    const plan = this.#plan as CallPlan;
    const { entry } = this.#served as Served<Opened>;
    this.#fold();
    ctx.health.recordSuccess(entry.provider);
    if (ctx.events.has('response') || plan.trace)
      reportServed(ctx, plan, entry.target, this.#usage(), this.#firstChunkMs);
    this.#close(false);
  }

  /**
   * A failure after the commit point: health, then the error the consumer sees. `internal`: our own failure on the
   * way (not the upstream's), which counts against no one; nor does a stream that outlived `timeouts.streamMs`.
   */
  #interrupted(raw: unknown, internal: boolean): unknown {
    const ctx = this.#ctx;
    const plan = this.#plan as CallPlan;
    const { entry, attempt } = this.#served as Served<Opened>;
    // Read before closing: cancelling the attempt would make it look aborted.
    const callerReason = attempt.abortReason() ?? (ctx.closed ? new ClosedError() : undefined);
    if (callerReason !== undefined) {
      this.#close(true);
      return reportFailure(ctx, plan, callerReason);
    }
    let reported: unknown;
    try {
      const cause = internal
        ? asProviderError(raw, entry.provider, entry.model)
        : (attempt.timeout ?? asProviderError(raw, entry.provider, entry.model));
      try {
        this.#fold();
        this.#settle();
      } catch {
        // The chunk that broke the bookkeeping cannot go into the partial answer either.
        this.#handed = [];
        this.#handedCount = 0;
      }
      if (internal || cause === this.#overtime) ctx.health.release(entry.provider);
      else applyHealth(ctx, entry, classify(cause, ctx.opts.fallbackOnAuthError), cause);
      reported = reportFailure(ctx, plan, this.#interruption(cause));
    } finally {
      // Whatever happened above, the slot is released and the request closed.
      this.#close(true);
    }
    return reported;
  }

  #interruption(cause: ProviderError): StreamInterruptedError {
    const { entry } = this.#served as Served<Opened>;
    return new StreamInterruptedError(
      `${entry.target}: stream interrupted after it started: ${cause.message}`,
      {
        provider: entry.provider,
        model: entry.model,
        resolved: entry.target,
        partial: this.#partial.snapshot(),
        cause: cause as ManaLLMError,
        ...(cause.status === undefined ? {} : { status: cause.status }),
      },
    );
  }

  /** Moves what the consumer received of the current batch to the handed-out list. */
  #fold(): void {
    const batch = this.#batch;
    const n = this.#at;
    if (n > 0) {
      this.#handed.push(n === batch.length ? batch : batch.slice(0, n));
      this.#handedCount += n;
      if (this.#handedCount > 512) this.#settle();
    }
    this.#batch = [];
    this.#at = 0;
  }

  /** Adds the handed-out chunks up into the partial answer. */
  #settle(): void {
    for (const batch of this.#handed) for (const c of batch) this.#partial.add(c);
    this.#handed = [];
    this.#handedCount = 0;
  }

  /** The usage the stream reported last, if any. */
  #usage(): Usage | undefined {
    for (let i = this.#handed.length - 1; i >= 0; i--) {
      const batch = this.#handed[i] as ChatChunk[];
      for (let j = batch.length - 1; j >= 0; j--) {
        const usage = (batch[j] as ChatChunk).usage;
        if (usage) return usage;
      }
    }
    return this.#partial.usage;
  }

  /** Ends the stream once: the attempt is released, and the upstream cancelled when `cancel` and still reading. */
  #close(cancel: boolean): void {
    const phase = this.#phase;
    this.#phase = Phase.Closed;
    this.#batch = [];
    this.#at = 0;
    this.#cancelStreamTimer?.();
    this.#cancelStreamTimer = undefined;
    const served = this.#served;
    if (!served || phase === Phase.Closed) return;
    abandoned.unregister(this);
    const stopped = cancel && phase === Phase.Reading;
    if (stopped) void served.value.it.return?.()?.catch(() => undefined);
    served.done(stopped);
  }
}
