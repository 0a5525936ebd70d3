import type { ChainEntry } from '../aliases/schema.js';
import { ProviderTimeoutError } from '../errors.js';
import { RELEASE_AFTER_MS } from '../options.js';
import { CALL_IMAGES } from '../providers/images.js';
import { AttemptSignal } from './attempt.js';
import type { CallPlan, ProviderSlot, RouterContext } from './context.js';
import type { Step } from './walk-chain.js';

/** One attempt in flight: the entry at chain index `i`, called at `started`. */
export interface Running<T> {
  readonly i: number;
  readonly entry: ChainEntry;
  readonly attempt: AttemptSignal;
  readonly started: number;
  readonly result: Promise<T>;
  /** Where its record goes in `plan.attempts` when later entries were recorded while it ran (it was hedged). */
  at?: number;
  /** Started beside another attempt (a hedge): it is never hedged itself. */
  hedge?: boolean;
  /** A hedge was considered for it already: at most one per attempt. */
  hedged?: boolean;
  /** Its result as an Outcome (made only when attempts race): never rejects. */
  settled?: Promise<Outcome<T>>;
}

/** How an attempt settled, when attempts race (hedging). */
export type Outcome<T> =
  | { readonly run: Running<T>; readonly ok: true; readonly value: T }
  | { readonly run: Running<T>; readonly ok: false; readonly error: unknown };

/** Where and when an attempt starts, and how long it may take (`ms`). */
export interface AttemptStart {
  readonly i: number;
  readonly entry: ChainEntry;
  readonly slot: ProviderSlot;
  readonly started: number;
  readonly ms: number;
}

/**
 * Calls `step` on one chain entry: its timer armed for `ms`, counted in its slot, released when its provider's
 * breaker opens once it has waited 5 s or its target's usual highest latency.
 */
export function startAttempt<T, R>(
  ctx: RouterContext,
  plan: CallPlan,
  step: Step<T, R>,
  request: R,
  { i, entry, slot, started, ms }: AttemptStart,
): Running<T> {
  const lateAt = started + Math.max(RELEASE_AFTER_MS, ctx.health.latency.high(entry.target, plan.kind) ?? 0);
  const attempt = new AttemptSignal(ctx, plan.signal, slot, lateAt);
  attempt.arm(ctx.clock, ms, () =>
    attempt.expire(
      new ProviderTimeoutError(`${entry.target}: ${step.timeoutLabel} within ${ms}ms`, {
        provider: entry.provider,
        model: entry.model,
      }),
    ),
  );
  const { context } = attempt;
  // The call's images ride on the context to a built-in adapter.
  if (plan.images !== undefined) (context as { [CALL_IMAGES]?: unknown })[CALL_IMAGES] = plan.images;
  let result: Promise<T>;
  try {
    result = attempt.race(step.run(slot, entry, context, request));
  } catch (err) {
    // An adapter that throws instead of rejecting fails its attempt the same way.
    result = Promise.reject(err);
  }
  return { i, entry, attempt, started, result };
}
