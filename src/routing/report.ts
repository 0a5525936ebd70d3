import { isManaLLMError, type ManaLLMError, ProviderResponseError } from '../errors.js';
import type { Usage } from '../types.js';
import type { CallPlan, RouterContext } from './context.js';

/** Emits `request` for a planned call. */
export function reportRequest(ctx: RouterContext, plan: CallPlan): void {
  if (!ctx.events.has('request')) return;
  ctx.events.emit(
    'request',
    plan.alias
      ? { id: plan.id, kind: plan.kind, requested: plan.requested, alias: plan.alias.name }
      : { id: plan.id, kind: plan.kind, requested: plan.requested },
  );
}

/** Emits `resolved` (alias calls) and `response` for a served non-streaming call. */
export function reportServed(
  ctx: RouterContext,
  plan: CallPlan,
  target: string,
  usage: Usage | undefined,
): void {
  const { events } = ctx;
  if (plan.alias && events.has('resolved')) {
    events.emit('resolved', { id: plan.id, kind: plan.kind, alias: plan.alias.name, target });
  }
  if (events.has('response')) {
    const durationMs = ctx.clock.now() - plan.startedAt;
    events.emit(
      'response',
      usage
        ? { id: plan.id, kind: plan.kind, requested: plan.requested, resolved: target, durationMs, usage }
        : { id: plan.id, kind: plan.kind, requested: plan.requested, resolved: target, durationMs },
    );
  }
}

/** Emits `failure` for a call that ends in an error, and returns the error to rethrow. */
export function reportFailure(ctx: RouterContext, plan: CallPlan, err: unknown): unknown {
  if (ctx.events.has('failure')) {
    // The caller's own abort reason can be anything; the event always carries a ManaLLMError.
    const error: ManaLLMError = isManaLLMError(err)
      ? err
      : new ProviderResponseError(`call ended: ${err instanceof Error ? err.message : String(err)}`, {
          provider: '',
          model: '',
          cause: err,
        });
    ctx.events.emit('failure', {
      id: plan.id,
      kind: plan.kind,
      requested: plan.requested,
      error,
      durationMs: ctx.clock.now() - plan.startedAt,
    });
  }
  return err;
}
