import { ProviderCapabilityError } from '../errors.js';
import type { ChatCompletion, ChatMessage, FinishReason, TextPart, ToolCall, Usage } from '../types.js';
import type { AdapterChatRequest } from './adapter.js';
import type { CallMeta } from './endpoint.js';
import { badResponse, blockedError, callerError, errorFromInBand } from './error-mapping.js';
import { type LoadImage, userParts } from './images.js';
import {
  type Answer,
  argumentsObject,
  completion,
  countOf,
  isCount,
  isJsonObject,
  textOf,
  toolCall,
} from './json-shapes.js';

/** `max_tokens` is required by the Messages API; this is what we send when the caller gives none. */
const DEFAULT_MAX_TOKENS = 4096;

type TextBlock = { type: 'text'; text: string };
type Block =
  | TextBlock
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string | TextBlock[] };

interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

function textBlocks(content: string | TextPart[] | null | undefined): TextBlock[] {
  if (content == null) return [];
  const parts = typeof content === 'string' ? [{ type: 'text' as const, text: content }] : content;
  // Anthropic rejects empty text blocks.
  return parts.filter((p) => p.text !== '').map((p) => ({ type: 'text', text: p.text }));
}

/**
 * A tool call id as Anthropic takes it (`^[a-zA-Z0-9_-]+$`): ids made by other providers (Kimi's
 * `functions.get_weather:0`) get `_` for other characters, the same way in the call and in its result.
 */
const toolId = (id: string): string => id.replace(/[^a-zA-Z0-9_-]/g, '_');

function toolUse(call: ToolCall, meta: CallMeta): Block {
  const input = argumentsObject(call.function.arguments);
  if (!input) throw callerError(meta, `tool call ${call.id} arguments are not a JSON object`);
  return { type: 'tool_use', id: toolId(call.id), name: call.function.name, input };
}

async function toTurn(
  m: Exclude<ChatMessage, { role: 'system' | 'developer' }>,
  loadImage: LoadImage,
  meta: CallMeta,
): Promise<Turn> {
  switch (m.role) {
    case 'user': {
      const content = await userParts<Block>(
        m.content,
        loadImage,
        (text) => ({ type: 'text', text }),
        (img) => ({ type: 'image', source: { type: 'base64', media_type: img.mimeType, data: img.data } }),
      );
      return { role: 'user', content };
    }
    case 'assistant':
      return {
        role: 'assistant',
        content: [...textBlocks(m.content), ...(m.tool_calls ?? []).map((c) => toolUse(c, meta))],
      };
    case 'tool': {
      const content = typeof m.content === 'string' ? m.content : textBlocks(m.content);
      return {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: toolId(m.tool_call_id), content }],
      };
    }
  }
}

// OpenAI's tool_choice words in Anthropic's terms (naming a function is `{ type: 'tool', name }`).
const TOOL_CHOICE = { auto: 'auto', required: 'any', none: 'none' } as const;

/**
 * Builds a Messages API body: system messages become `system`, consecutive same-role turns are merged (tool
 * results ride in a user turn), images are inlined as base64 sources. `seed` and the penalties are dropped:
 * the API has no equivalent, and so is `top_p` when `temperature` is set.
 */
export async function toAnthropicBody(
  req: AdapterChatRequest,
  stream: boolean,
  loadImage: LoadImage,
  meta: CallMeta,
): Promise<Record<string, unknown>> {
  const fmt = req.response_format?.type;
  if (fmt === 'json_object' || fmt === 'json_schema') {
    const { provider, model } = meta;
    const message = `${provider}/${model}: response_format ${fmt} not supported`;
    throw new ProviderCapabilityError(message, { provider, model, capability: 'jsonSchema' });
  }
  const system: string[] = [];
  const turns: Turn[] = [];
  for (const m of req.messages) {
    if (m.role === 'system' || m.role === 'developer') {
      // The API refuses an empty system text: an empty system message is left out.
      const text = textOf(m.content);
      if (text !== '') system.push(text);
      continue;
    }
    const turn = await toTurn(m, loadImage, meta);
    // The API refuses a message without content: an empty assistant answer in the history is left out.
    if (turn.content.length === 0) continue;
    const last = turns.at(-1);
    // The API wants strictly alternating roles.
    if (last?.role === turn.role) last.content.push(...turn.content);
    else turns.push(turn);
  }
  const body: Record<string, unknown> = {
    model: req.model,
    max_tokens: req.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages: turns,
  };
  if (system.length > 0) body.system = system.join('\n\n');
  // Not both: Claude 4.5 and later answer 400 to that, and the API's own advice is to set one of them.
  if (req.temperature !== undefined) body.temperature = req.temperature;
  else if (req.top_p !== undefined) body.top_p = req.top_p;
  if (req.stop !== undefined) body.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description === undefined ? {} : { description: t.function.description }),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    }));
  }
  const choice = req.tool_choice;
  if (typeof choice === 'string') body.tool_choice = { type: TOOL_CHOICE[choice] };
  else if (choice !== undefined) body.tool_choice = { type: 'tool', name: choice.function.name };
  if (req.user !== undefined) body.metadata = { user_id: req.user };
  if (stream) body.stream = true;
  return body;
}

/** Maps a `stop_reason`; a refusal is the provider's safety filter and throws `ProviderBlockedError`. */
export function finishReason(stop: unknown, meta: CallMeta): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      throw blockedError(meta, 'the model refused', 'refusal');
    default:
      return 'stop';
  }
}

/**
 * Token counts from Anthropic's `usage`, when input and output are counts. `input_tokens` leaves out the prompt
 * tokens read from or written to the prompt cache; OpenAI's `prompt_tokens` counts every prompt token, so they are
 * added in, and the cache reads are reported as `prompt_tokens_details.cached_tokens`.
 */
export function usageOf(u: unknown): Usage | undefined {
  if (!isJsonObject(u)) return undefined;
  const input = u.input_tokens;
  const output = u.output_tokens;
  if (!isCount(input) || !isCount(output)) return undefined;
  const cached = countOf(u.cache_read_input_tokens);
  const prompt = input + cached + countOf(u.cache_creation_input_tokens);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output };
  if (u.cache_read_input_tokens !== undefined || u.cache_creation_input_tokens !== undefined)
    usage.prompt_tokens_details = { cached_tokens: cached };
  return usage;
}

/** Maps a non-streamed Messages API reply to an OpenAI `chat.completion`; an in-band error is thrown as classified. */
export function fromAnthropicMessage(
  reply: unknown,
  meta: CallMeta,
  model: string,
  created: number,
): ChatCompletion {
  if (!isJsonObject(reply)) throw badResponse(meta, 'reply is not an object');
  if (reply.type === 'error' || reply.error != null) throw errorFromInBand(reply.error, meta);
  if (!Array.isArray(reply.content)) throw badResponse(meta, 'reply has no content array');
  const answer: Answer = { content: '', reasoning: '', toolCalls: [] };
  for (const b of reply.content) {
    if (!isJsonObject(b)) throw badResponse(meta, 'content block is not an object');
    // A text or thinking block without its string is malformed: skipped, its text would be lost.
    if (b.type === 'text' || b.type === 'thinking') {
      const text = b[b.type];
      if (typeof text !== 'string') throw badResponse(meta, `${b.type} block without its text`);
      if (b.type === 'text') answer.content += text;
      else answer.reasoning += text;
    } else if (b.type === 'tool_use') {
      if (typeof b.id !== 'string' || typeof b.name !== 'string')
        throw badResponse(meta, 'tool_use block without id or name');
      answer.toolCalls.push(toolCall(b.id, b.name, b.input));
    }
  }
  const finish = finishReason(reply.stop_reason, meta);
  const id = typeof reply.id === 'string' ? reply.id : `msg-${created}`;
  const usage = usageOf(reply.usage);
  return completion(id, created, model, answer, finish, usage);
}
