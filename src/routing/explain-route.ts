import type { AliasRegistry } from '../aliases/alias-registry.js';
import type { TargetLatency } from '../health/latency-book.js';
import type { ChatRequest } from '../types.js';
import { validateCall, validateModel } from '../validate-request.js';
import { chatNeeds, precheck, type Skip } from './candidates.js';
import type { RouterContext } from './context.js';
import { type DirectChains, resolveModel } from './resolve-model.js';

/** State of one chain entry as `resolve()` explains it: callable now, or why a call would skip it. */
export type CandidateState = 'ready' | 'half-open' | Skip['reason'];

/** What `resolve()` returns: the routing decision a call would make now, without calling anything. */
export interface ResolveResult {
  requested: string;
  alias?: string;
  /** `latency`: this process's measurements of the target (see `health().targets`). */
  candidates: {
    target: string;
    provider: string;
    model: string;
    state: CandidateState;
    until?: number;
    latency: TargetLatency;
  }[];
}

/**
 * The routing decision a call for `model` (and `request`, for its needs) would make now, without calling anything.
 * @throws UnknownAliasError, InvalidRequestError
 */
export function explainRoute(
  ctx: RouterContext,
  aliases: AliasRegistry,
  direct: DirectChains,
  model: string | undefined,
  request: ChatRequest | undefined,
): ResolveResult {
  validateModel(model);
  if (request !== undefined) validateCall('chat', request, undefined, true);
  const r = resolveModel(model, aliases, ctx.opts.defaultProvider, direct);
  const needs = request ? chatNeeds(request) : {};
  return {
    requested: r.requested,
    ...(r.alias ? { alias: r.alias.name } : {}),
    candidates: r.chain.map((entry) => {
      const { target, provider } = entry;
      const base = { target, provider, model: entry.model, latency: ctx.health.latency.view(target) };
      const pre = precheck(ctx, entry, needs);
      if ('adapter' in pre)
        return { ...base, state: ctx.health.peek(provider) === 'half-open' ? 'half-open' : 'ready' };
      return { ...base, state: pre.reason, ...(pre.until === undefined ? {} : { until: pre.until }) };
    }),
  };
}
