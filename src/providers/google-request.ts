import type { ToolChoice, ToolDefinition } from '../types.js';
import type { AdapterChatRequest } from './adapter.js';
import { type LoadImage, userParts } from './images.js';
import { argumentsObject, isJsonObject, type JsonObject, jsonObjectIn, textOf } from './json-shapes.js';

/** One Gemini `Content`: a turn of the conversation. */
interface GeminiContent {
  role: 'user' | 'model';
  parts: JsonObject[];
}

/** Gemini wants `args` as an object; OpenAI carries it as a JSON string (any other value is wrapped in one). */
function argsOf(raw: string): JsonObject {
  try {
    return argumentsObject(raw) ?? { value: JSON.parse(raw) };
  } catch {
    return { value: raw };
  }
}

// Gemini's schemas (responseSchema, function parameters) are an OpenAPI 3.0 subset that answers 400
// "Unknown name …" for these JSON Schema keywords, so they are stripped recursively.
const REJECTED_SCHEMA_KEYS = new Set(['$schema', '$id', '$comment', 'additionalProperties']);
// Keywords whose values are data (or names), not sub-schemas: copied as they are.
const VALUE_KEYS = new Set(['enum', 'const', 'default', 'example', 'examples', 'required']);
const SCHEMA_MAP_KEYS = new Set(['properties', '$defs', 'definitions']);

/** Removes JSON Schema keywords Gemini rejects, at every depth, leaving property names alone. */
export function toGeminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGeminiSchema);
  if (!isJsonObject(schema)) return schema;
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (REJECTED_SCHEMA_KEYS.has(key)) continue;
    if (VALUE_KEYS.has(key)) entries.push([key, value]);
    else if (SCHEMA_MAP_KEYS.has(key) && isJsonObject(value)) {
      entries.push([
        key,
        Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toGeminiSchema(sub)])),
      ]);
    } else entries.push([key, toGeminiSchema(value)]);
  }
  // fromEntries defines own properties, so a `__proto__` key stays data
  return Object.fromEntries(entries);
}

function functionDeclaration(tool: ToolDefinition): JsonObject {
  const { name, description, parameters } = tool.function;
  const decl: JsonObject = { name };
  if (description !== undefined) decl.description = description;
  // Gemini rejects an OBJECT schema with no properties, and a schema without a type (`{}`, whose `type` it requires);
  // a function without arguments omits `parameters`, as Google documents.
  const props = parameters?.properties;
  const noArgs = parameters?.type === 'object' && (!isJsonObject(props) || Object.keys(props).length === 0);
  const schema = parameters && !noArgs ? toGeminiSchema(parameters) : undefined;
  if (isJsonObject(schema) && Object.keys(schema).length > 0) decl.parameters = schema;
  return decl;
}

// OpenAI's tool_choice words in Gemini's terms (naming a function is ANY with only that one allowed).
const TOOL_MODES = { auto: 'AUTO', none: 'NONE', required: 'ANY' } as const;

function toolConfig(choice: ToolChoice): JsonObject {
  if (typeof choice === 'string') return { functionCallingConfig: { mode: TOOL_MODES[choice] } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}

function generationConfig(req: AdapterChatRequest): JsonObject {
  const cfg: JsonObject = { candidateCount: 1 };
  if (req.temperature !== undefined) cfg.temperature = req.temperature;
  if (req.top_p !== undefined) cfg.topP = req.top_p;
  if (req.max_tokens !== undefined) cfg.maxOutputTokens = req.max_tokens;
  if (req.stop !== undefined) cfg.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.seed !== undefined) cfg.seed = req.seed;
  // The penalties are dropped: Gemini models since 2.5 answer any non-zero one with 400 "Penalty is not enabled".
  const rf = req.response_format;
  if (rf?.type === 'json_object' || rf?.type === 'json_schema') cfg.responseMimeType = 'application/json';
  if (rf?.type === 'json_schema' && rf.json_schema.schema !== undefined)
    cfg.responseSchema = toGeminiSchema(rf.json_schema.schema);
  return cfg;
}

// Gemini 3 and later refuse a replayed turn of function calls without a thought signature; for a turn another provider
// made (or whose signature the caller's code dropped), Google documents this placeholder on its first call.
const SIGNS_CALLS = /^(?:models\/)?gemini-(?:[3-9]|\d\d)/;
const NO_SIGNATURE = 'skip_thought_signature_validator';

/**
 * Maps an OpenAI-shaped chat request to a Gemini `GenerateContentRequest`. System messages are joined into
 * `systemInstruction`; tool results find their function name through the earlier assistant `tool_calls`.
 */
export async function toGeminiRequest(req: AdapterChatRequest, loadImage: LoadImage): Promise<JsonObject> {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  // Consecutive tool messages answer one model turn: they share one `user` turn of functionResponse parts.
  let toolTurn: GeminiContent | undefined;
  const signs = SIGNS_CALLS.test(req.model);
  for (const m of req.messages) {
    if (m.role === 'tool') {
      const name = toolNames.get(m.tool_call_id) ?? m.tool_call_id;
      const text = textOf(m.content);
      // `functionResponse.response` must be an object: a result that is not a JSON object is wrapped in one. The id
      // is the call's: Gemini matches an answer to its call by it (parallel calls to one function share a name).
      const response = jsonObjectIn(text) ?? { content: text };
      const part = { functionResponse: { id: m.tool_call_id, name, response } };
      if (toolTurn) toolTurn.parts.push(part);
      else contents.push((toolTurn = { role: 'user', parts: [part] }));
      continue;
    }
    toolTurn = undefined;
    if (m.role === 'system' || m.role === 'developer') {
      // Gemini refuses an empty text part: an empty system message is left out.
      const text = textOf(m.content);
      if (text !== '') system.push(text);
    } else if (m.role === 'user') {
      const parts = await userParts<JsonObject>(
        m.content,
        loadImage,
        (text) => ({ text }),
        ({ mimeType, data }) => ({ inlineData: { mimeType, data } }),
      );
      // a turn whose text parts were all empty has no parts left, which Gemini rejects
      if (parts.length > 0) contents.push({ role: 'user', parts });
    } else {
      const parts: JsonObject[] = [];
      const text = textOf(m.content);
      if (text !== '') parts.push({ text });
      for (const call of m.tool_calls ?? []) {
        toolNames.set(call.id, call.function.name);
        const part: JsonObject = {
          functionCall: { id: call.id, name: call.function.name, args: argsOf(call.function.arguments) },
        };
        // Gemini 3 rejects a replayed function call without the signature it was given with
        const signature = call.extra_content?.google?.thought_signature;
        if (typeof signature === 'string' && signature !== '') part.thoughtSignature = signature;
        parts.push(part);
      }
      const first = parts.find((p) => p.functionCall !== undefined);
      if (signs && first && !parts.some((p) => p.thoughtSignature !== undefined))
        first.thoughtSignature = NO_SIGNATURE;
      // Gemini rejects a turn without parts
      if (parts.length > 0) contents.push({ role: 'model', parts });
    }
  }
  const body: JsonObject = { contents };
  if (system.length > 0) body.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  if (req.tools && req.tools.length > 0)
    body.tools = [{ functionDeclarations: req.tools.map(functionDeclaration) }];
  if (req.tool_choice !== undefined) body.toolConfig = toolConfig(req.tool_choice);
  body.generationConfig = generationConfig(req);
  return body;
}
