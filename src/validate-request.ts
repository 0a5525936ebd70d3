import { ConfigError, InvalidRequestError } from './errors.js';
import { IssueList, isList, kindOf, shown } from './issue-list.js';
import { isJsonObject as isObject, type JsonObject as Obj } from './providers/json-shapes.js';
import { cannotRead } from './redact.js';
import type { CallOptions } from './types.js';
import { checkMessages } from './validate-messages.js';

/**
 * Per-call input checks, run before any I/O on every `chat`/`stream`/`embed`: a malformed call is the caller's
 * mistake (400) and must never reach a provider or its breaker. Hand-written rather than valibot schemas, by
 * measurement (bench/README.md, "Hand-made parts, measured"): the valibot version
 * (bench/parts/validate-request-valibot.ts) makes a chat from the memory cache ~25 % slower and a chat ~10 % more
 * CPU, and valibot cannot cap its issue list (each bad item of a huge request would become an issue object), so
 * the lists would still need a walk of their own. It walks only the fixed-depth shapes of the OpenAI request, never
 * JSON schemas (routing/request-bounds.ts bounds their depth and size after this runs).
 */

/** A blank provider before the first `/`, or a blank model after it (`/m`, `groq/`). */
const BLANK_SIDE = /^\s*\/|^[^/]*\/\s*$/;

function checkModel(model: unknown, out: IssueList): void {
  if (model === undefined) return;
  if (typeof model !== 'string') out.add('model', `must be a string, got ${kindOf(model)}`);
  else if (model.trim() === '') out.add('model', 'must not be blank (omit it to use the default alias)');
  else if (BLANK_SIDE.test(model))
    out.add('model', 'has a blank side: expected "provider/model", "mana/<alias>" or a bare model name');
}

function checkTools(tools: unknown, out: IssueList): void {
  if (!Array.isArray(tools)) {
    out.add('tools', `must be an array of tool definitions, got ${kindOf(tools)}`);
    return;
  }
  for (let i = 0; i < tools.length; i++) {
    const t = tools[i];
    if (!isObject(t)) out.add(`tools[${i}]`, `must be a tool definition object, got ${kindOf(t)}`);
    else if (t.type !== 'function') out.add(`tools[${i}].type`, 'must be "function"');
    else if (!isObject(t.function) || typeof t.function.name !== 'string' || t.function.name === '')
      out.add(`tools[${i}].function.name`, 'must be a non-empty string');
    else if (t.function.parameters !== undefined && !isObject(t.function.parameters))
      out.add(`tools[${i}].function.parameters`, 'must be a JSON Schema object');
  }
}

function checkNumber(n: unknown, path: string, out: IssueList): void {
  if (n !== undefined && (typeof n !== 'number' || !Number.isFinite(n)))
    out.add(path, 'must be a finite number');
}

function checkPositiveInteger(n: unknown, path: string, out: IssueList): void {
  if (n !== undefined && !(Number.isSafeInteger(n) && (n as number) > 0))
    out.add(path, 'must be a positive integer');
}

function checkChatFields(r: Obj, out: IssueList): void {
  // Spelled out, not a loop over key names: direct property reads stay cheap on the hot path.
  checkNumber(r.temperature, 'temperature', out);
  checkNumber(r.top_p, 'top_p', out);
  checkNumber(r.frequency_penalty, 'frequency_penalty', out);
  checkNumber(r.presence_penalty, 'presence_penalty', out);
  checkNumber(r.seed, 'seed', out);
  checkPositiveInteger(r.max_tokens, 'max_tokens', out);
  const stop = r.stop;
  if (
    stop !== undefined &&
    typeof stop !== 'string' &&
    !(Array.isArray(stop) && stop.every((s) => typeof s === 'string'))
  )
    out.add('stop', 'must be a string or an array of strings');
  if (r.tools !== undefined) checkTools(r.tools, out);
  const choice = r.tool_choice;
  if (
    choice !== undefined &&
    choice !== 'none' &&
    choice !== 'auto' &&
    choice !== 'required' &&
    !(
      isObject(choice) &&
      choice.type === 'function' &&
      isObject(choice.function) &&
      typeof choice.function.name === 'string'
    )
  )
    out.add('tool_choice', 'must be "none", "auto", "required" or { type: "function", function: { name } }');
  const rf = r.response_format;
  if (rf !== undefined) {
    if (!isObject(rf) || (rf.type !== 'text' && rf.type !== 'json_object' && rf.type !== 'json_schema'))
      out.add('response_format.type', 'must be "text", "json_object" or "json_schema"');
    else if (rf.type === 'json_schema') {
      const js = rf.json_schema;
      if (!isObject(js) || typeof js.name !== 'string')
        out.add('response_format.json_schema', 'must be an object with a name (and optionally a schema)');
      // OpenAI's schema is optional; given, it is one.
      else if (js.schema !== undefined && !isObject(js.schema))
        out.add('response_format.json_schema.schema', 'must be a JSON Schema object');
    }
  }
  if (r.stream_options !== undefined && !isObject(r.stream_options))
    out.add('stream_options', 'must be an object { include_usage? }');
}

function checkInput(input: unknown, out: IssueList): void {
  if (typeof input === 'string') return;
  if (!isList(input, 'input', 'a string or an array of strings', 'string', out)) return;
  for (let i = 0; i < input.length; i++) {
    if (typeof input[i] !== 'string') out.add(`input[${i}]`, `must be a string, got ${kindOf(input[i])}`);
  }
}

function checkOptions(opts: unknown, out: IssueList): void {
  if (opts === undefined) return;
  try {
    if (!isObject(opts)) {
      out.add('options', `call options must be an object, got ${kindOf(opts)}`);
      return;
    }
    const t = opts.timeoutMs;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0))
      out.add(
        'timeoutMs',
        `must be a finite number of milliseconds > 0, got ${typeof t === 'number' ? t : kindOf(t)}`,
      );
    const s = opts.signal;
    // Duck-typed: an AbortSignal from another realm or a polyfill works the same way.
    if (
      s !== undefined &&
      !(isObject(s) && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function')
    )
      out.add('signal', `must be an AbortSignal, got ${kindOf(s)}`);
    if (opts.cache !== undefined && typeof opts.cache !== 'boolean')
      out.add('cache', 'must be true or false');
    const h = opts.hedgeAfterMs;
    if (h !== undefined && h !== 'auto' && (typeof h !== 'number' || !Number.isFinite(h) || h < 0))
      out.add(
        'hedgeAfterMs',
        `must be a finite number of milliseconds >= 0 (0: no hedging) or 'auto', got ${typeof h === 'number' ? h : kindOf(h)}`,
      );
  } catch (err) {
    out.add('options', cannotRead(err));
  }
}

/**
 * Checks one `chat`/`stream` (`kind` other than `embed`) or `embed` call before any I/O.
 * @throws InvalidRequestError listing every problem with its path; ConfigError for `{ cache: true }` on a client
 * without a response cache (the client's setup is wrong, not the request)
 */
export function validateCall(kind: string, request: unknown, opts: unknown, hasCache: boolean): void {
  const out = new IssueList();
  try {
    if (!isObject(request)) {
      out.add('', `the request must be an object, got ${kindOf(request)}`);
    } else {
      checkModel(request.model, out);
      if (kind === 'embed') {
        checkInput(request.input, out);
        checkPositiveInteger(request.dimensions, 'dimensions', out);
        const f = request.encoding_format;
        if (f !== undefined && f !== 'float' && f !== 'base64')
          out.add('encoding_format', `must be 'float' or 'base64', got ${shown(f)}`);
      } else {
        // A completions-style `prompt` (the openai SDK's other API) is a common first call: say what to send.
        if (request.messages === undefined && request.prompt !== undefined)
          out.add(
            'messages',
            "is required: a chat request sends messages: [{ role: 'user', content: '…' }], not prompt",
          );
        else checkMessages(request.messages, out);
        checkChatFields(request, out);
      }
    }
  } catch (err) {
    out.add('', cannotRead(err));
  }
  checkOptions(opts, out);
  if (out.list) throw new InvalidRequestError(`Invalid ${kind} request`, out.list);
  // A stream never uses the cache (docs/redis.md, "The response cache"), with or without one: only chat and embed say so.
  if (!hasCache && kind !== 'stream' && (opts as CallOptions | undefined)?.cache === true)
    throw new ConfigError('This client has no response cache', [
      {
        path: 'cache',
        message:
          "{ cache: true } needs a client created with the cache option, e.g. cache: { store: 'memory' }",
      },
    ]);
}

/**
 * Checks the options of `models()`, the one call without a request.
 * @throws InvalidRequestError
 */
export function validateOptions(opts: unknown): void {
  const out = new IssueList();
  checkOptions(opts, out);
  if (out.list) throw new InvalidRequestError('Invalid options', out.list);
}

/**
 * Checks a model string given to `resolve()`.
 * @throws InvalidRequestError
 */
export function validateModel(model: unknown): void {
  const out = new IssueList();
  checkModel(model, out);
  if (out.list) throw new InvalidRequestError('Invalid model', out.list);
}
