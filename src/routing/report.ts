import { type Attempt, isManaLLMError, type ManaLLMError, ProviderResponseError } from '../errors.js';
import type { ManaLLMEvents } from '../events.js';
import { thrownText } from '../redact.js';
import { publishStreamEnd, publishStreamStart } from '../trace-channels.js';
import type { ChatRequest, EmbedRequest, Usage } from '../types.js';
import type { CallPlan, RouterContext } from './context.js';

type Params = NonNullable<ManaLLMEvents['request']['params']>;

/** A call as its reports read it: its plan, or what is known of a call refused before it had one. */
type ReportedCall = Pick<
  CallPlan,
  'id' | 'kind' | 'requested' | 'alias' | 'startedAt' | 'attempts' | 'trace'
>;

/** The sampling settings a tracer records, or undefined when the request sets none. */
function paramsOf(request: ChatRequest | EmbedRequest): Params | undefined {
  if (!('messages' in request)) return undefined;
  const { temperature, max_tokens, top_p } = request;
  const set = Object.entries({ temperature, max_tokens, top_p }).filter(([, value]) => value !== undefined);
  return set.length > 0 ? Object.fromEntries(set) : undefined;
}

/** Emits `request` for a call (and opens a stream's tracing-channel record); `request` undefined: it was refused. */
export function reportRequest(
  ctx: RouterContext,
  plan: ReportedCall,
  request: ChatRequest | EmbedRequest | undefined,
): void {
  const { trace } = plan;
  if (trace) {
    trace.id = plan.id;
    trace.requested = plan.requested;
    if (plan.alias) trace.alias = plan.alias.name;
    if (plan.kind === 'stream') publishStreamStart(trace);
  }
  if (!ctx.events.has('request')) return;
  const { id, kind, requested, alias } = plan;
  const base = alias ? { id, kind, requested, alias: alias.name } : { id, kind, requested };
  const params = request && paramsOf(request);
  ctx.events.emit('request', params ? { ...base, params } : base);
}

/** Fills in the tracing-channel record of a served call, and ends a stream's. */
function traceServed(plan: CallPlan, target: string, usage?: Usage, firstChunkMs?: number): void {
  const { trace } = plan;
  if (!trace) return;
  trace.resolved = target;
  trace.attempts = plan.attempts;
  if (usage) trace.usage = usage;
  if (firstChunkMs !== undefined) trace.firstChunkMs = firstChunkMs;
  if (plan.kind === 'stream') publishStreamEnd(trace);
}

/** What `response` and `cancel` share: the call, the target that served it and how long it took. */
function ended(ctx: RouterContext, plan: CallPlan, resolved: string) {
  const { id, kind, requested } = plan;
  return { id, kind, requested, resolved, durationMs: ctx.clock.now() - plan.startedAt };
}

/** Emits `resolved` for an alias call: a call when it is served, a stream at its commit point. */
export function reportResolved(ctx: RouterContext, plan: CallPlan, target: string): void {
  if (plan.alias && ctx.events.has('resolved'))
    ctx.events.emit('resolved', { id: plan.id, kind: plan.kind, alias: plan.alias.name, target });
}

/** Emits `resolved` (alias calls) and `response` for a served call; `firstChunkMs` marks a stream. */
export function reportServed(
  ctx: RouterContext,
  plan: CallPlan,
  target: string,
  usage: Usage | undefined,
  firstChunkMs?: number,
): void {
  const { events } = ctx;
  traceServed(plan, target, usage, firstChunkMs);
  // A stream reports `resolved` at its commit point, not here.
  if (firstChunkMs === undefined) reportResolved(ctx, plan, target);
  if (events.has('response')) {
    events.emit('response', {
      ...ended(ctx, plan, target),
      ...(firstChunkMs === undefined ? {} : { firstChunkMs }),
      ...(usage ? { usage } : {}),
      // A copy: a listener that reorders its payload must not reorder the caller's routing.attempts.
      attempts: plan.attempts.slice(),
    });
  }
}

/** Emits `cancel` for a committed stream its consumer stopped. */
export function reportCancel(ctx: RouterContext, plan: CallPlan, target: string, firstChunkMs: number): void {
  if (plan.trace) plan.trace.cancelled = true;
  traceServed(plan, target, undefined, firstChunkMs);
  if (ctx.events.has('cancel')) ctx.events.emit('cancel', { ...ended(ctx, plan, target), firstChunkMs });
}

/**
 * Emits `failure` for a call that ends in an error, refused before its walk or failed after it (the one place the
 * event is made), and returns the error to rethrow.
 */
export function reportFailure(
  ctx: RouterContext,
  plan: ReportedCall,
  err: unknown,
  durationMs = ctx.clock.now() - plan.startedAt,
): unknown {
  const { trace } = plan;
  if (trace) {
    trace.attempts = plan.attempts;
    if (plan.kind === 'stream') publishStreamEnd(trace, err);
  }
  if (ctx.events.has('failure')) {
    // The caller's own abort reason can be anything; the event always carries a ManaLLMError.
    const error: ManaLLMError = isManaLLMError(err)
      ? err
      : new ProviderResponseError(`call ended: ${thrownText(err, 500)}`, {
          provider: '',
          model: '',
          cause: err,
        });
    const base = { id: plan.id, kind: plan.kind, requested: plan.requested, error, durationMs };
    const { attempts } = plan;
    ctx.events.emit('failure', attempts.length > 0 ? { ...base, attempts: attempts.slice() } : base);
  }
  return err;
}

/** Emits `fallback` for entry `i` of the chain, as its attempt `a` records it. */
export function reportFallback(ctx: RouterContext, plan: CallPlan, i: number, a: Attempt): void {
  if (!ctx.events.has('fallback')) return;
  const { target: from, reason, error, durationMs, status } = a;
  ctx.events.emit('fallback', {
    id: plan.id,
    kind: plan.kind,
    from,
    to: plan.chain[i + 1]?.target ?? null,
    reason,
    ...(error ? { error } : {}),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(status === undefined ? {} : { status }),
  });
}
