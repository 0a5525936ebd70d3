import { ProviderResponseError } from '../errors.js';
import type { ChatChunk, ChatCompletion, Embeddings } from '../types.js';
import { cancelOf } from '../wire/cancel.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  type AdapterEmbedRequest,
  ALL_CAPABILITIES,
  type ProviderAdapter,
} from './adapter.js';
import { endpointCalls, modelNames, readBody } from './endpoint.js';
import { countOf } from './json-shapes.js';
import { embeddingsBody, embeddingsData, isEmptyList, refusesFormat } from './openai-embeddings.js';
import { chatReply, replyJson } from './openai-reply.js';
import { readChatStream } from './openai-stream.js';
import type { AdapterDeps } from './registry.js';

type Message = AdapterChatRequest['messages'][number];

/** An assistant turn with an empty `tool_calls` list (OpenAI answers 400 `empty_array`; older SDKs built one). */
const hasEmptyCalls = (m: Message): boolean => m.role === 'assistant' && m.tool_calls?.length === 0;

/**
 * …or with `extra_content` on a tool call (Gemini's thought signature, see google-reply.ts): only Google's own
 * OpenAI-compatible endpoint reads it, and OpenAI may reject a field it does not know when a conversation moves from
 * Gemini to it.
 */
const hasEmptyCallsOrExtras = (m: Message): boolean =>
  hasEmptyCalls(m) ||
  (m.role === 'assistant' && m.tool_calls?.some((c) => c.extra_content !== undefined) === true);

/**
 * The request without what `refused` finds on its assistant turns (the empty list, or the calls' `extra_content`);
 * the request itself when there is none (the usual case).
 */
function outgoingRequest(req: AdapterChatRequest, refused: (m: Message) => boolean): AdapterChatRequest {
  if (!req.messages.some(refused)) return req;
  const messages = req.messages.map((m) => {
    if (m.role !== 'assistant' || !m.tool_calls || !refused(m)) return m;
    if (m.tool_calls.length === 0) {
      const { tool_calls: _drop, ...turn } = m;
      return turn;
    }
    return { ...m, tool_calls: m.tool_calls.map(({ extra_content: _drop, ...call }) => call) };
  });
  return { ...req, messages };
}

/**
 * The request's JSON body with `stream` set; `stream_options` only on a stream (OpenAI rejects it otherwise), and
 * with `completionTokens`, `max_tokens` sent as `max_completion_tokens` (see `createOpenAIAdapter`).
 * `Object.assign`, not `{ ...request, stream }`: V8 gives every object built by a spread plus a key a new hidden
 * class, which showed on the c=64 bench row (bench/README.md).
 */
function requestBody(request: AdapterChatRequest, stream: boolean, completionTokens: boolean): string {
  const body = Object.assign({}, request, stream ? { stream } : { stream, stream_options: undefined });
  if (completionTokens && request.max_tokens !== undefined)
    Object.assign(body, { max_tokens: undefined, max_completion_tokens: request.max_tokens });
  return JSON.stringify(body);
}

/**
 * Adapter for any OpenAI-compatible server (OpenAI, Groq, OpenRouter, Together, vLLM, LM Studio, llama.cpp):
 * requests are passed through as they are, replies are checked and relabelled `provider/model`.
 */
export function createOpenAIAdapter(deps: AdapterDeps): ProviderAdapter {
  const { config, http, clock } = deps;
  const { basePath, meta: metaFor, call, headers, probe } = endpointCalls(config, http, clock);
  const sent = headers(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {});
  const chatPath = `${basePath}/chat/completions`;
  const embedPath = `${basePath}/embeddings`;
  const listing = metaFor('*', 'GET', `${basePath}/models`);
  const host = new URL(config.baseUrl).hostname;
  // What is left out of assistant turns: Google's OpenAI-compatible endpoint wants Gemini's thought signatures back on
  // tool calls; nobody else reads them.
  const refused = host.endsWith('.googleapis.com') ? hasEmptyCalls : hasEmptyCallsOrExtras;
  // OpenAI itself (its host, or the well-known id, also behind a proxy's baseUrl) deprecated `max_tokens` for
  // `max_completion_tokens`, and its reasoning models (o1, o3, o4-mini, gpt-5) refuse it with a 400. Other
  // OpenAI-compatible servers get `max_tokens`, which all of them read (docs/wire-conformance.md).
  const completionTokens = config.id === 'openai' || host === 'api.openai.com';

  async function chat(input: AdapterChatRequest, ctx: AdapterContext): Promise<ChatCompletion> {
    const request = outgoingRequest(input, refused);
    const meta = metaFor(request.model, 'POST', chatPath);
    const body = requestBody(request, false, completionTokens);
    const cancel = cancelOf(ctx);
    const res = await call(meta, sent.json, cancel, body);
    const text = await readBody(res, cancel, meta);
    return chatReply(text, meta, `${config.id}/${request.model}`, clock.now());
  }

  /** The stream as one array of chunks per network read (`ProviderAdapter.streamBatches`); `stream` flattens it. */
  function streamBatches(request: AdapterChatRequest, ctx: AdapterContext): AsyncGenerator<ChatChunk[]> {
    const meta = metaFor(request.model, 'POST', chatPath);
    const cancel = cancelOf(ctx);
    // The request is sent on the stream's first `next()`, as a generator would.
    const open = () => {
      const body = requestBody(outgoingRequest(request, refused), true, completionTokens);
      return call(meta, sent.sse, cancel, body);
    };
    return readChatStream(open, {
      meta,
      model: `${config.id}/${request.model}`,
      wantUsage: request.stream_options?.include_usage === true,
      maxFrameBytes: http.limits.maxFrameBytes,
      clock,
      cancel,
    });
  }

  async function* stream(request: AdapterChatRequest, ctx: AdapterContext): AsyncGenerator<ChatChunk> {
    for await (const batch of streamBatches(request, ctx)) for (const c of batch) yield c;
  }

  // Models whose server could not answer base64 and answered floats (docs/embeddings.md): asked for floats. At most
  // 256 are kept: a full set stops learning, calls still work.
  const floatModels = new Set<string>();

  async function embed(request: AdapterEmbedRequest, ctx: AdapterContext): Promise<Embeddings> {
    const chosen = request.encoding_format ?? (floatModels.has(request.model) ? 'float' : undefined);
    if (chosen !== undefined) return (await embedAs(request, chosen, false, ctx)) as Embeddings;
    const out = await embedAs(request, 'base64', true, ctx);
    if (out !== undefined) return out;
    const floats = (await embedAs(request, 'float', false, ctx)) as Embeddings;
    if (floatModels.size < 256) floatModels.add(request.model);
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
    const body = embeddingsBody(request, format);
    const res = await call(meta, sent.json, cancel, body).catch((err: unknown) => {
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
    const prompt = countOf(u?.prompt_tokens);
    return {
      object: 'list',
      data: out,
      model: `${config.id}/${request.model}`,
      usage: { prompt_tokens: prompt, total_tokens: countOf(u?.total_tokens, prompt) },
    };
  }

  async function models(ctx: AdapterContext): Promise<string[]> {
    const res = await call(listing, sent.get, ctx.signal);
    const json = replyJson(await readBody(res, ctx.signal, listing), listing) as { data?: unknown };
    return modelNames(json.data, listing);
  }

  return {
    capabilities: () => ALL_CAPABILITIES,
    chat,
    stream,
    streamBatches,
    embed,
    models,
    probe: (ctx) => probe(listing, sent.get, ctx.signal),
  };
}
