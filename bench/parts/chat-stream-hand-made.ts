import { CommittedStream } from '../../src/routing/committed-stream.js';
import type { CallPlan, RouterContext } from '../../src/routing/context.js';
import { reportFailure, reportRequest } from '../../src/routing/report.js';
import { type CallServices, routingOf } from '../../src/routing/serve-call.js';
import { STREAM_STEP } from '../../src/routing/stream-commit.js';
import { walkChain } from '../../src/routing/walk-chain.js';
import { activeChannel } from '../../src/trace-channels.js';
import type { CallOptions, ChatChunk, ChatRequest, Routing } from '../../src/types.js';

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });
/** No chunks (never written to). */
const NONE: ChatChunk[] = [];

/** Where a stream is: not started, open (committed), or over. */
enum Phase {
  New,
  Open,
  Closed,
}

/**
 * Parts bench variant of `src/routing/chat-stream.ts` (part `generator`): the hand-written AsyncGenerator class that
 * `llm.stream()` returned until a native `async function*` replaced it (session 10: it won 0-7 % end to end, under
 * issue 15's 10 % bar; bench/README.md). Kept for the comparison.
 */
export function streamChain(
  services: CallServices,
  req: ChatRequest,
  opts: CallOptions | undefined,
  onCommit?: (routing: Routing) => void,
): ChatStream {
  const makePlan = () =>
    services.planner.plan(
      'stream',
      req,
      opts,
      activeChannel('stream') ? { kind: 'stream', request: req } : undefined,
    );
  return new ChatStream(services.ctx, makePlan, req, onCommit);
}

/** The stream `llm.stream()` returned; `onCommit` learns how it was routed (see `openStream`). */
export class ChatStream implements AsyncGenerator<ChatChunk, void, undefined> {
  readonly #ctx: RouterContext;
  readonly #makePlan: () => CallPlan;
  readonly #req: ChatRequest;
  readonly #onCommit: ((routing: Routing) => void) | undefined;
  #phase = Phase.New;
  #committed: CommittedStream | undefined;
  /** The chunks of the last network read; those before `#at` were handed out. */
  #batch: ChatChunk[] = NONE;
  #at = 0;
  /**
   * The read (or walk) in progress that no call waits behind yet: it clears this itself when it settles, so the
   * usual `next()`, made after the previous one settled, puts nothing in line.
   */
  #current: Promise<unknown> | undefined;
  /** Settles after the last call waiting in line; a call made before then waits its turn, as on a native generator. */
  #tail: Promise<unknown> | undefined;

  constructor(
    ctx: RouterContext,
    makePlan: () => CallPlan,
    req: ChatRequest,
    onCommit: ((routing: Routing) => void) | undefined,
  ) {
    this.#ctx = ctx;
    this.#makePlan = makePlan;
    this.#req = req;
    this.#onCommit = onCommit;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ChatChunk, void>> {
    const behind = this.#behind();
    if (behind === undefined) {
      // Nothing in progress (the common case): a chunk already read goes out at once, else a read starts.
      if (this.#at < this.#batch.length)
        return Promise.resolve({ done: false, value: this.#batch[this.#at++] as ChatChunk });
      let r: IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>>;
      try {
        r = this.#step();
      } catch (err) {
        return Promise.reject(err);
      }
      if (!(r instanceof Promise)) return Promise.resolve(r);
      this.#current = r;
      return r;
    }
    // Calls made while a read is in progress wait their turn, in order, as with a native generator.
    return this.#line(behind.then(() => this.#step()));
  }

  /** Stops the stream: the upstream request is cancelled unless it already ended. */
  return(): Promise<IteratorResult<ChatChunk, void>> {
    const stop = (): IteratorResult<ChatChunk, void> => {
      this.#stop();
      return DONE;
    };
    const behind = this.#behind();
    return behind === undefined ? Promise.resolve(stop()) : this.#line(behind.then(stop));
  }

  throw(err?: unknown): Promise<IteratorResult<ChatChunk, void>> {
    const stop = (): never => {
      this.#stop();
      throw err;
    };
    const behind = this.#behind();
    if (behind === undefined) {
      this.#stop();
      return Promise.reject(err);
    }
    return this.#line(behind.then(stop));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => undefined);
  }

  /** The next result: a chunk already read, the end, or a read (or the first, the walk). */
  #step(): IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>> {
    if (this.#at < this.#batch.length) return { done: false, value: this.#batch[this.#at++] as ChatChunk };
    if (this.#phase === Phase.Closed) return DONE;
    return this.#read();
  }

  /** What a call made now must wait for: the last call in line, or the read in progress; the read joins the line. */
  #behind(): Promise<unknown> | undefined {
    const behind = this.#tail ?? this.#current;
    this.#current = undefined;
    return behind;
  }

  /** Puts a result in line: while it is pending, later calls wait for it. */
  #line(r: Promise<IteratorResult<ChatChunk, void>>): Promise<IteratorResult<ChatChunk, void>> {
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

  /** Plans and walks the chain until an entry commits (or ends cleanly); true when a chunk is ready to hand out. */
  async #open(): Promise<boolean> {
    const ctx = this.#ctx;
    // Closed from here on unless the walk serves: a failure to plan or serve ends the stream.
    this.#phase = Phase.Closed;
    const plan = this.#makePlan();
    reportRequest(ctx, plan, this.#req);
    let committed: CommittedStream;
    try {
      committed = new CommittedStream(ctx, plan, await walkChain(ctx, plan, STREAM_STEP, this.#req), this);
    } catch (err) {
      throw reportFailure(ctx, plan, err);
    }
    this.#committed = committed;
    this.#onCommit?.(routingOf(plan, committed.target, plan.attempts));
    this.#phase = Phase.Open;
    try {
      this.#batch = committed.start();
    } catch (err) {
      // A failure inside the commit must still release the slot and close the request.
      this.#phase = Phase.Closed;
      throw committed.internalError(err);
    }
    return this.#batch.length > 0;
  }

  /** Waits for the next network read's chunks (the first time, for the walk), or finishes the stream at its end. */
  #read(): IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>> {
    if (this.#phase === Phase.New) return this.#first();
    const committed = this.#committed as CommittedStream;
    try {
      committed.handOut(this.#batch, this.#at);
    } catch (err) {
      throw this.#failed(err);
    }
    this.#batch = NONE;
    this.#at = 0;
    if (!committed.reading) return this.#finish();
    // A `then` per network read rather than an `async` method: one promise per read instead of three, which is
    // what a paced stream pays for (bench/README.md, "realistic stream").
    return committed.next().then(this.#arrived, this.#readFailed);
  }

  /** The first read: the walk, then its first chunk (or, when the commit held none, the end). */
  async #first(): Promise<IteratorResult<ChatChunk, void>> {
    try {
      if (await this.#open()) return { done: false, value: this.#batch[this.#at++] as ChatChunk };
      return await this.#read();
    } finally {
      this.#current = undefined;
    }
  }

  /** A network read's chunks arrived: the first goes out, the rest wait in `#batch`. */
  readonly #arrived = (
    r: IteratorResult<ChatChunk[]>,
  ): IteratorResult<ChatChunk, void> | Promise<IteratorResult<ChatChunk, void>> => {
    this.#current = undefined;
    (this.#committed as CommittedStream).arrived();
    if (r.done) return this.#finish();
    // An adapter's empty batch: read on.
    if (r.value.length === 0) return this.#read();
    this.#batch = r.value;
    return { done: false, value: r.value[this.#at++] as ChatChunk };
  };

  readonly #readFailed = (raw: unknown): never => {
    this.#current = undefined;
    throw this.#failed((this.#committed as CommittedStream).upstreamError(raw));
  };

  /** The upstream ended and everything was handed out. */
  #finish(): IteratorResult<ChatChunk, void> {
    try {
      (this.#committed as CommittedStream).finish();
    } catch (err) {
      throw this.#failed(err);
    }
    this.#phase = Phase.Closed;
    return DONE;
  }

  /** The stream ends with `err`: already the consumer's error (the stream closed), or our own failure on the way. */
  #failed(err: unknown): unknown {
    this.#phase = Phase.Closed;
    const committed = this.#committed as CommittedStream;
    return committed.closed ? err : committed.internalError(err);
  }

  /** The consumer stops the stream: a committed one that has not finished is cancelled and reported. */
  #stop(): void {
    this.#phase = Phase.Closed;
    this.#batch = NONE;
    this.#at = 0;
    this.#committed?.stop();
  }
}
