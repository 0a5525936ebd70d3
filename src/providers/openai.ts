import { ProviderError, ProviderResponseError } from '../errors.js';
import type { ChatChunk, ChatCompletion, Embeddings } from '../types.js';
import { cancelOf } from '../wire/cancel.js';
import { bodyArrived } from '../wire/http.js';
import { SSEParser } from '../wire/sse.js';
import type {
  AdapterChatRequest,
  AdapterContext,
  AdapterEmbedRequest,
  Capabilities,
  ProviderAdapter,
} from './adapter.js';
import { type CallMeta, endpointOf } from './endpoint.js';
import { badResponse, errorFromInBand, networkError, parseJson, probeAnswered } from './error-mapping.js';
import {
  embeddingsBody,
  embeddingsData,
  FloatModels,
  isEmptyList,
  refusesFormat,
} from './openai-embeddings.js';
import type { AdapterDeps } from './registry.js';
import { readBody, send } from './transport.js';

const EVERYTHING: Capabilities = Object.freeze({
  tools: true,
  vision: true,
  jsonSchema: true,
  embeddings: true,
});

/** The parts of a vendor payload this adapter reads; everything else passes through untouched. */
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
interface WireChoice {
  delta?: WireDelta;
  message?: WireDelta;
  finish_reason?: unknown;
  error?: unknown;
}
interface WireReply extends WireError {
  id?: unknown;
  object?: unknown;
  created?: unknown;
  model?: unknown;
  choices?: WireChoice[];
  usage?: unknown;
}

/** vLLM answers `{"object":"error",…}`, OpenAI and most others `{"error":{…}}`. */
function inBandError(json: WireError): unknown {
  if (json.error !== undefined && json.error !== null) return json.error;
  return json.object === 'error' ? json : undefined;
}

/**
 * Replies are handed to the caller as parsed, so an own `__proto__` key (JSON.parse makes one; `Object.assign` or a
 * naive merge in the caller's code would then replace a prototype) is dropped. Only a text that could spell the
 * key — literally or through a `\u` escape — pays for the reviver.
 */
const NO_PROTO = {
  parse: (text: string): unknown => JSON.parse(text, (k, v) => (k === '__proto__' ? undefined : v)),
};
const mayHoldProto = (text: string): boolean => text.includes('__proto__') || text.includes('\\u');

/** OpenRouter and Groq name it `reasoning`, DeepSeek `reasoning_content`; callers always get the latter. */
function normaliseReasoning(d: WireDelta): void {
  if (typeof d.reasoning === 'string') {
    if (d.reasoning_content === undefined) d.reasoning_content = d.reasoning;
    delete d.reasoning;
  }
}

/**
 * Mistral sends `content` as an array of typed parts: text parts become the string, thinking parts (whose own
 * `thinking` is a list of text parts) `reasoning_content`. The types promise a string; an array never passes through.
 */
function normaliseContent(d: WireDelta): void {
  if (!Array.isArray(d.content)) return;
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
function carriesContent(choices: WireChoice[]): boolean {
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
 * The request without `extra_content` on assistant tool calls (Gemini's thought signature, see google-mapping.ts):
 * only Google's own OpenAI-compatible endpoint reads it, and a strict server (OpenAI) may reject a field it does
 * not know when a conversation moves from Gemini to it. The request itself when there is none (the usual case).
 */
function withoutToolCallExtras(req: AdapterChatRequest): AdapterChatRequest {
  const has = (m: AdapterChatRequest['messages'][number]) =>
    m.role === 'assistant' && m.tool_calls?.some((c) => c.extra_content !== undefined) === true;
  if (!req.messages.some(has)) return req;
  const messages = req.messages.map((m) => {
    if (m.role !== 'assistant' || !m.tool_calls || !has(m)) return m;
    return { ...m, tool_calls: m.tool_calls.map(({ extra_content: _drop, ...call }) => call) };
  });
  return { ...req, messages };
}

/**
 * `JSON.stringify({ ...req, stream })`, without the copy when `req` has no `stream` key of its own: V8 builds a
 * spread copy plus a new key slowly (~1 µs), and the text is the same — the key goes last either way.
 */
function withStream(req: object, stream: boolean): string {
  if ('stream' in req || 'toJSON' in req) return JSON.stringify({ ...req, stream });
  const json = JSON.stringify(req);
  return json === '{}' ? `{"stream":${stream}}` : `${json.slice(0, -1)},"stream":${stream}}`;
}

/**
 * Adapter for any OpenAI-compatible server (OpenAI, Groq, OpenRouter, Together, vLLM, LM Studio, llama.cpp):
 * requests are passed through as they are, replies are checked and relabelled `provider/model`.
 */
export function createOpenAIAdapter(deps: AdapterDeps): ProviderAdapter {
  const { config, http, clock } = deps;
  const { origin, basePath, meta: metaFor } = endpointOf(config);
  const base: Record<string, string> = {};
  if (config.apiKey) base.authorization = `Bearer ${config.apiKey}`;
  // Configured headers win, whatever their case (OpenRouter's HTTP-Referer / X-Title, Azure's api-key, …).
  for (const [k, v] of Object.entries(config.headers)) base[k.toLowerCase()] = v;
  const getHeaders = { accept: 'application/json', ...base };
  const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json', ...base };
  const sseHeaders = { 'content-type': 'application/json', accept: 'text/event-stream', ...base };
  const chatPath = `${basePath}/chat/completions`;
  const embedPath = `${basePath}/embeddings`;
  const modelsPath = `${basePath}/models`;
  // Google's OpenAI-compatible endpoint wants Gemini's thought signatures back on tool calls; nobody else reads them.
  const keepsExtras = new URL(config.baseUrl).hostname.endsWith('.googleapis.com');
  const outgoing = (req: AdapterChatRequest) => (keepsExtras ? req : withoutToolCallExtras(req));

  /**
   * A reply body's JSON object; throws its in-band error, or hands it to `inBand` when given (which returns what
   * to throw, or undefined to have the object returned). Takes the text so callers await the body directly.
   */
  function replyJson(
    text: string,
    meta: CallMeta,
    inBand?: (err: ProviderError) => ProviderError | undefined,
  ): unknown {
    const json = mayHoldProto(text) ? parseJson(text, meta, undefined, NO_PROTO) : parseJson(text, meta);
    if (json === null || typeof json !== 'object') throw badResponse(meta, 'reply is not a JSON object');
    const err = inBandError(json as WireError);
    if (err === undefined) return json;
    const thrown = inBand ? inBand(errorFromInBand(err, meta)) : errorFromInBand(err, meta);
    if (thrown !== undefined) throw thrown;
    return undefined;
  }

  async function chat(input: AdapterChatRequest, ctx: AdapterContext): Promise<ChatCompletion> {
    const request = outgoing(input);
    const meta = metaFor(request.model, 'POST', chatPath);
    // stream_options is rejected by OpenAI unless streaming; `stream` pinned in case a JS caller set it.
    let body: string;
    if (request.stream_options === undefined) body = withStream(request, false);
    else {
      const { stream_options: _unused, ...rest } = request;
      body = JSON.stringify({ ...rest, stream: false });
    }
    const cancel = cancelOf(ctx);
    const res = await send(
      http,
      { origin, path: chatPath, method: 'POST', headers: jsonHeaders, body, signal: cancel },
      meta,
    );
    const json = replyJson(await readBody(res, cancel, meta), meta) as WireReply;
    const choices = json.choices;
    if (!Array.isArray(choices) || choices.length === 0) throw badResponse(meta, 'reply has no choices');
    for (const c of choices) {
      if (c === null || typeof c !== 'object' || c.message === null || typeof c.message !== 'object')
        throw badResponse(meta, 'reply choice has no message');
      if (c.finish_reason === 'error') throw errorFromInBand(c.error ?? 'finish_reason: error', meta);
      normaliseReasoning(c.message);
      normaliseContent(c.message);
      // Groq leaves `content` out of a tool-only reply: the message says null, as OpenAI's does.
      if (c.message.content === undefined) c.message.content = null;
    }
    if (typeof json.id !== 'string') json.id = `chatcmpl-${clock.now().toString(36)}`;
    if (typeof json.created !== 'number') json.created = Math.floor(clock.now() / 1000);
    json.object = 'chat.completion';
    json.model = `${config.id}/${request.model}`;
    return json as unknown as ChatCompletion;
  }

  /** The stream as one array of chunks per network read (`ProviderAdapter.streamBatches`); `stream` flattens it. */
  async function* streamBatches(
    request: AdapterChatRequest,
    ctx: AdapterContext,
  ): AsyncGenerator<ChatChunk[]> {
    const meta = metaFor(request.model, 'POST', chatPath);
    const body = withStream(outgoing(request), true);
    const cancel = cancelOf(ctx);
    const res = await send(
      http,
      { origin, path: chatPath, method: 'POST', headers: sseHeaders, body, signal: cancel },
      meta,
    );
    const model = `${config.id}/${request.model}`;
    const wantUsage = request.stream_options?.include_usage === true;
    let id: string | undefined;
    let created = 0;
    let finished = false;
    let sawDone = false;
    let readPastDone = false;
    // Until the first chunk with content, each read's chunks go out up to that one (see `collect`).
    let early = true;
    let drained = false;
    const parser = new SSEParser(http.limits.maxFrameBytes);

    /**
     * One frame as a chunk, undefined for a frame that carries nothing for the caller, or null for an error frame
     * after a finish reason: the answer was complete, the frame ends the stream like [DONE] (OpenRouter sends
     * "Token limit reached" after `finish_reason: "length"`; see docs/wire-conformance.md).
     */
    const chunkOf = (data: string): ChatChunk | undefined | null => {
      const json = parseJson(
        data,
        meta,
        'malformed stream frame',
        mayHoldProto(data) ? NO_PROTO : undefined,
      ) as WireReply | null;
      if (json === null || typeof json !== 'object') throw badResponse(meta, 'stream frame is not an object');
      const err = inBandError(json);
      if (err !== undefined || parser.event === 'error') {
        if (finished) return null;
        throw errorFromInBand(err ?? json, meta);
      }
      let choices = json.choices;
      if (!Array.isArray(choices)) throw badResponse(meta, 'stream frame has no choices');
      // Azure sends content-filter offsets after the finish reason in a choice without a delta: nothing to pass on.
      if (finished && choices.some((c) => c?.delta === undefined || c.delta === null))
        json.choices = choices = choices.filter((c) => c?.delta !== undefined && c.delta !== null);
      // Azure's leading prompt_filter_results frame and other empty frames carry nothing for the caller; a
      // usage-only frame is passed on only when the caller asked for it (some servers send it regardless).
      if (choices.length === 0 && (json.usage === undefined || json.usage === null || !wantUsage))
        return undefined;
      for (const c of choices) {
        const d = c?.delta;
        if (d === null || typeof d !== 'object') throw badResponse(meta, 'stream choice has no delta');
        if (c.finish_reason === 'error') throw errorFromInBand(c.error ?? 'finish_reason: error', meta);
        if (c.finish_reason !== null && c.finish_reason !== undefined) finished = true;
        normaliseReasoning(d);
        normaliseContent(d);
        if (Array.isArray(d.tool_calls)) {
          // Some servers omit `index`; the position identifies the call then.
          d.tool_calls.forEach((t: { index?: unknown } | null, i) => {
            if (t === null || typeof t !== 'object') throw badResponse(meta, 'malformed tool call delta');
            if (typeof t.index !== 'number') t.index = i;
          });
        }
      }
      // One stable id per stream, whatever the server sends per frame.
      if (id === undefined) {
        id = typeof json.id === 'string' && json.id !== '' ? json.id : `chatcmpl-${clock.now().toString(36)}`;
        created = typeof json.created === 'number' ? json.created : Math.floor(clock.now() / 1000);
      }
      json.id = id;
      json.object = 'chat.completion.chunk';
      json.created = created;
      json.model = model;
      return json as unknown as ChatChunk;
    };

    /**
     * Moves the parser's frames into `out` until [DONE] or the text fed so far is used up; while `early`, it stops
     * after the first chunk with content (returning true: more may follow), so the first token does not wait for
     * the rest of its network read.
     */
    const collect = (out: ChatChunk[]): boolean => {
      if (sawDone) return false;
      for (let data = parser.next(); data !== undefined; data = parser.next()) {
        if (data === '[DONE]') {
          finished = sawDone = true;
          return false;
        }
        const chunk = chunkOf(data);
        if (chunk === null) {
          sawDone = true;
          return false;
        }
        if (chunk === undefined) continue;
        out.push(chunk);
        if (early && carriesContent(chunk.choices as WireChoice[])) {
          early = false;
          return true;
        }
      }
      return false;
    };

    /** The chunks of what was fed, as batches; the chunks before a bad frame go out before its error. */
    function* batches(): Generator<ChatChunk[]> {
      for (;;) {
        const out: ChatChunk[] = [];
        let more: boolean;
        try {
          more = collect(out);
        } catch (err) {
          if (out.length > 0) yield out;
          throw err;
        }
        if (out.length > 0) yield out;
        if (!more) return;
      }
    }

    try {
      // One batch per network read: its frames are handled without a promise per line or event.
      for await (const bytes of res.body) {
        if (sawDone) continue;
        parser.feed(bytes);
        for (const out of batches()) yield out;
        if (sawDone) {
          // Usually the whole body is in by now: read on to its end (a tick) instead of cancelling it.
          if (!bodyArrived(res.body)) break;
          readPastDone = true;
        }
      }
      // Some servers end the body right after `data: [DONE]`, without its blank line.
      parser.end();
      for (const out of batches()) yield out;
      drained = !sawDone || readPastDone;
    } catch (err) {
      // The answer was complete at [DONE]: a failure while reading past it changes nothing.
      if (sawDone) return;
      if (err instanceof ProviderError) throw err;
      throw networkError(err, cancel, meta);
    } finally {
      // Stopped early (break, [DONE] before the body's end, an error): cancel the upstream request.
      if (!drained) res.body.destroy();
    }
    // Neither a finish reason nor [DONE]: a truncated answer must never look complete.
    if (!finished) throw badResponse(meta, 'stream ended before finish');
  }

  async function* stream(request: AdapterChatRequest, ctx: AdapterContext): AsyncGenerator<ChatChunk> {
    for await (const batch of streamBatches(request, ctx)) for (const c of batch) yield c;
  }

  // Models whose server could not answer base64 and answered floats (docs/embeddings.md): asked for floats.
  const floatModels = new FloatModels();

  async function embed(request: AdapterEmbedRequest, ctx: AdapterContext): Promise<Embeddings> {
    const chosen = request.encoding_format ?? (floatModels.has(request.model) ? 'float' : undefined);
    if (chosen !== undefined) return (await embedAs(request, chosen, false, ctx)) as Embeddings;
    const out = await embedAs(request, 'base64', true, ctx);
    if (out !== undefined) return out;
    const floats = (await embedAs(request, 'float', false, ctx)) as Embeddings;
    floatModels.add(request.model);
    return floats;
  }

  /** One `/embeddings` request; with `trial`, undefined when the server shows it cannot answer `format`. */
  async function embedAs(
    request: AdapterEmbedRequest,
    format: 'float' | 'base64',
    trial: boolean,
    ctx: AdapterContext,
  ): Promise<Embeddings | undefined> {
    const meta = metaFor(request.model, 'POST', embedPath);
    const cancel = cancelOf(ctx);
    const req = {
      origin,
      path: embedPath,
      method: 'POST' as const,
      headers: jsonHeaders,
      body: embeddingsBody(request, format),
      signal: cancel,
    };
    const res = await send(http, req, meta).catch((err: unknown) => {
      if (trial && refusesFormat(err)) return undefined;
      throw err;
    });
    if (res === undefined) return undefined;
    const text = await readBody(res, cancel, meta, 'maxEmbeddingResponseBytes');
    const json = replyJson(text, meta, (err) =>
      trial && (err instanceof ProviderResponseError || refusesFormat(err)) ? undefined : err,
    ) as { data?: unknown; usage?: unknown } | undefined;
    if (json === undefined || (trial && isEmptyList(json.data))) return undefined;
    const out = embeddingsData(json.data, request.input.length, meta);
    const u = json.usage as { prompt_tokens?: unknown; total_tokens?: unknown } | undefined;
    const prompt = typeof u?.prompt_tokens === 'number' ? u.prompt_tokens : 0;
    return {
      object: 'list',
      data: out,
      model: `${config.id}/${request.model}`,
      usage: {
        prompt_tokens: prompt,
        total_tokens: typeof u?.total_tokens === 'number' ? u.total_tokens : prompt,
      },
    };
  }

  async function models(ctx: AdapterContext): Promise<string[]> {
    const meta = metaFor('*', 'GET', modelsPath);
    const res = await send(
      http,
      { origin, path: modelsPath, method: 'GET', headers: getHeaders, signal: ctx.signal },
      meta,
    );
    const json = replyJson(await readBody(res, ctx.signal, meta), meta) as { data?: unknown };
    if (!Array.isArray(json.data)) throw badResponse(meta, 'model list has no data');
    const names: string[] = [];
    for (const m of json.data) {
      const id = (m as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') throw badResponse(meta, 'model without id');
      names.push(id);
    }
    return names;
  }

  const adapter: ProviderAdapter = {
    capabilities: () => EVERYTHING,
    chat,
    stream,
    streamBatches,
    embed,
    models,
    async probe(ctx) {
      const meta = metaFor('*', 'GET', modelsPath);
      try {
        const res = await send(
          http,
          { origin, path: modelsPath, method: 'GET', headers: getHeaders, signal: ctx.signal },
          meta,
        );
        await res.body.dump().catch(() => undefined);
        return { ok: true };
      } catch (err) {
        return probeAnswered(err);
      }
    },
  };
  return adapter;
}
