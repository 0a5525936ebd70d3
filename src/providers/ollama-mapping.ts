import type { ChatMessage, ContentPart, FinishReason, ToolCall, ToolDefinition, Usage } from '../types.js';
import type { AdapterChatRequest } from './adapter.js';
import type { CallMeta } from './endpoint.js';
import { badResponse, errorFromInBand } from './error-mapping.js';
import type { LoadImage } from './images.js';
import { argumentsObject, countOf, isCount, isJsonObject, type JsonObject, toolCall } from './json-shapes.js';

/** One message as Ollama's `/api/chat` takes it. */
interface OllamaMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  images?: string[];
  tool_calls?: { function: { name: string; arguments: unknown } }[];
  tool_name?: string;
}

/** One Ollama answer (a whole JSON reply or one NDJSON line): its message, checked, and the reply itself. */
interface OllamaFrame {
  json: JsonObject;
  done: boolean;
  content: string;
  thinking: string;
  toolCalls: unknown[];
}

function text(content: string | ContentPart[] | null | undefined): string {
  if (typeof content === 'string') return content;
  return (content ?? []).flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('\n');
}

async function toMessage(
  m: ChatMessage,
  toolNames: Map<string, string>,
  loadImage: LoadImage,
): Promise<OllamaMessage> {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: text(m.content) };
    case 'user': {
      const urls =
        typeof m.content === 'string'
          ? []
          : m.content.flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : []));
      const out: OllamaMessage = { role: 'user', content: text(m.content) };
      if (urls.length > 0) out.images = await Promise.all(urls.map(async (u) => (await loadImage(u)).data));
      return out;
    }
    case 'assistant': {
      const out: OllamaMessage = { role: 'assistant', content: text(m.content) };
      if (m.tool_calls && m.tool_calls.length > 0) {
        out.tool_calls = m.tool_calls.map((c) => {
          toolNames.set(c.id, c.function.name);
          // Text that is not a JSON object is sent as is, so Ollama rejects the request (a 400: the caller's history
          // is wrong) instead of the adapter inventing arguments.
          const args = argumentsObject(c.function.arguments) ?? c.function.arguments;
          return { function: { name: c.function.name, arguments: args } };
        });
      }
      return out;
    }
    case 'tool': {
      const out: OllamaMessage = { role: 'tool', content: text(m.content) };
      const name = toolNames.get(m.tool_call_id);
      if (name !== undefined) out.tool_name = name;
      return out;
    }
  }
}

function tools(req: AdapterChatRequest): ToolDefinition[] | undefined {
  const choice = req.tool_choice;
  if (!req.tools || req.tools.length === 0 || choice === 'none') return undefined;
  // Ollama has no tool_choice: naming one function is expressed by offering only that one.
  if (typeof choice === 'object') {
    const only = req.tools.filter((t) => t.function.name === choice.function.name);
    return only.length > 0 ? only : req.tools;
  }
  return req.tools;
}

/** Builds the `/api/chat` body; images are sent as base64 bytes beside the user message's text. */
export async function toOllamaChat(
  req: AdapterChatRequest,
  stream: boolean,
  loadImage: LoadImage,
): Promise<JsonObject> {
  const toolNames = new Map<string, string>();
  const messages: OllamaMessage[] = [];
  // In order: a tool message names the function of the assistant call it answers.
  for (const m of req.messages) messages.push(await toMessage(m, toolNames, loadImage));
  const options: JsonObject = {};
  if (req.temperature !== undefined) options.temperature = req.temperature;
  if (req.top_p !== undefined) options.top_p = req.top_p;
  if (req.max_tokens !== undefined) options.num_predict = req.max_tokens;
  if (req.stop !== undefined) options.stop = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.seed !== undefined) options.seed = req.seed;
  if (req.frequency_penalty !== undefined) options.frequency_penalty = req.frequency_penalty;
  if (req.presence_penalty !== undefined) options.presence_penalty = req.presence_penalty;
  const body: JsonObject = { model: req.model, messages, stream };
  if (Object.keys(options).length > 0) body.options = options;
  const rf = req.response_format;
  if (rf?.type === 'json_object') body.format = 'json';
  else if (rf?.type === 'json_schema') body.format = rf.json_schema.schema ?? 'json';
  const t = tools(req);
  if (t !== undefined) body.tools = t;
  return body;
}

/**
 * An Ollama reply (a JSON reply or an NDJSON line) as an object, the error it carries thrown. Ollama's error is a
 * bare string; when the runner failed with a status it adds `"status": <code>` beside it, and only that number
 * classifies it (never the text).
 */
export function replyObject(json: unknown, meta: CallMeta): JsonObject {
  if (!isJsonObject(json)) throw badResponse(meta, 'reply is not a JSON object');
  if (json.error == null) return json;
  const status = json.status;
  throw errorFromInBand(
    typeof json.error === 'string' && typeof status === 'number'
      ? { message: json.error, status }
      : json.error,
    meta,
  );
}

/**
 * Reads one Ollama answer (a JSON reply or an NDJSON line): an `error` inside it is thrown as classified,
 * a malformed one as `ProviderResponseError`.
 */
export function readFrame(reply: unknown, meta: CallMeta, streaming: boolean): OllamaFrame {
  const json = replyObject(reply, meta);
  const done = json.done === true;
  const msg = json.message;
  if (msg === undefined && !(streaming && done)) throw badResponse(meta, 'reply has no message');
  if (msg !== undefined && !isJsonObject(msg)) throw badResponse(meta, 'reply message is not an object');
  const content = msg?.content ?? '';
  const thinking = msg?.thinking ?? '';
  const calls = msg?.tool_calls ?? [];
  if (typeof content !== 'string' || typeof thinking !== 'string' || !Array.isArray(calls))
    throw badResponse(meta, 'reply message has malformed content, thinking or tool_calls');
  return { json, done, content, thinking, toolCalls: calls };
}

// Ollama's text line, field by field as it writes them: {"model":"…","created_at":"…","message":{"role":"assistant",
// "content":"…"},"done":false}. Nearly every line of a stream has this form.
const HEAD = '{"model":"';
const AT = '","created_at":"';
const MESSAGE = '","message":{"role":"assistant","content":"';
const TAIL = '"},"done":false}';

/** Where the first `"`, `\\` or control character in `line[from, to)` is (`to` when there is none). */
function plainUntil(line: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = line.charCodeAt(i);
    if (c === 34 || c === 92 || c < 32) return i;
  }
  return to;
}

/**
 * The text of a stream line in Ollama's text-line form (non-empty content; model and timestamp without escapes),
 * read without `JSON.parse` (12–20 % of the Ollama stream benchmark, bench/README.md), and every such line is valid
 * JSON by construction. Any other line (thinking, tool calls, `done`, an error, other fields or order, malformed) gives
 * undefined and is parsed whole.
 */
export function textOfLine(line: string): string | undefined {
  const end = line.length - TAIL.length;
  if (!line.startsWith(HEAD) || !line.endsWith(TAIL)) return undefined;
  const at = plainUntil(line, HEAD.length, end);
  if (!line.startsWith(AT, at)) return undefined;
  const message = plainUntil(line, at + AT.length, end);
  if (!line.startsWith(MESSAGE, message)) return undefined;
  const start = message + MESSAGE.length;
  if (start >= end) return undefined;
  if (plainUntil(line, start, end) === end) return line.slice(start, end);
  // Escapes in the text: JSON reads the string (a quote inside it that is not escaped makes this throw).
  try {
    return JSON.parse(line.slice(start - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}

/** Ollama tool calls → OpenAI ones; ids are Ollama's when it sends them, else new ones. */
export function toToolCalls(raw: unknown[], meta: CallMeta): ToolCall[] {
  return raw.map((c) => {
    const fn = isJsonObject(c) ? c.function : undefined;
    if (!isJsonObject(fn) || typeof fn.name !== 'string')
      throw badResponse(meta, 'tool call without a function name');
    return toolCall((c as JsonObject).id, fn.name, fn.arguments);
  });
}

/** `done_reason` → `finish_reason`: a reply that called tools finishes with `tool_calls`. */
export function finishReason(doneReason: unknown, calledTools: boolean): FinishReason {
  if (calledTools) return 'tool_calls';
  return doneReason === 'length' ? 'length' : 'stop';
}

/** Token counts from `prompt_eval_count` / `eval_count` (a cached prompt omits the first). */
export function usageOf(json: JsonObject): Usage | undefined {
  if (!isCount(json.prompt_eval_count) && !isCount(json.eval_count)) return undefined;
  const p = countOf(json.prompt_eval_count);
  const c = countOf(json.eval_count);
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

/** `created_at` (RFC 3339) as Unix seconds, or `fallbackMs` when absent, unreadable or before 1970 (Go's zero time). */
export function createdOf(json: JsonObject, fallbackMs: number): number {
  const at = typeof json.created_at === 'string' ? Date.parse(json.created_at) : Number.NaN;
  return Math.floor((at >= 0 ? at : fallbackMs) / 1000);
}
