import type {
  JSONObject,
  LanguageModelV3FinishReason,
  LanguageModelV3ToolCall,
  LanguageModelV3Usage,
  SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import type { Attempt } from '../errors.js';
import { isCount } from '../providers/json-shapes.js';
import type { FinishReason, Routing, Usage } from '../types.js';

const FINISH: Record<FinishReason, LanguageModelV3FinishReason['unified']> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool-calls',
  function_call: 'tool-calls',
  content_filter: 'content-filter',
};

/** The AI SDK's finish reason for an OpenAI one (`raw` keeps it): any other string (`constructor` too) is `other`. */
export function finishReason(raw: FinishReason | null | undefined): LanguageModelV3FinishReason {
  return { unified: raw && Object.hasOwn(FINISH, raw) ? FINISH[raw] : 'other', raw: raw ?? undefined };
}

/** Optional detail fields some upstreams report (OpenAI's cached and reasoning tokens). */
interface UsageDetails {
  prompt_tokens_details?: { cached_tokens?: unknown };
  completion_tokens_details?: { reasoning_tokens?: unknown };
}

/**
 * A part of `total` an upstream reports (cached, reasoning): none unless a count no greater than the total, so the
 * rest (`noCache`, `text`) is never negative: an upstream's inconsistent split is not reported, its totals are.
 */
const partOf = (v: unknown, total: number | undefined): number | undefined =>
  isCount(v) && total !== undefined && v <= total ? v : undefined;

/** The AI SDK's usage for an OpenAI one: cached input tokens and reasoning output tokens when reported. */
export function usageOf(u: Usage | null | undefined): LanguageModelV3Usage {
  const d: Partial<Usage> & UsageDetails = u ?? {};
  const input = d.prompt_tokens;
  const output = d.completion_tokens;
  const cached = partOf(d.prompt_tokens_details?.cached_tokens, input);
  const reasoning = partOf(d.completion_tokens_details?.reasoning_tokens, output);
  return {
    inputTokens: {
      total: input,
      noCache: cached === undefined || input === undefined ? input : input - cached,
      cacheRead: cached,
      cacheWrite: undefined,
    },
    outputTokens: {
      total: output,
      text: reasoning === undefined || output === undefined ? output : output - reasoning,
      reasoning,
    },
    ...(u ? rawOf(u) : {}),
  };
}

/** The usage as the AI SDK's `raw` JSON copy; none when it nests deeper than JSON.stringify can walk (a RangeError). */
function rawOf(u: Usage): { raw?: JSONObject } {
  try {
    return { raw: JSON.parse(JSON.stringify(u)) as JSONObject };
  } catch {
    return {};
  }
}

/** A complete tool call as the AI SDK's part; what the provider needs back (Gemini's thought signature) rides along. */
export function toolCallPart(
  id: string,
  name: string,
  args: string,
  extra: unknown,
): LanguageModelV3ToolCall {
  return {
    type: 'tool-call',
    toolCallId: id,
    toolName: name,
    input: args || '{}',
    ...(extra == null ? {} : { providerMetadata: { mana: { extraContent: extra as JSONObject } } }),
  };
}

function attemptJSON(a: Attempt): JSONObject {
  const out: JSONObject = { target: a.target, reason: a.reason };
  if (a.status !== undefined) out.status = a.status;
  if (a.durationMs !== undefined) out.durationMs = a.durationMs;
  if (a.error !== undefined) out.error = a.error.message;
  return out;
}

/** The routing record as `providerMetadata.mana`: requested, alias, resolved, attempts (errors as messages). */
export function routingMetadata(r: Routing): SharedV3ProviderMetadata {
  const mana: JSONObject = { requested: r.requested, resolved: r.resolved };
  if (r.alias !== undefined) mana.alias = r.alias;
  mana.attempts = r.attempts.map(attemptJSON);
  if (r.cached) mana.cached = true;
  return { mana };
}
