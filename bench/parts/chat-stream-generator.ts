/**
 * Alternative for src/routing/chat-stream.ts (bench/parts.ts `generator`): `llm.stream()` as a native
 * `async function*` over the same commit walk and committed stream, instead of the hand-written ChatStream class.
 */
import { type Committed, CommittedStream } from '../../src/routing/committed-stream.js';
import type { CallPlan, RouterContext } from '../../src/routing/context.js';
import { reportFailure, reportRequest } from '../../src/routing/report.js';
import { walkToCommit } from '../../src/routing/stream-commit.js';
import type { ChatChunk, ChatRequest } from '../../src/types.js';

const COMMITTED = Symbol('committed');

/** The stream `llm.stream()` returns; `committed` is set once the walk served (see `openStream`). */
export type ChatStream = AsyncGenerator<ChatChunk, void, undefined> & {
  readonly committed: Committed | undefined;
};

/** The stream of one call: plans on the first `next()`, walks to the commit, then hands out every chunk. */
export function streamChain(ctx: RouterContext, makePlan: () => CallPlan, req: ChatRequest): ChatStream {
  const self: { stream?: ChatStream | undefined } = {};
  const stream = chatStream(ctx, makePlan, req, self) as unknown as ChatStream;
  self.stream = stream;
  return stream;
}

async function* chatStream(
  ctx: RouterContext,
  makePlan: () => CallPlan,
  req: ChatRequest,
  self: { stream?: ChatStream | undefined },
): AsyncGenerator<ChatChunk, void, undefined> {
  const plan = makePlan();
  reportRequest(ctx, plan, req);
  let committed: CommittedStream;
  try {
    committed = new CommittedStream(ctx, plan, await walkToCommit(ctx, plan, req), self.stream as object);
  } catch (err) {
    throw reportFailure(ctx, plan, err);
  }
  (self.stream as unknown as Record<symbol, Committed>)[COMMITTED] = committed;
  self.stream = undefined;
  let batch: ChatChunk[] = [];
  let at = 0;
  // Set while suspended at a yield: what is thrown there is the consumer's throw(), passed on as it is.
  let consumer = false;
  try {
    try {
      batch = committed.start();
    } catch (err) {
      throw committed.internalError(err, batch, at);
    }
    for (;;) {
      while (at < batch.length) {
        consumer = true;
        yield batch[at++] as ChatChunk;
        consumer = false;
      }
      committed.handOut(batch, at);
      batch = [];
      at = 0;
      if (!committed.reading) break;
      let r: IteratorResult<ChatChunk[]>;
      try {
        r = await committed.next();
      } catch (raw) {
        throw committed.upstreamError(raw);
      }
      committed.arrived();
      if (r.done) break;
      batch = r.value;
    }
    committed.finish();
  } catch (err) {
    if (consumer || committed.closed) throw err;
    throw committed.internalError(err, [], 0);
  } finally {
    // The consumer's return() or throw() at a yield: cancel and report (nothing when the stream already ended).
    committed.stop();
  }
}

Object.defineProperty(chatStream.prototype, 'committed', {
  get(this: Record<symbol, Committed | undefined>) {
    return this[COMMITTED];
  },
});
Object.defineProperty(chatStream.prototype, Symbol.asyncDispose, {
  value(this: AsyncGenerator<ChatChunk, void, undefined>) {
    return this.return(undefined).then(() => undefined);
  },
});
