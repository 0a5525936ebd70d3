import type { ChainEntry } from '../aliases/schema.js';
import {
  type Attempt,
  type AttemptReason,
  ClosedError,
  InvalidRequestError,
  type ManaLLMError,
  NoHealthyProviderError,
  ProviderCapabilityError,
  type ProviderError,
  ProviderTimeoutError,
} from '../errors.js';
import { type AdapterContext, INLINE_IMAGES, type InlinesImages } from '../providers/adapter.js';
import { CALL_IMAGES } from '../providers/images.js';
import { AttemptSignal } from './attempt.js';
import { precheck } from './candidates.js';
import { asProviderError, capRetryAfter, classify, type Verdict } from './classify.js';
import type { CallPlan, ProviderSlot, RouterContext } from './context.js';

/** How to run one attempt of a walk; `R` is the call's request, handed to `run` (so a step can be built once). */
export interface Step<T, R = unknown> {
  /** Longest this attempt may take before it counts as a timeout (beyond the walk's budget and the provider's cap). */
  readonly attemptMs: number;
  readonly timeoutLabel: string;
  run(slot: ProviderSlot, entry: ChainEntry, context: AdapterContext, request: R): Promise<T>;
  /** A served value that must not be used (embeddings of another length): the entry is skipped with this reason. */
  reject?(value: T, plan: CallPlan): AttemptReason | undefined;
  /** True when the served value is only a start (a committed stream): health records its success when it ends. */
  judgedAtEnd?(value: T): boolean;
}

/** The entry that served, with its attempt still open: call `done()` when the answer is fully delivered. */
export interface Served<T> {
  readonly value: T;
  readonly entry: ChainEntry;
  readonly slot: ProviderSlot;
  readonly attempts: Attempt[];
  readonly attempt: AttemptSignal;
  done(cancel?: boolean): void;
}

// A class, not a literal with a `done` closure: one allocation per call instead of three.
class ServedAttempt<T> implements Served<T> {
  #finished = false;
  constructor(
    readonly value: T,
    readonly entry: ChainEntry,
    readonly slot: ProviderSlot,
    readonly attempts: Attempt[],
    readonly attempt: AttemptSignal,
  ) {}

  done(cancel = false): void {
    if (this.#finished) return;
    this.#finished = true;
    this.slot.inFlight--;
    this.attempt.end(cancel);
  }
}

/** The attempt's context, carrying the call's images to a built-in adapter. */
function withImages(context: AdapterContext, plan: CallPlan): AdapterContext {
  (context as { [CALL_IMAGES]?: unknown })[CALL_IMAGES] = plan.images;
  return context;
}

function healthReason(err: ProviderError): string {
  if (err.status !== undefined) return `HTTP ${err.status}`;
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : err.code.toLowerCase();
}

/** Applies a verdict to the provider's health; `trial` ends the breaker's half-open trial either way. */
export function applyHealth(
  ctx: RouterContext,
  entry: ChainEntry,
  verdict: Verdict,
  err: ProviderError,
): void {
  const { health } = ctx;
  capRetryAfter(err, ctx.opts.limits.maxRetryAfterMs);
  if (verdict.health === 'failure') {
    // A wrong key does not fix itself: with fallbackOnAuthError the provider is opened at once.
    const times = verdict.reason === 'auth' ? ctx.opts.health.failureThreshold : 1;
    for (let i = 0; i < times; i++) health.recordFailure(entry.provider, healthReason(err));
  } else if (verdict.health === 'cool') {
    health.coolTarget(entry.target, ctx.clock.now() + ((err as { retryAfterMs?: number }).retryAfterMs ?? 0));
    health.release(entry.provider);
  } else {
    health.release(entry.provider);
  }
}

function emitFallback(
  ctx: RouterContext,
  plan: CallPlan,
  i: number,
  reason: AttemptReason,
  called?: { error?: ManaLLMError; durationMs: number; status?: number | undefined },
): void {
  if (!ctx.events.has('fallback')) return;
  const from = plan.chain[i]?.target ?? '';
  const to = plan.chain[i + 1]?.target ?? null;
  const base = { id: plan.id, kind: plan.kind, from, to, reason };
  if (!called) {
    ctx.events.emit('fallback', base);
    return;
  }
  const { error, durationMs, status } = called;
  ctx.events.emit('fallback', {
    ...base,
    ...(error ? { error } : {}),
    durationMs,
    ...(status === undefined ? {} : { status }),
  });
}

/**
 * How much of what is `left` of the call's budget the attempt at entry `i` may spend: half while a later entry
 * could still be called (so a hung entry leaves the fallback time to answer), all of it for the last one.
 */
function attemptBudget(ctx: RouterContext, plan: CallPlan, i: number, left: number): number {
  const { chain } = plan;
  for (let j = i + 1; j < chain.length; j++) {
    // precheck changes no state; an entry skipped now (cooling, open breaker, lacking a capability) needs no time.
    if ('adapter' in precheck(ctx, chain[j] as ChainEntry, plan.needs)) return Math.ceil(left / 2);
  }
  return left;
}

/**
 * Walks a chain: skips what cannot serve, calls the rest in order until one succeeds, falls through on outages
 * and propagates the caller's own mistakes (the fallback table of docs/fallback.md, via `classify`).
 * @throws NoHealthyProviderError when nothing served; the caller's error or abort reason as is
 */
export async function walkChain<T, R>(
  ctx: RouterContext,
  plan: CallPlan,
  step: Step<T, R>,
  request: R,
): Promise<Served<T>> {
  const { chain, attempts } = plan;
  let lastError: ProviderError | undefined;
  // Whether every entry called so far answered "prompt too long": then the prompt is the caller's problem.
  let onlyTooLong = true;
  let soonest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < chain.length; i++) {
    // A call that waited (on the cache, on a failed entry) while the client closed must not walk a closed transport.
    if (ctx.closed) throw new ClosedError();
    const entry = chain[i] as ChainEntry;
    let pre = precheck(ctx, entry, plan.needs);
    if (
      plan.images !== undefined &&
      'adapter' in pre &&
      (pre.adapter as InlinesImages)[INLINE_IMAGES] === true
    ) {
      // Fetched once per call, before the attempt's clock starts and outside its health accounting: an image
      // that cannot be had is the caller's error (InvalidRequestError), never this provider's.
      await plan.images.ready();
      pre = precheck(ctx, entry, plan.needs);
    }
    if (!('adapter' in pre)) {
      if (pre.reason === 'capability' && plan.alias === undefined) {
        throw new ProviderCapabilityError(
          `${entry.target} cannot serve this request (${Object.keys(plan.needs).join(', ')})`,
          {
            provider: entry.provider,
            model: entry.model,
            capability: Object.keys(plan.needs).join(','),
          },
        );
      }
      if (pre.until !== undefined && pre.until < soonest) soonest = pre.until;
      attempts.push({ target: entry.target, reason: pre.reason });
      emitFallback(ctx, plan, i, pre.reason);
      continue;
    }
    const slot = pre;
    const started = ctx.clock.now();
    const left = plan.deadline - started;
    if (left <= 0) {
      for (let j = i; j < chain.length; j++)
        attempts.push({ target: (chain[j] as ChainEntry).target, reason: 'deadline' });
      break;
    }
    if (ctx.health.admit(entry.provider) === 'unhealthy') {
      attempts.push({ target: entry.target, reason: 'unhealthy' });
      emitFallback(ctx, plan, i, 'unhealthy');
      continue;
    }
    const attempt = new AttemptSignal(ctx, plan.signal);
    const ms = Math.min(attemptBudget(ctx, plan, i, left), slot.config.timeoutMs, step.attemptMs);
    attempt.arm(ctx.clock, ms, () =>
      attempt.expire(
        new ProviderTimeoutError(`${entry.target}: ${step.timeoutLabel} within ${ms}ms`, {
          provider: entry.provider,
          model: entry.model,
        }),
      ),
    );
    slot.inFlight++;
    slot.unanswered = (slot.unanswered ?? 0) + 1;
    let value: T;
    try {
      const context = plan.images === undefined ? attempt.context : withImages(attempt.context, plan);
      value = await attempt.race(step.run(slot, entry, context, request));
    } catch (raw) {
      slot.inFlight--;
      slot.unanswered--;
      const callerReason = attempt.abortReason();
      const timeout = attempt.timeout;
      attempt.end();
      // After close() nothing is recorded: the failure may be the closed transport's own.
      if (ctx.closed) throw callerReason ?? new ClosedError();
      // The caller's abort, or content the adapter could not build a request from: theirs, never the provider's.
      if (callerReason !== undefined || (timeout === undefined && raw instanceof InvalidRequestError)) {
        ctx.health.release(entry.provider);
        throw callerReason ?? raw;
      }
      const err = timeout ?? asProviderError(raw, entry.provider, entry.model);
      const verdict = classify(err, ctx.opts.fallbackOnAuthError);
      applyHealth(ctx, entry, verdict, err);
      const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
      if (retryAfterMs !== undefined && started + retryAfterMs < soonest) soonest = started + retryAfterMs;
      const durationMs = ctx.clock.now() - started;
      attempts.push(
        err.status === undefined
          ? { target: entry.target, reason: verdict.reason, durationMs, error: err }
          : { target: entry.target, reason: verdict.reason, status: err.status, durationMs, error: err },
      );
      if (!verdict.fallback || (verdict.reason === 'capability' && plan.alias === undefined)) throw err;
      if (verdict.reason !== 'context-length') onlyTooLong = false;
      lastError = err;
      emitFallback(ctx, plan, i, verdict.reason, { error: err, durationMs, status: err.status });
      continue;
    }
    slot.unanswered--;
    const rejected = step.reject?.(value, plan);
    if (rejected !== undefined) {
      onlyTooLong = false;
      slot.inFlight--;
      attempt.end();
      ctx.health.recordSuccess(entry.provider);
      const durationMs = ctx.clock.now() - started;
      attempts.push({ target: entry.target, reason: rejected, durationMs });
      emitFallback(ctx, plan, i, rejected, { durationMs });
      continue;
    }
    // One clock read for both (the health cache reads the same clock).
    const ended = ctx.clock.now();
    if (step.judgedAtEnd?.(value)) ctx.health.recordCommit(entry.provider, ended);
    else ctx.health.recordSuccess(entry.provider, ended);
    ctx.health.recordLatency(entry.target, plan.kind, ended - started);
    attempts.push({ target: entry.target, reason: 'ok', durationMs: ended - started });
    return new ServedAttempt(value, entry, slot, attempts, attempt);
  }
  // Every entry tried said the prompt is too long for it: nothing bigger is left, the caller's 400 propagates.
  if (onlyTooLong && lastError !== undefined) throw lastError;
  const now = ctx.clock.now();
  throw new NoHealthyProviderError(plan.requested, attempts, {
    // A cool-down from a shared store may reach further than any hint this process accepted: capped alike.
    retryAfterMs: Number.isFinite(soonest)
      ? Math.min(ctx.opts.limits.maxRetryAfterMs, Math.max(0, soonest - now))
      : undefined,
    cause: lastError,
  });
}
