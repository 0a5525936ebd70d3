import type { FinishReason, ToolCall, Usage } from '../types.js';
import type { CallMeta } from './endpoint.js';
import { badResponse, blockedError, errorFromInBand, reasonText } from './error-mapping.js';
import { type Answer, countOf, isCount, isJsonObject, type JsonObject, toolCall } from './json-shapes.js';

/** One Gemini reply (a whole `GenerateContentResponse` or one SSE frame of it), read down to what we use. */
interface GeminiFrame {
  /** False when the reply carries no candidate (a usage-only frame). */
  hasCandidate: boolean;
  parts: JsonObject[];
  finishReason: string | undefined;
  usage: Usage | undefined;
}

// Finish reasons that mean the provider's filters withheld the answer (the IMAGE_ ones from image-output models).
const BLOCK_REASONS = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

function usageOf(u: unknown): Usage | undefined {
  if (!isJsonObject(u)) return undefined;
  // The prompt of a built-in tool (search, code execution) is billed as input: counted in, so prompt + completion =
  // total as in OpenAI usage (see docs/wire-conformance.md).
  const prompt = countOf(u.promptTokenCount) + countOf(u.toolUsePromptTokenCount);
  // thinking tokens are billed as output, like OpenAI's reasoning tokens inside completion_tokens
  const completion = countOf(u.candidatesTokenCount) + countOf(u.thoughtsTokenCount);
  const total = countOf(u.totalTokenCount, prompt + completion);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
  // promptTokenCount already includes the cached part, as OpenAI's prompt_tokens does
  if (isCount(u.cachedContentTokenCount))
    usage.prompt_tokens_details = { cached_tokens: u.cachedContentTokenCount };
  return usage;
}

/**
 * Reads one reply: an in-band `error` and a prompt blocked before any candidate (`promptFeedback.blockReason`)
 * are thrown as the typed errors of the fallback table.
 */
export function readFrame(json: unknown, meta: CallMeta): GeminiFrame {
  if (!isJsonObject(json)) throw badResponse(meta, 'reply is not a JSON object');
  if (json.error != null) throw errorFromInBand(json.error, meta);
  const usage = usageOf(json.usageMetadata);
  const candidates = json.candidates;
  if (candidates !== undefined && !Array.isArray(candidates))
    throw badResponse(meta, 'candidates is not a list');
  const cand: unknown = candidates?.[0];
  if (cand === undefined) {
    const reason = isJsonObject(json.promptFeedback) ? json.promptFeedback.blockReason : undefined;
    if (typeof reason === 'string') throw blockedError(meta, 'prompt blocked by the provider', reason);
    return { hasCandidate: false, parts: [], finishReason: undefined, usage };
  }
  if (!isJsonObject(cand)) throw badResponse(meta, 'candidate is not an object');
  const parts = isJsonObject(cand.content) ? cand.content.parts : undefined;
  if (parts !== undefined && !(Array.isArray(parts) && parts.every(isJsonObject)))
    throw badResponse(meta, 'candidate parts are malformed');
  const finishReason = typeof cand.finishReason === 'string' ? cand.finishReason : undefined;
  return { hasCandidate: true, parts: parts ?? [], finishReason, usage };
}

/**
 * Splits parts into answer text, thought text (`thought: true`) and function calls; a call carries Gemini's thought
 * signature in `extra_content.google`, as Google's OpenAI endpoint does (Gemini 3 wants it back on the next turn).
 */
export function readParts(parts: JsonObject[], meta: CallMeta): Answer {
  let content = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const p of parts) {
    if (typeof p.text === 'string') {
      if (p.thought === true) reasoning += p.text;
      else content += p.text;
    } else if (isJsonObject(p.functionCall)) {
      const { id, name, args } = p.functionCall;
      if (typeof name !== 'string') throw badResponse(meta, 'functionCall without a name');
      const signature = typeof p.thoughtSignature === 'string' ? p.thoughtSignature : '';
      const call = toolCall(id, name, args);
      if (signature !== '') call.extra_content = { google: { thought_signature: signature } };
      toolCalls.push(call);
    } else if (p.text != null) {
      // Skipped, the text would be lost from an answer that looks complete.
      throw badResponse(meta, 'part text is not a string');
    }
  }
  return { content, reasoning, toolCalls };
}

/**
 * Maps Gemini's `finishReason`. Filter reasons throw `ProviderBlockedError`; anything but STOP/MAX_TOKENS
 * (OTHER, MALFORMED_FUNCTION_CALL, …) is an answer that did not complete, so it is a response error rather
 * than a truncated answer that looks complete.
 */
export function finishOf(reason: string, sawToolCalls: boolean, meta: CallMeta): FinishReason {
  if (BLOCK_REASONS.has(reason)) throw blockedError(meta, 'answer blocked by the provider', reason);
  if (reason === 'STOP') return sawToolCalls ? 'tool_calls' : 'stop';
  if (reason === 'MAX_TOKENS') return 'length';
  throw badResponse(meta, `generation ended with finishReason ${reasonText(reason, meta)}`);
}
