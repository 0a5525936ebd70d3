import type { ChainEntry } from '../aliases/schema.js';
import type { AttemptReason } from '../errors.js';
import type { Capabilities } from '../providers/adapter.js';
import type { ChatRequest } from '../types.js';
import type { Needs, ProviderSlot, RouterContext } from './context.js';

/** Why an entry is skipped before any call, and until when (for `retryAfterMs`). */
export interface Skip {
  readonly reason: Extract<
    AttemptReason,
    'unconfigured' | 'capability' | 'cooling' | 'saturated' | 'unhealthy'
  >;
  readonly until?: number | undefined;
}

/** What a chat request needs beyond plain text. */
export function chatNeeds(req: ChatRequest): Needs {
  const needs: Needs = {};
  if (req.tools && req.tools.length > 0) needs.tools = true;
  const rf = req.response_format?.type;
  if (rf === 'json_object' || rf === 'json_schema') needs.jsonSchema = true;
  if (req.messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url')))
    needs.vision = true;
  return needs;
}

/**
 * Checks an entry without changing any state (the breaker's single trial is taken later, by `admit`).
 * Order: unconfigured, capability, cooling, saturated, unhealthy (a failing provider's few calls at once, or its
 * breaker open).
 */
export function precheck(ctx: RouterContext, entry: ChainEntry, needs: Needs): Skip | ProviderSlot {
  const slot = ctx.providers.get(entry.provider);
  if (!slot) return { reason: 'unconfigured' };
  if (!offers(slot, entry.model, needs)) return { reason: 'capability' };
  const cooling = ctx.health.coolingUntil(entry.target);
  // A cooling target of an open breaker is usable again only when both have run out (`retryAfterMs`, resolve's `until`).
  if (cooling !== undefined)
    return {
      reason: 'cooling',
      until: Math.max(cooling, ctx.health.unhealthyUntil(entry.provider) ?? cooling),
    };
  if (slot.inFlight >= slot.config.maxConcurrent) return { reason: 'saturated' };
  // A provider whose last call failed takes only a few calls at once until one succeeds, so that a crowd of
  // calls arriving before its breaker opens does not all wait on it (health.maxConcurrentAfterFailure).
  if (
    slot.unanswered >= ctx.opts.health.maxConcurrentAfterFailure &&
    ctx.health.lastCallFailed(entry.provider)
  )
    return { reason: 'unhealthy' };
  if (ctx.health.refuses(entry.provider))
    return { reason: 'unhealthy', until: ctx.health.unhealthyUntil(entry.provider) };
  return slot;
}

/**
 * Whether the adapter offers every need. A custom adapter's `capabilities()` that throws, answers no object, or
 * answers one whose getter throws offers nothing (looking at an entry never throws).
 */
function offers(slot: ProviderSlot, model: string, needs: Needs): boolean {
  try {
    let caps: Partial<Capabilities> | undefined;
    for (const k in needs) {
      caps ??= slot.adapter.capabilities(model);
      if (typeof caps !== 'object' || caps === null || !caps[k as keyof Capabilities]) return false;
    }
    return true;
  } catch {
    return false;
  }
}
