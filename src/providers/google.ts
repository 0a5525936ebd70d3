import { randomUUID } from 'node:crypto';
import type { ChatChunk, ChatCompletion, Embeddings, Usage } from '../types.js';
import type { HttpBody } from '../wire/http.js';
import { readSSE, type SSEEvent } from '../wire/sse.js';
import {
  type AdapterContext,
  type Capabilities,
  INLINE_IMAGES,
  type InlinesImages,
  type ProbeOutcome,
  type ProviderAdapter,
} from './adapter.js';
import { type CallMeta, endpointOf } from './endpoint.js';
import { badResponse, errorFromInBand, networkError, parseJson, probeAnswered } from './error-mapping.js';
import { finishOf, readFrame, readParts } from './google-reply.js';
import { toGeminiRequest } from './google-request.js';
import { imagesOf } from './images.js';
import type { AdapterDeps } from './registry.js';
import { readBody, send } from './transport.js';

const CAPABILITIES: Capabilities = { tools: true, vision: true, jsonSchema: true, embeddings: true };
// The model list is short (~50); a bound keeps a misbehaving pageToken from looping forever.
const MAX_MODEL_PAGES = 20;

type ChunkDelta = ChatChunk['choices'][number]['delta'];

/** Gemini model names are `models/<name>`; callers may give either form. */
function bareModel(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

/** SSE events of a body, with socket failures mid-body turned into typed errors. */
async function* events(
  body: HttpBody,
  maxFrame: number,
  signal: AbortSignal,
  meta: CallMeta,
): AsyncGenerator<SSEEvent> {
  try {
    yield* readSSE(body, maxFrame);
  } catch (err) {
    throw networkError(err, signal, meta);
  }
}

/**
 * Google Gemini over its REST API (`generateContent`, `streamGenerateContent?alt=sse`, `batchEmbedContents`,
 * `GET models`), authenticated with the `x-goog-api-key` header — never a `key=` query.
 */
export function createGoogleAdapter({
  config,
  http,
  clock,
  images,
}: AdapterDeps): ProviderAdapter & InlinesImages {
  const { origin, basePath, meta } = endpointOf(config);
  const auth: Record<string, string> = config.apiKey ? { 'x-goog-api-key': config.apiKey } : {};
  const getHeaders = { accept: 'application/json', ...config.headers, ...auth };
  const jsonHeaders = { ...getHeaders, 'content-type': 'application/json' };
  const sseHeaders = { ...jsonHeaders, accept: 'text/event-stream' };

  const modelPath = (model: string, verb: string) =>
    `${basePath}/models/${encodeURIComponent(bareModel(model))}:${verb}`;
  const newId = () => randomUUID().replace(/-/g, '').slice(0, 24);

  const post = (
    path: string,
    body: unknown,
    headers: Record<string, string>,
    signal: AbortSignal,
    m: CallMeta,
  ) => send(http, { origin, path, method: 'POST', headers, body: JSON.stringify(body), signal }, m);
  const get = (path: string, ctx: AdapterContext, m: CallMeta) =>
    send(http, { origin, path, method: 'GET', headers: getHeaders, signal: ctx.signal }, m);

  return {
    capabilities: () => CAPABILITIES,
    [INLINE_IMAGES]: true,

    async chat(request, ctx): Promise<ChatCompletion> {
      const path = modelPath(request.model, 'generateContent');
      const m = meta(request.model, 'POST', path);
      const body = await toGeminiRequest(request, imagesOf(ctx, images, request.messages));
      const res = await post(path, body, jsonHeaders, ctx.signal, m);
      const frame = readFrame(parseJson(await readBody(res, ctx.signal, m), m), m);
      if (!frame.hasCandidate) throw badResponse(m, 'reply has no candidates');
      const { content, reasoning, toolCalls } = readParts(frame.parts, m);
      const finish = frame.finishReason ? finishOf(frame.finishReason, toolCalls.length > 0, m) : null;
      return {
        id: `chatcmpl-${newId()}`,
        object: 'chat.completion',
        created: Math.floor(clock.now() / 1000),
        model: `${config.id}/${request.model}`,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: content === '' && toolCalls.length > 0 ? null : content,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
              ...(reasoning === '' ? {} : { reasoning_content: reasoning }),
            },
            finish_reason: finish,
          },
        ],
        ...(frame.usage ? { usage: frame.usage } : {}),
      };
    },

    async *stream(request, ctx): AsyncGenerator<ChatChunk> {
      const path = `${modelPath(request.model, 'streamGenerateContent')}?alt=sse`;
      const m = meta(request.model, 'POST', path);
      const body = await toGeminiRequest(request, imagesOf(ctx, images, request.messages));
      const res = await post(path, body, sseHeaders, ctx.signal, m);
      const id = `chatcmpl-${newId()}`;
      const created = Math.floor(clock.now() / 1000);
      const model = `${config.id}/${request.model}`;
      const chunk = (delta: ChunkDelta, finish: ChatChunk['choices'][number]['finish_reason'] = null) => ({
        id,
        object: 'chat.completion.chunk' as const,
        created,
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      let usage: Usage | undefined;
      let toolIndex = 0;
      try {
        yield chunk({ role: 'assistant' });
        for await (const ev of events(res.body, http.limits.maxFrameBytes, ctx.signal, m)) {
          // Each frame is a whole GenerateContentResponse; there is no [DONE]: the end is a finishReason.
          const frame = readFrame(parseJson(ev.data, m, 'unparseable stream frame'), m);
          if (frame.usage) usage = frame.usage;
          const { content, reasoning, toolCalls } = readParts(frame.parts, m);
          if (reasoning !== '') yield chunk({ reasoning_content: reasoning });
          if (content !== '') yield chunk({ content });
          if (toolCalls.length > 0) {
            // Gemini sends each call whole, so one delta carries id, name and all arguments
            yield chunk({ tool_calls: toolCalls.map((c) => ({ index: toolIndex++, ...c })) });
          }
          if (frame.finishReason) {
            // a filter finish throws even after content: the router reports that as an interruption
            const finish = finishOf(frame.finishReason, toolIndex > 0, m);
            yield { ...chunk({}, finish), ...(usage ? { usage } : {}) };
            return;
          }
        }
        throw badResponse(m, 'stream ended before finish');
      } finally {
        // no-op when the body was read to its end; otherwise cancels the upstream request
        res.body.destroy();
      }
    },

    async embed(request, ctx): Promise<Embeddings> {
      const model = `${config.id}/${request.model}`;
      const empty = { prompt_tokens: 0, total_tokens: 0 };
      if (request.input.length === 0) return { object: 'list', data: [], model, usage: empty };
      const path = modelPath(request.model, 'batchEmbedContents');
      const m = meta(request.model, 'POST', path);
      const name = `models/${bareModel(request.model)}`;
      const dims = request.dimensions === undefined ? {} : { outputDimensionality: request.dimensions };
      const body = {
        requests: request.input.map((text) => ({ model: name, content: { parts: [{ text }] }, ...dims })),
      };
      const res = await post(path, body, jsonHeaders, ctx.signal, m);
      const json = parseJson(await readBody(res, ctx.signal, m, 'maxEmbeddingResponseBytes'), m) as {
        error?: unknown;
        embeddings?: unknown;
      } | null;
      if (json?.error !== undefined && json.error !== null) throw errorFromInBand(json.error, m);
      const list = json?.embeddings;
      if (!Array.isArray(list) || list.length !== request.input.length)
        throw badResponse(m, 'embeddings missing or not one per input');
      const data = list.map((e: unknown, index) => {
        const values = (e as { values?: unknown } | null)?.values;
        if (!Array.isArray(values) || !values.every((v) => typeof v === 'number'))
          throw badResponse(m, `embedding ${index} has no values`);
        return { object: 'embedding' as const, index, embedding: values as number[] };
      });
      // batchEmbedContents reports no token counts
      return { object: 'list', data, model, usage: empty };
    },

    async probe(ctx): Promise<ProbeOutcome> {
      try {
        const path = `${basePath}/models?pageSize=1`;
        const res = await get(path, ctx, meta('models', 'GET', path));
        await res.body.dump().catch(() => undefined);
        return { ok: true };
      } catch (err) {
        return probeAnswered(err);
      }
    },

    async models(ctx): Promise<string[]> {
      const names: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_MODEL_PAGES; page++) {
        const query = token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`;
        const path = `${basePath}/models?pageSize=1000${query}`;
        const m = meta('models', 'GET', path);
        const res = await get(path, ctx, m);
        const json = parseJson(await readBody(res, ctx.signal, m), m) as {
          models?: unknown;
          nextPageToken?: unknown;
        } | null;
        if (!Array.isArray(json?.models)) throw badResponse(m, 'model list missing');
        for (const entry of json.models) {
          const name = (entry as { name?: unknown } | null)?.name;
          if (typeof name === 'string') names.push(bareModel(name));
        }
        if (typeof json.nextPageToken !== 'string' || json.nextPageToken === '') break;
        token = json.nextPageToken;
      }
      return names;
    },
  };
}
