import { randomUUID } from 'node:crypto';
import { ProviderCapabilityError } from '../errors.js';
import type { ChatChunk, FinishReason, ToolCallDelta, Usage } from '../types.js';
import { bodyArrived } from '../wire/http.js';
import { readSSE } from '../wire/sse.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  type Capabilities,
  INLINE_IMAGES,
  type InlinesImages,
  type ProviderAdapter,
} from './adapter.js';
import {
  finishReason,
  fromAnthropicMessage,
  toAnthropicBody,
  usageOf,
  type WireUsage,
} from './anthropic-mapping.js';
import { type CallMeta, endpointOf } from './endpoint.js';
import { badResponse, errorFromInBand, networkError, parseJson, probeAnswered } from './error-mapping.js';
import { imagesOf } from './images.js';
import type { AdapterDeps } from './registry.js';
import { readBody, send } from './transport.js';

const API_VERSION = '2023-06-01';
const CAPABILITIES: Capabilities = { tools: true, vision: true, jsonSchema: false, embeddings: false };
/** Page size and page bound for `models()`; the API pages its list (max 1000 per page). */
const MODELS_PAGE = 1000;
const MODELS_MAX_PAGES = 10;

type WireReply = Parameters<typeof fromAnthropicMessage>[0] & { type?: unknown; error?: unknown };
type Delta = ChatChunk['choices'][number]['delta'];

/** One event of a Messages stream, read field by field (every field is checked before use). */
interface StreamEvent {
  type?: unknown;
  message?: { id?: unknown; usage?: WireUsage };
  index?: unknown;
  content_block?: Record<string, unknown>;
  delta?: Record<string, unknown>;
  usage?: WireUsage;
  error?: unknown;
}

/** Takes the usage fields an event reports (message_delta repeats some, or all, of message_start's). */
function mergeUsage(into: Record<string, unknown>, from: WireUsage | undefined): void {
  if (from === null || typeof from !== 'object') return;
  for (const [k, v] of Object.entries(from)) if (typeof v === 'number') into[k] = v;
}

/** Creates the adapter for the Anthropic Messages API (`x-api-key` + `anthropic-version`). */
export function createAnthropicAdapter(deps: AdapterDeps): ProviderAdapter & InlinesImages {
  const { config, http, clock } = deps;
  const { origin, basePath, meta } = endpointOf(config);
  const getHeaders: Record<string, string> = {
    'anthropic-version': API_VERSION,
    ...(config.apiKey ? { 'x-api-key': config.apiKey } : {}),
    ...config.headers,
  };
  const postHeaders: Record<string, string> = { ...getHeaders, 'content-type': 'application/json' };
  const messagesPath = `${basePath}/messages`;
  const modelsPath = `${basePath}/models`;

  const now = () => Math.floor(clock.now() / 1000);

  async function post(request: AdapterChatRequest, stream: boolean, ctx: AdapterContext, m: CallMeta) {
    const body = await toAnthropicBody(request, stream, imagesOf(ctx, deps.images, request.messages), m);
    return send(
      http,
      {
        origin,
        path: messagesPath,
        method: 'POST',
        headers: postHeaders,
        body: JSON.stringify(body),
        signal: ctx.signal,
      },
      m,
    );
  }

  return {
    capabilities: () => CAPABILITIES,
    [INLINE_IMAGES]: true,

    async chat(request, ctx) {
      const m = meta(request.model, 'POST', messagesPath);
      const res = await post(request, false, ctx, m);
      const json = parseJson(await readBody(res, ctx.signal, m), m) as WireReply | null;
      if (json === null || typeof json !== 'object') throw badResponse(m, 'reply is not an object');
      if (json.type === 'error' || json.error !== undefined) throw errorFromInBand(json.error, m);
      return fromAnthropicMessage(json, m, `${config.id}/${request.model}`, now());
    },

    async *stream(request, ctx) {
      const m = meta(request.model, 'POST', messagesPath);
      const res = await post(request, true, ctx, m);
      const created = now();
      const model = `${config.id}/${request.model}`;
      let id: string | undefined;
      const chunk = (delta: Delta, finish: FinishReason | null = null, usage?: Usage): ChatChunk => {
        id ??= `msg-${randomUUID()}`;
        return {
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{ index: 0, delta, finish_reason: finish }],
          ...(usage ? { usage } : {}),
        };
      };
      // Anthropic numbers content blocks, OpenAI tool calls: each tool block's call index, and the input its start gave
      // while no arguments have streamed for it yet.
      const tools = new Map<number, { index: number; input: unknown; streamed: boolean }>();
      const usage: Record<string, unknown> = {};
      let stop: unknown;
      let ended = false;
      const events = readSSE(res.body, http.limits.maxFrameBytes);
      try {
        while (true) {
          let next: IteratorResult<{ event?: string; data: string }>;
          try {
            next = await events.next();
          } catch (err) {
            if (ended) return; // the answer was complete; a late socket error changes nothing
            throw networkError(err, ctx.signal, m);
          }
          if (next.done) break;
          if (ended) continue; // drain to EOF so the connection can be reused
          const ev = parseJson(next.value.data, m, 'unparseable stream frame') as StreamEvent;
          if (ev === null || typeof ev !== 'object') throw badResponse(m, 'stream frame is not an object');
          const type = typeof ev.type === 'string' ? ev.type : next.value.event;
          switch (type) {
            case 'message_start': {
              if (typeof ev.message?.id === 'string') id ??= ev.message.id;
              mergeUsage(usage, ev.message?.usage);
              yield chunk({ role: 'assistant' });
              break;
            }
            case 'content_block_start': {
              const b = ev.content_block;
              if (b?.type === 'tool_use') {
                if (typeof ev.index !== 'number' || typeof b.id !== 'string' || typeof b.name !== 'string')
                  throw badResponse(m, 'tool_use block start without index, id or name');
                const index = tools.size;
                tools.set(ev.index, { index, input: b.input, streamed: false });
                const call: ToolCallDelta = {
                  index,
                  id: b.id,
                  type: 'function',
                  function: { name: b.name, arguments: '' },
                };
                yield chunk({ tool_calls: [call] });
              } else if (b?.type === 'text' && typeof b.text === 'string' && b.text !== '') {
                yield chunk({ content: b.text });
              } else if (b?.type === 'thinking' && typeof b.thinking === 'string' && b.thinking !== '') {
                yield chunk({ reasoning_content: b.thinking });
              }
              break;
            }
            case 'content_block_delta': {
              const d = ev.delta;
              if (d?.type === 'text_delta' && typeof d.text === 'string') {
                if (d.text !== '') yield chunk({ content: d.text });
              } else if (d?.type === 'thinking_delta' && typeof d.thinking === 'string') {
                if (d.thinking !== '') yield chunk({ reasoning_content: d.thinking });
              } else if (d?.type === 'input_json_delta' && typeof d.partial_json === 'string') {
                const tool = typeof ev.index === 'number' ? tools.get(ev.index) : undefined;
                // Deltas of blocks we don't surface (e.g. server_tool_use) are skipped.
                if (tool && d.partial_json !== '') {
                  tool.streamed = true;
                  yield chunk({
                    tool_calls: [{ index: tool.index, function: { arguments: d.partial_json } }],
                  });
                }
              }
              break;
            }
            case 'content_block_stop': {
              // A call without arguments streams none (or one empty delta): its arguments are "{}", as chat() says.
              const tool = typeof ev.index === 'number' ? tools.get(ev.index) : undefined;
              if (tool && !tool.streamed) {
                tool.streamed = true;
                const args =
                  tool.input !== null && typeof tool.input === 'object' ? JSON.stringify(tool.input) : '{}';
                yield chunk({ tool_calls: [{ index: tool.index, function: { arguments: args } }] });
              }
              break;
            }
            case 'message_delta': {
              if (ev.delta?.stop_reason != null) stop = ev.delta.stop_reason;
              mergeUsage(usage, ev.usage);
              // A refusal is known here; don't wait for message_stop to report it.
              if (stop === 'refusal') finishReason(stop, m);
              break;
            }
            case 'message_stop': {
              ended = true;
              // Hold the finish until the end marker: a stream cut after message_delta is still incomplete.
              yield chunk({}, finishReason(stop, m), usageOf(usage));
              // The answer is complete: a body still open after message_stop is not waited for (it is cancelled).
              if (!bodyArrived(res.body)) return;
              break;
            }
            case 'error':
              throw errorFromInBand(ev.error, m);
            default:
              break; // ping and event types added later
          }
        }
        if (!ended) throw badResponse(m, 'stream ended before message_stop');
      } finally {
        // Breaking out early (or failing) must cancel the upstream request, not leave it streaming.
        res.body.destroy();
      }
    },

    async embed(request) {
      throw new ProviderCapabilityError(`${config.id}/${request.model}: Anthropic has no embeddings API`, {
        provider: config.id,
        model: request.model,
        capability: 'embeddings',
      });
    },

    async probe(ctx) {
      const m = meta('*', 'GET', modelsPath);
      try {
        const res = await send(
          http,
          { origin, path: `${modelsPath}?limit=1`, method: 'GET', headers: getHeaders, signal: ctx.signal },
          m,
        );
        await res.body.dump();
        return { ok: true };
      } catch (err) {
        return probeAnswered(err);
      }
    },

    async models(ctx) {
      const m = meta('*', 'GET', modelsPath);
      const names: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < MODELS_MAX_PAGES; page++) {
        const query = `?limit=${MODELS_PAGE}${after ? `&after_id=${encodeURIComponent(after)}` : ''}`;
        const path = `${modelsPath}${query}`;
        const res = await send(
          http,
          { origin, path, method: 'GET', headers: getHeaders, signal: ctx.signal },
          m,
        );
        const json = parseJson(await readBody(res, ctx.signal, m), m) as {
          data?: unknown;
          has_more?: unknown;
          last_id?: unknown;
        } | null;
        if (!Array.isArray(json?.data)) throw badResponse(m, 'model list has no data array');
        for (const entry of json.data) {
          const mid = (entry as { id?: unknown } | null)?.id;
          if (typeof mid !== 'string') throw badResponse(m, 'model entry without id');
          names.push(mid);
        }
        if (json.has_more !== true || typeof json.last_id !== 'string') break;
        after = json.last_id;
      }
      return names;
    },
  };
}
