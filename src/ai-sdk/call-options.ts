import type { LanguageModelV3CallOptions, SharedV3Warning } from '@ai-sdk/provider';
import type { CallOptions, ChatRequest, ToolChoice, ToolDefinition } from '../types.js';
import { toChatMessages } from './convert-prompt.js';

/** `providerOptions.mana` of a call: mana-llm's own per-call options. */
export type ManaProviderOptions = Pick<CallOptions, 'timeoutMs' | 'cache'>;

function toolChoice(c: NonNullable<LanguageModelV3CallOptions['toolChoice']>): ToolChoice {
  return c.type === 'tool' ? { type: 'function', function: { name: c.toolName } } : c.type;
}

/**
 * mana-llm's call options from the AI SDK's abort signal and `providerOptions.mana`, as given: a value of the wrong
 * type is the call's InvalidRequestError, as with `llm.chat()`.
 */
export function callOptions(
  abortSignal: AbortSignal | undefined,
  providerOptions: Record<string, unknown> | undefined,
): CallOptions {
  const mana = (providerOptions?.mana ?? {}) as ManaProviderOptions;
  const out: CallOptions = {};
  if (abortSignal) out.signal = abortSignal;
  if (mana.timeoutMs !== undefined) out.timeoutMs = mana.timeoutMs;
  if (mana.cache !== undefined) out.cache = mana.cache;
  return out;
}

/** The warning for per-call headers, which are not sent (the AI SDK's own `user-agent` is not worth one). */
export function headerWarnings(headers: Record<string, string | undefined> | undefined): SharedV3Warning[] {
  const named = Object.keys(headers ?? {}).some((h) => h.toLowerCase() !== 'user-agent');
  if (!named) return [];
  const details = 'per-call headers are not sent; configure them per provider in createManaLLM';
  return [{ type: 'unsupported', feature: 'headers', details }];
}

/**
 * An AI SDK call as a mana-llm chat request and call options. What the request cannot carry is reported as a
 * warning (never dropped silently): `topK`, provider-defined tools, per-call headers.
 */
export function toChatCall(modelId: string, o: LanguageModelV3CallOptions) {
  const warnings: SharedV3Warning[] = [];
  const request: ChatRequest = { model: modelId, messages: toChatMessages(o.prompt) };
  if (o.maxOutputTokens !== undefined) request.max_tokens = o.maxOutputTokens;
  if (o.temperature !== undefined) request.temperature = o.temperature;
  if (o.topP !== undefined) request.top_p = o.topP;
  if (o.frequencyPenalty !== undefined) request.frequency_penalty = o.frequencyPenalty;
  if (o.presencePenalty !== undefined) request.presence_penalty = o.presencePenalty;
  if (o.seed !== undefined) request.seed = o.seed;
  if (o.stopSequences !== undefined && o.stopSequences.length > 0) request.stop = o.stopSequences;
  if (o.topK !== undefined) warnings.push({ type: 'unsupported', feature: 'topK' });
  if (o.responseFormat?.type === 'json') {
    const { schema, name, description } = o.responseFormat;
    request.response_format = schema
      ? {
          type: 'json_schema',
          json_schema: {
            name: name ?? 'response',
            ...(description === undefined ? {} : { description }),
            schema: schema as Record<string, unknown>,
          },
        }
      : { type: 'json_object' };
  }
  const tools: ToolDefinition[] = [];
  for (const tool of o.tools ?? []) {
    if (tool.type !== 'function') {
      warnings.push({ type: 'unsupported', feature: `provider-defined tool ${tool.id}` });
      continue;
    }
    tools.push({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parameters: tool.inputSchema as Record<string, unknown>,
        ...(tool.strict === undefined ? {} : { strict: tool.strict }),
      },
    });
  }
  if (tools.length > 0) {
    request.tools = tools;
    if (o.toolChoice) request.tool_choice = toolChoice(o.toolChoice);
  }
  warnings.push(...headerWarnings(o.headers));
  return { request, options: callOptions(o.abortSignal, o.providerOptions), warnings };
}
