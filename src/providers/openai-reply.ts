import type { ProviderError } from '../errors.js';
import type { ChatCompletion } from '../types.js';
import type { CallMeta } from './endpoint.js';
import { badResponse, errorFromInBand, parseJson } from './error-mapping.js';
import { isCount, isJsonObject, isUsage, newId } from './json-shapes.js';

/** The parts of an OpenAI-compatible reply or stream frame the adapter reads; the rest passes through untouched. */
interface WireError {
  error?: unknown;
  object?: unknown;
}
interface WireDelta {
  content?: unknown;
  reasoning?: unknown;
  reasoning_content?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
}
export interface WireChoice {
  index?: unknown;
  delta?: WireDelta;
  message?: WireDelta;
  finish_reason?: unknown;
  error?: unknown;
  content_filter_offsets?: unknown;
  content_filter_results?: unknown;
}
export interface WireReply extends WireError {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: WireChoice[];
  usage?: unknown;
}

/**
 * Reads a reply's or a frame's choice's `finish_reason`, true when the choice finishes. A reason that reports a
 * failure, not an end, is thrown: OpenRouter's `error`, and vLLM's `abort` (its engine cut the request: scale-down,
 * shutdown), which it follows with [DONE] as if the answer were complete. sglang, older Ollama and some gateways send
 * "" (or "null") on every chunk: that, or a non-text, is no finish, and null to callers.
 */
export function finishes(c: WireChoice, meta: CallMeta): boolean {
  const f = c.finish_reason;
  if (f == null) return false;
  if (f === 'error' || f === 'abort') throw errorFromInBand(c.error ?? `finish_reason: ${f}`, meta);
  if (typeof f === 'string' && f !== '' && f !== 'null') return true;
  c.finish_reason = null;
  return false;
}

/** vLLM answers `{"object":"error",…}`, OpenAI and most others `{"error":{…}}`. */
export function inBandError(json: WireError): unknown {
  if (json.error != null) return json.error;
  return json.object === 'error' ? json : undefined;
}

/**
 * Replies are handed to the caller as parsed, so an own `__proto__` key (JSON.parse makes one; `Object.assign` or a
 * naive merge in the caller's code would then replace a prototype) is dropped. Only a text that could spell the
 * key — literally or through a `\u` escape — pays for the reviver.
 */
export const NO_PROTO = {
  parse: (text: string): unknown => JSON.parse(text, (k, v) => (k === '__proto__' ? undefined : v)),
};
export const mayHoldProto = (text: string): boolean => text.includes('__proto__') || text.includes('\\u');

const isText = (v: unknown): boolean => v == null || typeof v === 'string';

/**
 * Normalises a reply's message or a frame's delta in place, and says whether callers can take it: its text fields
 * strings (or null) and its `tool_calls` a list. OpenRouter and Groq name reasoning `reasoning`, DeepSeek
 * `reasoning_content`; callers always get the latter.
 */
export function normaliseDelta(d: WireDelta): boolean {
  if (typeof d.reasoning === 'string') {
    if (d.reasoning_content === undefined) d.reasoning_content = d.reasoning;
    delete d.reasoning;
  }
  if (Array.isArray(d.content)) normaliseContent(d);
  return (
    isText(d.content) &&
    isText(d.reasoning_content) &&
    isText(d.refusal) &&
    (d.tool_calls == null || Array.isArray(d.tool_calls))
  );
}

/**
 * Makes a tool call's `arguments` the JSON text OpenAI's shape has there: llama.cpp's server sent the parsed JSON
 * object for a while (early 2026); a number or boolean is read as such a parsed value too. Null arguments are none
 * (a stream delta) or `{}` (a `whole` call, as other protocols' calls without arguments are: docs/choices.md); a
 * whole call without an id gets a new one, a delta's null function is none. False when the call is not an object,
 * its function not an object (an array is not one), its id or function name not a text, or a whole one has no function name.
 */
export function normaliseToolCall(t: unknown, whole = false): t is { index?: unknown } {
  if (t === null || typeof t !== 'object' || Array.isArray(t)) return false;
  const call = t as { id?: unknown; function?: { name?: unknown; arguments?: unknown } | null };
  const fn = call.function;
  if (whole) {
    if (typeof fn?.name !== 'string') return false;
    // The caller answers a call by its id: one the server left out is made, as Ollama's are.
    if (call.id == null || call.id === '') call.id = newId('call_');
  } else if (fn === null) delete call.function;
  else if (
    fn !== undefined &&
    (typeof fn !== 'object' || Array.isArray(fn) || (fn.name != null && typeof fn.name !== 'string'))
  )
    return false;
  // A delta may leave its id out (or send null); an id of another type is malformed.
  if (call.id != null && typeof call.id !== 'string') return false;
  const args = fn?.arguments;
  if (args == null) {
    if (whole) (fn as { arguments: unknown }).arguments = '{}';
    else if (args === null) delete (fn as { arguments: unknown }).arguments;
  } else if (typeof args !== 'string') {
    try {
      (fn as { arguments: unknown }).arguments = JSON.stringify(args);
    } catch {
      return false; // nested deeper than JSON.stringify can walk (a RangeError)
    }
  }
  return true;
}

/**
 * Mistral sends `content` as an array of typed parts: text parts become the string, thinking parts (whose own
 * `thinking` is a list of text parts) `reasoning_content`. The types promise a string; an array never passes through.
 */
function normaliseContent(d: WireDelta): void {
  let text = '';
  let thought = '';
  const textOf = (p: unknown): string => {
    const t = (p as { text?: unknown } | null)?.text;
    return typeof t === 'string' ? t : '';
  };
  for (const part of d.content as unknown[]) {
    const p = part as { type?: unknown; thinking?: unknown } | null;
    if (p?.type === 'thinking') {
      if (typeof p.thinking === 'string') thought += p.thinking;
      else if (Array.isArray(p.thinking)) for (const t of p.thinking) thought += textOf(t);
    } else if (p?.type === 'text') text += textOf(p);
  }
  d.content = text;
  if (thought !== '')
    d.reasoning_content = typeof d.reasoning_content === 'string' ? d.reasoning_content + thought : thought;
}

/** Whether a stream frame's choices carry text, reasoning, a refusal or a tool call. */
export function carriesContent(choices: WireChoice[]): boolean {
  for (const c of choices) {
    const d = c.delta as WireDelta;
    if (
      d.content ||
      d.reasoning_content ||
      d.refusal ||
      (Array.isArray(d.tool_calls) && d.tool_calls.length > 0)
    )
      return true;
  }
  return false;
}

/**
 * A reply body's JSON object; throws its in-band error, or hands it to `inBand` when given (which returns what
 * to throw, or undefined to have the object returned).
 */
export function replyJson(
  text: string,
  meta: CallMeta,
  inBand?: (err: ProviderError) => ProviderError | undefined,
): unknown {
  const json = parseJson(text, meta, undefined, mayHoldProto(text) ? NO_PROTO : undefined);
  if (json === null || typeof json !== 'object') throw badResponse(meta, 'reply is not a JSON object');
  const err = inBandError(json as WireError);
  if (err === undefined) return json;
  const thrown = inBand ? inBand(errorFromInBand(err, meta)) : errorFromInBand(err, meta);
  if (thrown !== undefined) throw thrown;
  return undefined;
}

/**
 * What makes a reply's message one callers cannot take (normalised in place): a field of the wrong type or a malformed
 * tool call; undefined when there is none.
 */
function messageProblem(m: WireDelta): string | undefined {
  if (!normaliseDelta(m)) return 'reply message has a field of the wrong type';
  if (m.tool_calls && !(m.tool_calls as unknown[]).every((t) => normaliseToolCall(t, true)))
    return 'malformed tool call';
  return undefined;
}

/**
 * What makes `choices` ones callers cannot take (a custom adapter's answer, a stored cache answer; normalised in
 * place); undefined when there is nothing.
 */
export function choicesProblem(choices: unknown): string | undefined {
  if (!Array.isArray(choices) || choices.length === 0) return 'has no choices';
  for (const c of choices) {
    const message = (c as { message?: unknown } | null)?.message;
    if (!isJsonObject(message)) return 'holds a choice without a message';
    const problem = messageProblem(message);
    if (problem !== undefined) return `holds a malformed message (${problem})`;
  }
  return undefined;
}

/** A `/chat/completions` reply checked and normalised, relabelled `model`; ids and times filled in when missing. */
export function chatReply(text: string, meta: CallMeta, model: string, now: number): ChatCompletion {
  const json = replyJson(text, meta) as WireReply;
  const choices = json.choices;
  if (!Array.isArray(choices) || choices.length === 0) throw badResponse(meta, 'reply has no choices');
  for (const c of choices) {
    if (c === null || typeof c !== 'object' || c.message === null || typeof c.message !== 'object')
      throw badResponse(meta, 'reply choice has no message');
    if (!finishes(c, meta)) c.finish_reason = null;
    const problem = messageProblem(c.message);
    if (problem) throw badResponse(meta, problem);
    // Groq leaves `content` out of a tool-only reply: the message says null, as OpenAI's does.
    if (c.message.content === undefined) c.message.content = null;
  }
  if (json.usage != null && !isUsage(json.usage)) delete json.usage;
  if (typeof json.id !== 'string') json.id = `chatcmpl-${now.toString(36)}`;
  // Unix seconds: 1e999 (Infinity, served as null), a negative or a fractional time is not one.
  if (!isCount(json.created)) json.created = Math.floor(now / 1000);
  json.object = 'chat.completion';
  json.model = model;
  return json as unknown as ChatCompletion;
}
