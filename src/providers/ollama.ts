import { randomUUID } from 'node:crypto';
import { ProviderError } from '../errors.js';
import type { ChatChunk, ChatCompletion, Embeddings, FinishReason, Usage } from '../types.js';
import { type CancelSignal, cancelOf } from '../wire/cancel.js';
import { bodyArrived, type HttpResponse } from '../wire/http.js';
import { NDJSONLines } from '../wire/ndjson.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  INLINE_IMAGES,
  type InlinesImages,
  type ProviderAdapter,
} from './adapter.js';
import { type CallMeta, endpointOf } from './endpoint.js';
import { badResponse, networkError, parseJson, probeAnswered } from './error-mapping.js';
import { imagesOf } from './images.js';
import {
  createdOf,
  finishReason,
  readEmbeddings,
  readFrame,
  readModelNames,
  textOfLine,
  toOllamaChat,
  toToolCalls,
  usageOf,
} from './ollama-mapping.js';
import type { AdapterDeps } from './registry.js';
import { readBody, send } from './transport.js';

type Delta = ChatChunk['choices'][number]['delta'];

/**
 * The Ollama native API: `POST /api/chat` (JSON and NDJSON), `POST /api/embed` (all inputs in one request)
 * and `GET /api/tags` (probe and model list). Ollama takes no key; one is sent as a bearer token when configured,
 * for proxies in front of it.
 */
export function createOllamaAdapter(deps: AdapterDeps): ProviderAdapter & InlinesImages {
  const { config, http, clock } = deps;
  const { origin, basePath, meta } = endpointOf(config);
  const getHeaders: Record<string, string> = {
    accept: 'application/json',
    ...config.headers,
    ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
  };
  const postHeaders: Record<string, string> = { ...getHeaders, 'content-type': 'application/json' };

  async function post(path: string, model: string, body: unknown, signal: CancelSignal) {
    const m = meta(model, 'POST', path);
    const res = await send(
      http,
      {
        origin,
        path: basePath + path,
        method: 'POST',
        headers: postHeaders,
        body: JSON.stringify(body),
        signal,
      },
      m,
    );
    return { res, m };
  }

  async function chatBody(req: AdapterChatRequest, stream: boolean, ctx: AdapterContext) {
    const load = imagesOf(ctx, deps.images, req.messages);
    return toOllamaChat(req, stream, async (url) => (await load(url)).data);
  }

  async function tags(ctx: AdapterContext): Promise<{ res: HttpResponse; m: CallMeta }> {
    const m = meta('-', 'GET', '/api/tags');
    const res = await send(
      http,
      { origin, path: `${basePath}/api/tags`, method: 'GET', headers: getHeaders, signal: ctx.signal },
      m,
    );
    return { res, m };
  }

  /** The stream as one array of chunks per network read (`ProviderAdapter.streamBatches`); `stream` flattens it. */
  async function* streamBatches(req: AdapterChatRequest, ctx: AdapterContext): AsyncGenerator<ChatChunk[]> {
    // Taken first: image downloads follow ctx.signal, which the token aborts too.
    const cancel = cancelOf(ctx);
    const body = await chatBody(req, true, ctx);
    const { res, m } = await post('/api/chat', req.model, body, cancel);
    const id = `chatcmpl-${randomUUID()}`;
    const model = `${config.id}/${req.model}`;
    let created: number | undefined;
    const chunk = (delta: Delta, finish: FinishReason | null = null, usage?: Usage): ChatChunk => {
      const c: ChatChunk = {
        id,
        object: 'chat.completion.chunk',
        created: created ?? Math.floor(clock.now() / 1000),
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      };
      if (usage) c.usage = usage;
      return c;
    };
    let consumed = false;
    let finished = false;
    let first = true;
    let tools = 0;
    // Until the first chunk with content, chunks go out as soon as they are built: the first token must not
    // wait for the rest of its network read.
    let early = true;
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
              out.push(chunk({ content: text }));
              continue;
            }
            const frame = readFrame(parseJson(line, m, 'malformed stream line'), m, true);
            created ??= createdOf(frame, clock.now());
            const delta: Delta = first ? { role: 'assistant' } : {};
            // Whether the delta carries more than the role (counted here, not with Object.keys per line).
            let carries = false;
            if (frame.content !== '') {
              delta.content = frame.content;
              carries = true;
            }
            if (frame.thinking !== '') {
              delta.reasoning_content = frame.thinking;
              carries = true;
            }
            if (frame.toolCalls.length > 0) {
              carries = true;
              // Ollama sends each call whole: one delta per call, with its index, id, name and all arguments.
              delta.tool_calls = toToolCalls(frame.toolCalls, tools, m).map((c, i) => ({
                index: tools + i,
                ...c,
              }));
              tools += frame.toolCalls.length;
            }
            if (carries) {
              out.push(chunk(delta));
              first = false;
              if (early) {
                early = false;
                yield out;
                out = [];
              }
            }
            if (frame.done) {
              finished = true;
              const usage = usageOf(frame);
              const finish = finishReason(frame.done_reason, tools > 0);
              if (req.stream_options?.include_usage && usage) {
                out.push(chunk(first ? { role: 'assistant' } : {}, finish));
                out.push({ ...chunk({}, null, usage), choices: [] });
              } else {
                out.push(chunk(first ? { role: 'assistant' } : {}, finish, usage));
              }
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
      consumed = !finished || bodyArrived(res.body);
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw networkError(err, cancel, m);
    } finally {
      if (!consumed) res.body.destroy();
    }
    if (!finished) throw badResponse(m, 'stream ended before its done line');
  }

  const adapter: ProviderAdapter & InlinesImages = {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    [INLINE_IMAGES]: true,

    async chat(req, ctx): Promise<ChatCompletion> {
      // Taken first: image downloads follow ctx.signal, which the token aborts too.
      const cancel = cancelOf(ctx);
      const body = await chatBody(req, false, ctx);
      const { res, m } = await post('/api/chat', req.model, body, cancel);
      const frame = readFrame(parseJson(await readBody(res, cancel, m), m), m, false);
      const toolCalls = toToolCalls(frame.toolCalls, 0, m);
      const message: ChatCompletion['choices'][number]['message'] = {
        role: 'assistant',
        content: toolCalls.length > 0 && frame.content === '' ? null : frame.content,
      };
      if (toolCalls.length > 0) message.tool_calls = toolCalls;
      if (frame.thinking !== '') message.reasoning_content = frame.thinking;
      const out: ChatCompletion = {
        id: `chatcmpl-${randomUUID()}`,
        object: 'chat.completion',
        created: createdOf(frame, clock.now()),
        model: `${config.id}/${req.model}`,
        choices: [
          { index: 0, message, finish_reason: finishReason(frame.done_reason, toolCalls.length > 0) },
        ],
      };
      const usage = usageOf(frame);
      if (usage) out.usage = usage;
      return out;
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
      const json = parseJson(await readBody(res, cancel, m, 'maxEmbeddingResponseBytes'), m);
      const { vectors, promptTokens } = readEmbeddings(json, req.input.length, m);
      return {
        object: 'list',
        data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        model: `${config.id}/${req.model}`,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      };
    },

    async probe(ctx) {
      try {
        const { res } = await tags(ctx);
        await res.body.dump();
        return { ok: true };
      } catch (err) {
        return probeAnswered(err);
      }
    },

    async models(ctx) {
      const { res, m } = await tags(ctx);
      return readModelNames(parseJson(await readBody(res, ctx.signal, m), m), m);
    },
  };
  return adapter;
}
