import { activeChannel } from '../trace-channels.js';
import type { CallOptions, ChatChunk, ChatRequest, Routing } from '../types.js';
import { CommittedStream } from './committed-stream.js';
import { reportFailure, reportRequest } from './report.js';
import { type CallServices, routingOf } from './serve-call.js';
import { STREAM_STEP } from './stream-commit.js';
import { walkChain } from './walk-chain.js';

/**
 * Streams with fallback up to the commit point: nothing reaches the consumer before the first content chunk;
 * a failure before it falls back invisibly; after it, any failure ends the stream with StreamInterruptedError.
 * This is what `llm.stream()` returns, a native async generator: it plans the call on the first `next()` (a closed
 * client or an unknown alias fails there), and `onCommit` learns how it was routed once it commits.
 */
export function streamChain(
  services: CallServices,
  req: ChatRequest,
  opts: CallOptions | undefined,
  onCommit?: (routing: Routing) => void,
): AsyncGenerator<ChatChunk, void, undefined> {
  // The stream is cancelled once the consumer drops it unfinished: the committed stream watches the generator itself.
  const self: { stream?: object | undefined } = {};
  const stream = chatStream(services, req, opts, self, onCommit);
  self.stream = stream;
  return stream;
}

async function* chatStream(
  { ctx, planner }: CallServices,
  req: ChatRequest,
  opts: CallOptions | undefined,
  self: { stream?: object | undefined },
  onCommit: ((routing: Routing) => void) | undefined,
): AsyncGenerator<ChatChunk, void, undefined> {
  const trace = activeChannel('stream') ? { kind: 'stream' as const, request: req } : undefined;
  const plan = planner.plan('stream', req, opts, trace);
  reportRequest(ctx, plan, req);
  let committed: CommittedStream;
  try {
    committed = new CommittedStream(
      ctx,
      plan,
      await walkChain(ctx, plan, STREAM_STEP, req),
      self.stream as object,
    );
  } catch (err) {
    throw reportFailure(ctx, plan, err);
  }
  self.stream = undefined;
  onCommit?.(routingOf(plan, committed.target, plan.attempts));
  // True while suspended at a `yield`: what is thrown there is the consumer's `throw()`, passed on as it is.
  let consumer = false;
  try {
    // The chunks of the last network read (first, those the commit held); those before `at` were handed out.
    let batch = committed.start();
    let at = 0;
    // Aborted (the caller's signal, close(), timeouts.streamMs) while the consumer held a chunk: the rest of the read
    // is not handed out; the next read rejects with what aborted it.
    const { stopped } = committed;
    for (;;) {
      while (at < batch.length && !stopped.aborted) {
        consumer = true;
        yield batch[at++] as ChatChunk;
        consumer = false;
      }
      committed.handOut(batch, at);
      if (!committed.reading && !stopped.aborted) break;
      let r: IteratorResult<ChatChunk[]>;
      try {
        r = await committed.next();
      } catch (raw) {
        throw committed.upstreamError(raw);
      }
      committed.arrived();
      if (r.done) break;
      batch = r.value;
      at = 0;
    }
    committed.finish();
  } catch (err) {
    // Already the consumer's error, or the stream closed with it; else our own failure on the way (in the commit,
    // the partial answer or the finish), which must still release the slot and close the request.
    if (consumer || committed.closed) throw err;
    throw committed.internalError(err);
  } finally {
    // The consumer's `return()` or `throw()` at a yield: cancelled and reported (nothing when the stream ended).
    committed.stop();
  }
}

// `await using` on Node 20, whose async generators have no `Symbol.asyncDispose` of their own.
Object.defineProperty(chatStream.prototype, Symbol.asyncDispose, {
  value(this: AsyncGenerator<ChatChunk, void, undefined>): Promise<void> {
    return this.return(undefined).then(() => undefined);
  },
});
