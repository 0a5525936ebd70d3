import type { Clock } from '../clock.js';
import type { CallOptions, ChatChunk, ChatRequest, Routing } from '../types.js';
import { streamChain } from './chat-stream.js';
import type { CallServices } from './serve-call.js';

/**
 * A stream that has committed: its first chunks are already read and held, `routing` and `model` say who serves it.
 * Iterate it once; `return()` (or leaving a `for await`) cancels the upstream.
 */
export interface OpenedStream extends AsyncGenerator<ChatChunk, void, undefined> {
  /** How the stream was routed (`attempts` are the entries tried before the one that serves). */
  readonly routing: Routing;
  /** The concrete `provider/model` that serves the stream (`routing.resolved`). */
  readonly model: string;
  /**
   * @internal The client's `timeouts.idleMs` and clock: how long mana-llm/http waits for a client that stopped
   * reading (the library's own idle timer counts only while the consumer waits for a chunk).
   */
  readonly idle?: { readonly ms: number; readonly clock: Clock };
}

// A class, not an `async function*` around the stream: a generator returned before its first `next()` never runs its
// body, so the committed upstream it holds would stay open until it is garbage.
class Opened implements OpenedStream {
  readonly routing: Routing;
  readonly model: string;
  readonly idle: { readonly ms: number; readonly clock: Clock };
  readonly #inner: AsyncGenerator<ChatChunk, void, undefined>;
  /** The first result, read while waiting for the commit; handed out by the first `next()`. */
  #first: IteratorResult<ChatChunk, void> | undefined;

  constructor(
    inner: AsyncGenerator<ChatChunk, void, undefined>,
    first: IteratorResult<ChatChunk, void>,
    routing: Routing,
    idle: { readonly ms: number; readonly clock: Clock },
  ) {
    this.idle = idle;
    this.#inner = inner;
    this.#first = first;
    this.routing = routing;
    this.model = routing.resolved;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ChatChunk, void>> {
    const first = this.#first;
    if (first === undefined) return this.#inner.next();
    this.#first = undefined;
    return Promise.resolve(first);
  }

  return(): Promise<IteratorResult<ChatChunk, void>> {
    this.#first = undefined;
    return this.#inner.return();
  }

  throw(err?: unknown): Promise<IteratorResult<ChatChunk, void>> {
    this.#first = undefined;
    return this.#inner.throw(err);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => undefined);
  }
}

/**
 * Walks the chain of a stream until it commits (its first content chunk, or a clean end) and resolves with the
 * stream; any routing error (unknown alias, no healthy provider, the caller's own mistake) rejects before a byte is
 * handed out.
 */
export async function openStream(
  services: CallServices,
  request: ChatRequest,
  opts: CallOptions | undefined,
): Promise<OpenedStream> {
  const seen: { routing?: Routing } = {};
  const stream = streamChain(services, request, opts, (routing) => {
    seen.routing = routing;
  });
  // The first `next()` is the walk: it throws, or it commits (calling back above) and settles with the first held
  // chunk. Nothing else holds the stream yet, so nothing can close it before.
  const first = await stream.next();
  const { clock, opts: o } = services.ctx;
  return new Opened(stream, first, seen.routing as Routing, { ms: o.timeouts.idleMs, clock });
}
