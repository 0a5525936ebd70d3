import { randomUUID } from 'node:crypto';
import type {
  AssistantMessage,
  ChatChunk,
  ChatCompletion,
  FinishReason,
  TextPart,
  ToolCall,
  Usage,
} from '../types.js';

/** A JSON object as read from an upstream or built for one. */
export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The JSON object `text` holds, or undefined when it is not JSON or not an object. */
export function jsonObjectIn(text: string): JsonObject | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A tool call's `arguments` text as the object the native APIs take: `{}` when blank, undefined when not an object. */
export const argumentsObject = (text: string): JsonObject | undefined =>
  text.trim() === '' ? {} : jsonObjectIn(text);

/** True for a token count: a whole number, not negative (JSON.parse reads 1e999 as Infinity). */
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** `v` when it is a token count, else `none` (a missing or unreadable count). */
export const countOf = (v: unknown, none = 0): number => (isCount(v) ? v : none);

const countOrNone = (v: unknown): boolean => v === undefined || isCount(v);

/**
 * True for an OpenAI-shaped `usage` whose counts (those present) are counts, as callers' sums and metrics need:
 * a reply whose usage is not is read as reporting none, as a missing count is (docs/choices.md).
 */
export function isUsage(u: unknown): boolean {
  if (!isJsonObject(u)) return false;
  const details = u.prompt_tokens_details;
  return (
    countOrNone(u.prompt_tokens) &&
    countOrNone(u.completion_tokens) &&
    countOrNone(u.total_tokens) &&
    (details == null || (isJsonObject(details) && countOrNone(details.cached_tokens)))
  );
}

/** True for an array of finite numbers (an embedding vector; JSON.parse reads 1e999 as Infinity). */
export const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every(Number.isFinite);

/**
 * The one length of the `embedding` vectors of `data`'s items; 0 when there are none, one is not an array of finite
 * numbers or their lengths differ.
 */
export function vectorLength(data: unknown[]): number {
  const n = (data[0] as { embedding?: { length?: unknown } } | null)?.embedding?.length;
  const same = (d: unknown) => {
    const e = (d as { embedding?: unknown } | null)?.embedding;
    return isNumbers(e) && e.length === n;
  };
  return typeof n === 'number' && data.every(same) ? n : 0;
}

/**
 * A tool call's `arguments` as callers get them, the JSON text OpenAI's shape has there, from a provider that sends
 * them as a JSON value (Anthropic's `input`, Gemini's `args`, Ollama's `arguments`): a string is taken as that text
 * (as the OpenAI-compatible adapter takes it), any other value as its JSON text, none (or null) as `{}`
 * (docs/choices.md).
 */
export function argumentsText(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v ?? {});
  } catch {
    // A RangeError: nested deeper than JSON.stringify can walk (10,000 levels fit in a reply).
    throw new Error('tool call arguments nested too deep to write as JSON');
  }
}

/**
 * A new unique id after `prefix` (`chatcmpl-`, `call_`): OpenAI callers answer calls by id, and Anthropic refuses a
 * history whose tool call ids repeat, so it is unique, not a position.
 */
export const newId = (prefix: string): string => `${prefix}${randomUUID().replace(/-/g, '').slice(0, 24)}`;

/** A tool call's id as callers get it: the provider's text, or a new unique one for none or `''` (docs/choices.md). */
export const callId = (id: unknown): string => (typeof id === 'string' && id !== '' ? id : newId('call_'));

/** A tool call as callers get it, from a provider's id, function name and arguments value. */
export const toolCall = (id: unknown, name: string, args: unknown): ToolCall => ({
  id: callId(id),
  type: 'function',
  function: { name, arguments: argumentsText(args) },
});

/** The text of a system, assistant or tool message: its string, or its text parts joined. */
export function textOf(content: string | TextPart[] | null | undefined): string {
  if (content == null) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/** An answer as an adapter reads it from its provider's reply. */
export interface Answer {
  content: string;
  reasoning: string;
  toolCalls: ToolCall[];
}

/**
 * An OpenAI `chat.completion` holding one answer; `model` is `provider/model`. The message's content is null when
 * the answer is only tool calls, as OpenAI's is.
 */
export function completion(
  id: string,
  created: number,
  model: string,
  { content, reasoning, toolCalls }: Answer,
  finish: FinishReason | null,
  usage: Usage | undefined,
): ChatCompletion {
  const message: AssistantMessage = {
    role: 'assistant',
    content: content === '' && toolCalls.length > 0 ? null : content,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== '') message.reasoning_content = reasoning;
  const out: ChatCompletion = {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, finish_reason: finish }],
  };
  if (usage) out.usage = usage;
  return out;
}

/** What one streamed chunk adds to the answer. */
export type Delta = ChatChunk['choices'][number]['delta'];

/** The chunk builder of one stream: every chunk has the same id, creation time and `provider/model`. */
export function chunksOf(id: string, created: number, model: string) {
  return (delta: Delta, finish: FinishReason | null = null, usage?: Usage): ChatChunk => {
    const c: ChatChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    };
    if (usage) c.usage = usage;
    return c;
  };
}
