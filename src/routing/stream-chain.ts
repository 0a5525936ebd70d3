import {
  type ManaLLMError,
  ProviderTimeoutError,
  StreamInterruptedError,
  type StreamPartial,
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
import { reportFailure, reportRequest } from './report.js';
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

/** A chunk that commits the stream: text, a tool-call fragment or reasoning. */
function hasContent(c: ChatChunk): boolean {
  const d = c.choices[0]?.delta;
  if (!d) return false;
  return !!d.content || !!d.reasoning_content || (d.tool_calls !== undefined && d.tool_calls.length > 0);
}

class Partial {
  content = '';
  toolCalls: { index: number; id?: string; name?: string; arguments: string }[] = [];
  usage: Usage | undefined;

  add(c: ChatChunk): void {
    if (c.usage) this.usage = c.usage;
    const d = c.choices[0]?.delta;
    if (!d) return;
    if (d.content) this.content += d.content;
    if (d.tool_calls) {
      for (const t of d.tool_calls) {
        let call = this.toolCalls.find((x) => x.index === t.index);
        if (!call) this.toolCalls.push((call = { index: t.index, arguments: '' }));
        if (t.id) call.id = t.id;
        if (t.function?.name) call.name = t.function.name;
        if (t.function?.arguments) call.arguments += t.function.arguments;
      }
    }
  }

  snapshot(): StreamPartial {
    return { content: this.content, toolCalls: this.toolCalls };
  }
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

/**
 * Streams with fallback up to the commit point: nothing reaches the consumer before the first content chunk;
 * a failure before it falls back invisibly; after it, any failure ends the stream with StreamInterruptedError.
 * This generator is what `llm.stream()` returns (no wrapper generator: that would cost a promise per chunk), so
 * it plans the call on its first step — a closed client or an unknown alias fails there — and reports it.
 */
export async function* streamChain(
  ctx: RouterContext,
  makePlan: () => CallPlan,
  req: ChatRequest,
): AsyncGenerator<ChatChunk, void, undefined> {
  const plan = makePlan();
  reportRequest(ctx, plan);
  const { clock, events } = ctx;
  const { timeouts } = ctx.opts;
  let served: Served<Opened>;
  try {
    served = await walkChain(
      ctx,
      plan,
      {
        attemptMs: timeouts.firstChunkMs,
        timeoutLabel: 'no first content chunk',
        run: (slot, entry, context) =>
          openUntilCommit(batchesOf(slot.adapter, { ...req, model: entry.model }, context)),
      },
      undefined,
    );
  } catch (err) {
    throw reportFailure(ctx, plan, err);
  }
  const { entry, attempt } = served;
  const { it, held, ended } = served.value;
  const firstChunkMs = clock.now() - plan.startedAt;
  if (plan.alias && events.has('resolved')) {
    events.emit('resolved', { id: plan.id, kind: plan.kind, alias: plan.alias.name, target: entry.target });
  }
  const partial = new Partial();
  let finished = ended;
  // Idle is upstream silence: it runs only while waiting for the next chunk, never while the consumer holds one.
  let waitingSince: number | undefined;
  // One timer for the whole stream: on firing it re-arms for the remainder instead of resetting per chunk.
  const watchIdle = (ms: number): void =>
    attempt.arm(clock, ms, () => {
      if (waitingSince === undefined) return watchIdle(timeouts.idleMs);
      const quiet = clock.now() - waitingSince;
      if (quiet < timeouts.idleMs) return watchIdle(timeouts.idleMs - quiet);
      attempt.expire(
        new ProviderTimeoutError(`${entry.target}: stream idle for more than ${timeouts.idleMs}ms`, {
          provider: entry.provider,
          model: entry.model,
        }),
      );
    });
  try {
    // Committed: the walk's first-chunk and total-budget deadline ends here; from now on only idleMs applies.
    attempt.disarm();
    if (ended) {
      // A clean stream with no content is a success: pass on only what carries the finish reason or usage.
      for (const c of held) {
        if (!c.choices[0]?.finish_reason && !c.usage) continue;
        partial.add(c);
        yield c;
      }
    } else {
      watchIdle(timeouts.idleMs);
      for (const c of held) {
        partial.add(c);
        yield c;
      }
      for (;;) {
        waitingSince = clock.now();
        const r = await attempt.race(it.next());
        waitingSince = undefined;
        if (r.done) break;
        for (const c of r.value) {
          partial.add(c);
          yield c;
        }
      }
      finished = true;
    }
    if (events.has('response')) {
      events.emit('response', {
        id: plan.id,
        kind: plan.kind,
        requested: plan.requested,
        resolved: entry.target,
        durationMs: clock.now() - plan.startedAt,
        firstChunkMs,
        ...(partial.usage ? { usage: partial.usage } : {}),
      });
    }
  } catch (raw) {
    const callerReason = attempt.abortReason();
    if (callerReason !== undefined) throw reportFailure(ctx, plan, callerReason);
    const cause = attempt.timeout ?? asProviderError(raw, entry.provider, entry.model);
    applyHealth(ctx, entry, classify(cause, ctx.opts.fallbackOnAuthError), cause);
    const interrupted = new StreamInterruptedError(
      `${entry.target}: stream interrupted after it started: ${cause.message}`,
      {
        provider: entry.provider,
        model: entry.model,
        resolved: entry.target,
        partial: partial.snapshot(),
        cause: cause as ManaLLMError,
        ...(cause.status === undefined ? {} : { status: cause.status }),
      },
    );
    throw reportFailure(ctx, plan, interrupted);
  } finally {
    if (!finished) void it.return?.()?.catch(() => undefined);
    served.done(!finished);
  }
}
