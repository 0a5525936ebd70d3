import type { ChatChunk, ChatCompletion, Embeddings, Usage } from '../types.js';
import { ALL_CAPABILITIES, INLINE_IMAGES, type InlinesImages, type ProviderAdapter } from './adapter.js';
import { endpointCalls, modelNames } from './endpoint.js';
import { badResponse, errorFromInBand, parseJson } from './error-mapping.js';
import { finishOf, readFrame, readParts } from './google-reply.js';
import { toGeminiRequest } from './google-request.js';
import { imagesOf } from './images.js';
import { chunksOf, completion, isNumbers, type JsonObject, newId } from './json-shapes.js';
import type { AdapterDeps } from './registry.js';

// The model list is short (~50); a bound keeps a misbehaving pageToken from looping forever.
const MAX_MODEL_PAGES = 20;
/** The most requests one `batchEmbedContents` call takes: more inputs go in batches, one after the other. */
const MAX_EMBED_BATCH = 100;

/** Gemini model names are `models/<name>`; callers may give either form. */
const bareModel = (model: string): string =>
  model.startsWith('models/') ? model.slice('models/'.length) : model;

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
  const { basePath, meta, call, json, probe, events, headers } = endpointCalls(config, http, clock);
  const sent = headers(config.apiKey ? { 'x-goog-api-key': config.apiKey } : {});

  const now = () => Math.floor(clock.now() / 1000);

  /** POSTs `body` to one of a model's verbs (`generateContent`, …): a 2xx response and the meta its errors name. */
  async function post(model: string, verb: string, body: unknown, signal: AbortSignal, sse = false) {
    const path = `/models/${encodeURIComponent(bareModel(model))}:${verb}`;
    const m = meta(model, 'POST', basePath + path);
    return { res: await call(m, sse ? sent.sse : sent.json, signal, JSON.stringify(body)), m };
  }

  return {
    capabilities: () => ALL_CAPABILITIES,
    [INLINE_IMAGES]: true,

    async chat(request, ctx): Promise<ChatCompletion> {
      const body = await toGeminiRequest(request, imagesOf(ctx, images, request.messages));
      const { res, m } = await post(request.model, 'generateContent', body, ctx.signal);
      const frame = readFrame(await json(res, ctx.signal, m), m);
      if (!frame.hasCandidate) throw badResponse(m, 'reply has no candidates');
      const answer = readParts(frame.parts, m);
      const calls = answer.toolCalls.length > 0;
      const finish = frame.finishReason ? finishOf(frame.finishReason, calls, m) : null;
      const model = `${config.id}/${request.model}`;
      return completion(newId('chatcmpl-'), now(), model, answer, finish, frame.usage);
    },

    async *stream(request, ctx): AsyncGenerator<ChatChunk> {
      const body = await toGeminiRequest(request, imagesOf(ctx, images, request.messages));
      const { res, m } = await post(request.model, 'streamGenerateContent?alt=sse', body, ctx.signal, true);
      const chunk = chunksOf(newId('chatcmpl-'), now(), `${config.id}/${request.model}`);
      let usage: Usage | undefined;
      let toolIndex = 0;
      try {
        yield chunk({ role: 'assistant' });
        for await (const ev of events(res, ctx.signal, m)) {
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
            yield chunk({}, finishOf(frame.finishReason, toolIndex > 0, m), usage);
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
      const name = `models/${bareModel(request.model)}`;
      const dims = request.dimensions === undefined ? {} : { outputDimensionality: request.dimensions };
      const data: Embeddings['data'] = [];
      for (let start = 0; start < request.input.length; start += MAX_EMBED_BATCH) {
        const texts = request.input.slice(start, start + MAX_EMBED_BATCH);
        const body = {
          requests: texts.map((text) => ({ model: name, content: { parts: [{ text }] }, ...dims })),
        };
        const { res, m } = await post(request.model, 'batchEmbedContents', body, ctx.signal);
        const reply = (await json(res, ctx.signal, m, 'maxEmbeddingResponseBytes')) as JsonObject | null;
        if (reply?.error != null) throw errorFromInBand(reply.error, m);
        const list = reply?.embeddings;
        if (!Array.isArray(list) || list.length !== texts.length)
          throw badResponse(m, 'embeddings missing or not one per input');
        for (const e of list) {
          const values = (e as { values?: unknown } | null)?.values;
          if (!isNumbers(values)) throw badResponse(m, `embedding ${data.length} has no values`);
          // The call's first vector sets its one dimension, across batches.
          if (values.length === 0 || values.length !== (data[0]?.embedding ?? values).length)
            throw badResponse(m, 'embeddings empty or of different lengths');
          data.push({ object: 'embedding', index: data.length, embedding: values });
        }
      }
      // batchEmbedContents reports no token counts
      const usage = { prompt_tokens: 0, total_tokens: 0 };
      return { object: 'list', data, model: `${config.id}/${request.model}`, usage };
    },

    probe: (ctx) => probe(meta('models', 'GET', `${basePath}/models?pageSize=1`), sent.get, ctx.signal),

    async models(ctx): Promise<string[]> {
      const names: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_MODEL_PAGES; page++) {
        const query = token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`;
        const m = meta('models', 'GET', `${basePath}/models?pageSize=1000${query}`);
        const res = await call(m, sent.get, ctx.signal);
        const reply = (await json(res, ctx.signal, m)) as JsonObject | null;
        names.push(
          ...modelNames(reply?.models, m, (e) => (typeof e.name === 'string' ? bareModel(e.name) : e.name)),
        );
        if (typeof reply?.nextPageToken !== 'string' || reply.nextPageToken === '') break;
        token = reply.nextPageToken;
      }
      return names;
    },
  };
}
