import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { isAlias } from '../aliases/model-string.js';
import type { ManaLLM } from '../client.js';
import { type Attempt, cutModel, type ManaLLMError } from '../errors.js';
import type { ManaLLMEventName, ManaLLMListener } from '../events.js';
import { ATTR, providerName } from './semconv.js';

/** Options of `instrumentOpenTelemetry`. */
export interface OpenTelemetryOptions {
  /** The tracer spans are recorded with (default: `trace.getTracer('mana-llm')` of the global tracer provider). */
  tracer?: Tracer;
}

/** A call whose span is open. */
interface Open {
  readonly span: Span;
  /** The context with the call's span: parent of its attempt spans. */
  readonly ctx: Context;
  readonly startMs: number;
  /**
   * What `fallback` events told, with when. Recorded once the call's record gives each its place in the chain: a
   * hedge can fail beside an entry still running (told first, later in the chain), and the loser (`hedged-out`) is
   * told by no event, so neither the order nor the count of the events is the index.
   */
  readonly told: { readonly attempt: Attempt; readonly end: number }[];
  /** A stream's time to its commit point, from the alias's `resolved` event: a failure after it has none. */
  firstChunkMs?: number;
}

// Epoch milliseconds with sub-millisecond precision, the time base of every span and event this module records.
const nowMs = (): number => performance.timeOrigin + performance.now();

/**
 * `error.type`: the error's class name; the caller's own abort (wrapped by the failure event as a PROVIDER_RESPONSE
 * error of no provider) by its own name.
 */
function errorType(err: ManaLLMError): string {
  const { cause } = err;
  const ownAbort =
    err.code === 'PROVIDER_RESPONSE' &&
    (err as { provider?: string }).provider === '' &&
    cause instanceof Error;
  return ownAbort ? cause.name : err.name;
}

/**
 * Records every call of `llm` as an OpenTelemetry CLIENT span named `{operation} {requested model}` with the GenAI
 * semantic-convention attributes, and each chain entry that called an upstream as a child span (`attempt
 * {target}`), so a fallback shows in any trace viewer. Returns the function that stops recording.
 */
export function instrumentOpenTelemetry(llm: ManaLLM, options: OpenTelemetryOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('mana-llm');
  const open = new Map<string, Open>();
  const subscribed: (() => void)[] = [];
  const on = <K extends ManaLLMEventName>(name: K, fn: ManaLLMListener<K>): void => {
    llm.on(name, fn);
    subscribed.push(() => llm.off(name, fn));
  };
  const take = (id: string): Open | undefined => {
    const o = open.get(id);
    open.delete(id);
    return o;
  };

  /** One chain entry: a child span when it called an upstream, else a `mana.skip` event on the call's span. */
  function record(o: Open, a: Attempt, index: number, end: number, firstChunkMs?: number): void {
    if (a.durationMs === undefined) {
      o.span.addEvent('mana.skip', { [ATTR.target]: a.target, [ATTR.reason]: a.reason }, end);
      return;
    }
    // A stream's serving attempt lasts until the stream ends; its durationMs is the time to its commit point.
    const start =
      a.reason === 'ok' && firstChunkMs !== undefined
        ? o.startMs + firstChunkMs - a.durationMs
        : end - a.durationMs;
    const attributes: Attributes = {
      [ATTR.target]: a.target,
      [ATTR.reason]: a.reason,
      [ATTR.index]: index,
      [ATTR.provider]: providerName(a.target),
    };
    if (a.status !== undefined) attributes[ATTR.httpStatus] = a.status;
    const span = tracer.startSpan(
      `attempt ${cutModel(a.target)}`,
      { kind: SpanKind.INTERNAL, attributes, startTime: Math.max(o.startMs, start) },
      o.ctx,
    );
    // A hedged-out attempt was cancelled because another answered first: no error.
    if (a.reason !== 'ok' && a.reason !== 'hedged-out') {
      span.setAttribute(ATTR.errorType, a.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: a.error?.message ?? a.reason });
    }
    span.end(end);
  }

  /** Records every chain entry of the call's record, one a `fallback` event told about at the time it was told. */
  function settle(o: Open, attempts: readonly Attempt[], end: number, firstChunkMs?: number): void {
    attempts.forEach((a, i) => {
      const k = o.told.findIndex((t) => t.attempt.target === a.target);
      const told = k >= 0 ? o.told.splice(k, 1)[0] : undefined;
      record(o, a, i, told?.end ?? end, firstChunkMs);
    });
    o.span.setAttribute(ATTR.attempts, attempts.length);
  }

  /** Records what `fallback` events told when no record comes (a stopped stream, unsubscribing), in their order. */
  function flushTold(o: Open): void {
    for (const [i, t] of o.told.splice(0).entries()) record(o, t.attempt, i, t.end);
  }

  function served(o: Open, resolved: string, firstChunkMs: number | undefined): void {
    o.span.setAttributes({ [ATTR.responseModel]: resolved, [ATTR.provider]: providerName(resolved) });
    if (firstChunkMs !== undefined) {
      o.span.setAttribute(ATTR.timeToFirstChunk, firstChunkMs / 1000);
      o.span.addEvent('gen_ai.first_chunk', undefined, o.startMs + firstChunkMs);
    }
  }

  on('request', (e) => {
    const startMs = nowMs();
    const operation = e.kind === 'embed' ? 'embeddings' : 'chat';
    const direct = e.alias === undefined && e.requested.includes('/') && !isAlias(e.requested);
    const attributes: Attributes = {
      [ATTR.operation]: operation,
      // Refined to the provider that served once one has; until then the router itself.
      [ATTR.provider]: direct ? providerName(e.requested) : 'mana-llm',
      [ATTR.requestModel]: e.requested,
    };
    if (e.kind === 'stream') attributes[ATTR.requestStream] = true;
    if (e.alias !== undefined) attributes[ATTR.alias] = e.alias;
    if (e.params?.temperature !== undefined) attributes[ATTR.temperature] = e.params.temperature;
    if (e.params?.max_tokens !== undefined) attributes[ATTR.maxTokens] = e.params.max_tokens;
    if (e.params?.top_p !== undefined) attributes[ATTR.topP] = e.params.top_p;
    const parent = context.active();
    const span = tracer.startSpan(
      `${operation} ${cutModel(e.requested)}`,
      { kind: SpanKind.CLIENT, attributes, startTime: startMs },
      parent,
    );
    open.set(e.id, { span, ctx: trace.setSpan(parent, span), startMs, told: [] });
  });

  on('resolved', (e) => {
    const o = open.get(e.id);
    if (o && e.kind === 'stream') o.firstChunkMs = nowMs() - o.startMs;
  });

  on('fallback', (e) => {
    open.get(e.id)?.told.push({ attempt: { ...e, target: e.from }, end: nowMs() });
  });

  on('response', (e) => {
    const o = take(e.id);
    if (!o) return;
    const end = nowMs();
    settle(o, e.attempts ?? [], end, e.firstChunkMs);
    served(o, e.resolved, e.firstChunkMs);
    if (e.usage) {
      o.span.setAttribute(ATTR.inputTokens, e.usage.prompt_tokens);
      if (e.kind !== 'embed') o.span.setAttribute(ATTR.outputTokens, e.usage.completion_tokens);
      // Reported by OpenAI-compatible upstreams that cache prompts (OpenAI, DeepSeek …).
      const cached = e.usage.prompt_tokens_details?.cached_tokens;
      if (typeof cached === 'number') o.span.setAttribute(ATTR.cacheReadTokens, cached);
    }
    o.span.end(end);
  });

  on('cancel', (e) => {
    const o = take(e.id);
    if (!o) return;
    flushTold(o);
    served(o, e.resolved, e.firstChunkMs);
    o.span.setAttribute(ATTR.cancelled, true);
    o.span.end(nowMs());
  });

  on('cache', (e) => {
    if (!e.hit) return;
    const o = take(e.id);
    if (!o) return;
    o.span.setAttribute(ATTR.cached, true);
    o.span.end(nowMs());
  });

  on('failure', (e) => {
    const o = take(e.id);
    if (!o) return;
    const end = nowMs();
    const attempts = e.attempts ?? (e.error as { attempts?: readonly Attempt[] }).attempts ?? [];
    // A stream that failed after its commit point: an entry answered, and its attempt lasted to the failure. It
    // committed when the alias's `resolved` event came; a direct model's one entry began with the call.
    const answered = attempts.find((a) => a.reason === 'ok');
    const firstChunkMs = o.firstChunkMs ?? answered?.durationMs;
    settle(o, attempts, end, firstChunkMs);
    if (answered) served(o, answered.target, firstChunkMs);
    o.span.setAttribute(ATTR.errorType, errorType(e.error));
    o.span.recordException(e.error, end);
    o.span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
    o.span.end(end);
  });

  return () => {
    for (const off of subscribed.splice(0)) off();
    // Calls still in flight would never end their spans now: end them as they are.
    const end = nowMs();
    for (const o of open.values()) {
      flushTold(o);
      o.span.end(end);
    }
    open.clear();
  };
}
