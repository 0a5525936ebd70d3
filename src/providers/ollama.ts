import { randomUUID } from 'node:crypto';
import type { ChatChunk, ChatCompletion, Embeddings } from '../types.js';
import { type CancelSignal, cancelOf } from '../wire/cancel.js';
import { bodyArrived } from '../wire/http.js';
import { NDJSONLines } from '../wire/ndjson.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  ALL_CAPABILITIES,
  INLINE_IMAGES,
  type InlinesImages,
  type ProviderAdapter,
} from './adapter.js';
import { endpointCalls, modelNames } from './endpoint.js';
import { badResponse, networkError, parseJson } from './error-mapping.js';
import { imagesOf } from './images.js';
import { chunksOf, completion, countOf, type Delta, isJsonObject, isNumbers } from './json-shapes.js';
import {
  createdOf,
  finishReason,
  readFrame,
  replyObject,
  textOfLine,
  toOllamaChat,
  toToolCalls,
  usageOf,
} from './ollama-mapping.js';
import type { AdapterDeps } from './registry.js';

/**
 * The Ollama native API: `POST /api/chat` (JSON and NDJSON), `POST /api/embed` (all inputs in one request)
 * and `GET /api/tags` (probe and model list). Ollama takes no key; one is sent as a bearer token when configured,
 * for proxies in front of it.
 */
export function createOllamaAdapter(deps: AdapterDeps): ProviderAdapter & InlinesImages {
  const { config, http, clock } = deps;
  const { basePath, meta, call, json, probe, headers } = endpointCalls(config, http, clock);
  // A stream's request is a JSON one too: its reply is NDJSON.
  const sent = headers(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {});
  const tags = meta('-', 'GET', `${basePath}/api/tags`);

  async function post(path: string, model: string, body: unknown, signal: CancelSignal) {
    const m = meta(model, 'POST', basePath + path);
    return { res: await call(m, sent.json, signal, JSON.stringify(body)), m };
  }

  async function postChat(req: AdapterChatRequest, stream: boolean, ctx: AdapterContext) {
    // Taken first: image downloads follow ctx.signal, which the token aborts too.
    const cancel = cancelOf(ctx);
    const body = await toOllamaChat(req, stream, imagesOf(ctx, deps.images, req.messages));
    return { ...(await post('/api/chat', req.model, body, cancel)), cancel };
  }

  /** The stream as one array of chunks per network read (`ProviderAdapter.streamBatches`); `stream` flattens it. */
  async function* streamBatches(req: AdapterChatRequest, ctx: AdapterContext): AsyncGenerator<ChatChunk[]> {
    const { res, m, cancel } = await postChat(req, true, ctx);
    const id = `chatcmpl-${randomUUID()}`;
    // Made on the first line, which gives the answer's creation time; every chunk is built after it.
    let chunk: ReturnType<typeof chunksOf> | undefined;
    let finished = false;
    let first = true;
    let tools = 0;
    try {
      // The body is read directly, one batch per network chunk: its lines are handled without a promise each.
      const ndjson = new NDJSONLines(http.limits.maxFrameBytes);
      const reader = res.body[Symbol.asyncIterator]();
      for (let more = true; more; ) {
        const read = await reader.next();
        more = read.done !== true;
        const lines = read.done === true ? ndjson.end() : ndjson.push(read.value);
        let out: ChatChunk[] = [];
        try {
          for (const line of lines) {
            // Ollama ends its answer with a `done: true` line; anything after it is ignored.
            if (finished) break;
            // After the first chunk, a text line (nearly all of them) becomes its chunk without a parse.
            const text = first ? undefined : textOfLine(line);
            if (text !== undefined) {
              out.push(chunk!({ content: text }));
              continue;
            }
            const frame = readFrame(parseJson(line, m, 'malformed stream line'), m, true);
            chunk ??= chunksOf(id, createdOf(frame.json, clock.now()), `${config.id}/${req.model}`);
            const delta: Delta = first ? { role: 'assistant' } : {};
            if (frame.content !== '') delta.content = frame.content;
            if (frame.thinking !== '') delta.reasoning_content = frame.thinking;
            if (frame.toolCalls.length > 0) {
              // Ollama sends each call whole: one delta per call, with its index, id, name and all arguments.
              delta.tool_calls = toToolCalls(frame.toolCalls, m).map((c) => ({ index: tools++, ...c }));
            }
            if (frame.content !== '' || frame.thinking !== '' || frame.toolCalls.length > 0) {
              out.push(chunk(delta));
              // The first chunk with content goes out as soon as it is built: the first token must not wait for
              // the rest of its network read.
              if (first) {
                first = false;
                yield out;
                out = [];
              }
            }
            if (frame.done) {
              finished = true;
              const usage = usageOf(frame.json);
              const finish = finishReason(frame.json.done_reason, tools > 0);
              // Asked for usage, the stream ends with a chunk of usage only, as OpenAI's does.
              const apart = req.stream_options?.include_usage === true && usage !== undefined;
              out.push(chunk(first ? { role: 'assistant' } : {}, finish, apart ? undefined : usage));
              if (apart) out.push({ ...chunk({}, null, usage), choices: [] });
            }
          }
        } catch (err) {
          // The chunks before a bad line go out first, as they would one by one.
          if (out.length > 0) yield out;
          throw err;
        }
        if (out.length > 0) yield out;
        // The done line ends the answer: a body still open after it is not waited for (it is cancelled).
        if (finished && !bodyArrived(res.body)) break;
      }
    } catch (err) {
      throw networkError(err, cancel, m);
    } finally {
      // A no-op once the body has ended; otherwise it cancels the upstream request.
      res.body.destroy();
    }
    if (!finished) throw badResponse(m, 'stream ended before its done line');
  }

  return {
    capabilities: () => ALL_CAPABILITIES,
    [INLINE_IMAGES]: true,

    async chat(req, ctx): Promise<ChatCompletion> {
      const { res, m, cancel } = await postChat(req, false, ctx);
      const frame = readFrame(await json(res, cancel, m), m, false);
      const toolCalls = toToolCalls(frame.toolCalls, m);
      const answer = { content: frame.content, reasoning: frame.thinking, toolCalls };
      const finish = finishReason(frame.json.done_reason, toolCalls.length > 0);
      const model = `${config.id}/${req.model}`;
      const created = createdOf(frame.json, clock.now());
      return completion(`chatcmpl-${randomUUID()}`, created, model, answer, finish, usageOf(frame.json));
    },

    async *stream(req, ctx): AsyncGenerator<ChatChunk> {
      for await (const batch of streamBatches(req, ctx)) for (const c of batch) yield c;
    },

    streamBatches,

    async embed(req, ctx): Promise<Embeddings> {
      const body: Record<string, unknown> = { model: req.model, input: req.input };
      if (req.dimensions !== undefined) body.dimensions = req.dimensions;
      const cancel = cancelOf(ctx);
      const { res, m } = await post('/api/embed', req.model, body, cancel);
      const reply = replyObject(await json(res, cancel, m, 'maxEmbeddingResponseBytes'), m);
      const vectors = reply.embeddings;
      const count = req.input.length;
      if (
        !Array.isArray(vectors) ||
        vectors.length !== count ||
        !vectors.every((v) => isNumbers(v) && v.length > 0 && v.length === vectors[0].length)
      )
        throw badResponse(m, `expected ${count} embedding vector(s) of numbers, of one length`);
      const tokens = countOf(reply.prompt_eval_count);
      return {
        object: 'list',
        data: vectors.map((embedding: number[], index) => ({ object: 'embedding', index, embedding })),
        model: `${config.id}/${req.model}`,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },

    probe: (ctx) => probe(tags, sent.get, ctx.signal),

    async models(ctx) {
      const reply = await json(await call(tags, sent.get, ctx.signal), ctx.signal, tags);
      return modelNames(isJsonObject(reply) ? reply.models : undefined, tags, (e) => e.name ?? e.model);
    },
  };
}
