import { randomUUID } from 'node:crypto';
import { ProviderCapabilityError } from '../errors.js';
import type { ToolCallDelta } from '../types.js';
import {
  type AdapterChatRequest,
  type AdapterContext,
  ALL_CAPABILITIES,
  INLINE_IMAGES,
  type InlinesImages,
  type ProviderAdapter,
} from './adapter.js';
import { finishReason, fromAnthropicMessage, toAnthropicBody, usageOf } from './anthropic-mapping.js';
import { endpointCalls, modelNames } from './endpoint.js';
import { badResponse, errorFromInBand, parseJson } from './error-mapping.js';
import { imagesOf } from './images.js';
import { argumentsText, callId, chunksOf, isCount, isJsonObject, type JsonObject } from './json-shapes.js';
import type { AdapterDeps } from './registry.js';

const API_VERSION = '2023-06-01';
/** Anthropic has no JSON output mode and no embeddings API. */
const CAPABILITIES = Object.freeze({ ...ALL_CAPABILITIES, jsonSchema: false, embeddings: false });
/** Page size and page bound for `models()`; the API pages its list (max 1000 per page). */
const MODELS_PAGE = 1000;
const MODELS_MAX_PAGES = 10;

/** One event of a Messages stream, read field by field (every field is checked before use). */
interface StreamEvent {
  type?: unknown;
  message?: { id?: unknown; usage?: unknown };
  index?: unknown;
  content_block?: Record<string, unknown>;
  delta?: Record<string, unknown>;
  usage?: unknown;
  error?: unknown;
}

/** Takes the counts an event reports (message_delta repeats some or all of message_start's), skipping a non-count. */
function mergeUsage(into: JsonObject, from: unknown): void {
  if (!isJsonObject(from)) return;
  for (const [k, v] of Object.entries(from)) if (isCount(v)) into[k] = v;
}

/** Creates the adapter for the Anthropic Messages API (`x-api-key` + `anthropic-version`). */
export function createAnthropicAdapter(deps: AdapterDeps): ProviderAdapter & InlinesImages {
  const { config, http, clock } = deps;
  const { basePath, meta, call, json, probe, events, headers } = endpointCalls(config, http, clock);
  const sent = headers({
    'anthropic-version': API_VERSION,
    ...(config.apiKey ? { 'x-api-key': config.apiKey } : {}),
  });

  const now = () => Math.floor(clock.now() / 1000);

  async function post(request: AdapterChatRequest, stream: boolean, ctx: AdapterContext) {
    const m = meta(request.model, 'POST', `${basePath}/messages`);
    const body = await toAnthropicBody(request, stream, imagesOf(ctx, deps.images, request.messages), m);
    return { res: await call(m, stream ? sent.sse : sent.json, ctx.signal, JSON.stringify(body)), m };
  }

  return {
    capabilities: () => CAPABILITIES,
    [INLINE_IMAGES]: true,

    async chat(request, ctx) {
      const { res, m } = await post(request, false, ctx);
      return fromAnthropicMessage(await json(res, ctx.signal, m), m, `${config.id}/${request.model}`, now());
    },

    async *stream(request, ctx) {
      const { res, m } = await post(request, true, ctx);
      const created = now();
      const model = `${config.id}/${request.model}`;
      // The chunks carry message_start's id, or one of ours when a chunk comes before it.
      let id: string | undefined;
      let chunks: ReturnType<typeof chunksOf> | undefined;
      const chunk: ReturnType<typeof chunksOf> = (...args) =>
        (chunks ??= chunksOf(id ?? `msg-${randomUUID()}`, created, model))(...args);
      // Anthropic numbers content blocks, OpenAI tool calls: each tool block's call index, and the input its start gave
      // while no arguments have streamed for it yet. Keyed by the event's index as sent: only numbers are set.
      const tools = new Map<unknown, { index: number; input: unknown; streamed: boolean }>();
      let calls = 0;
      const usage: JsonObject = {};
      let stop: unknown;
      try {
        for await (const { event, data } of events(res, ctx.signal, m)) {
          const ev = parseJson(data, m, 'unparseable stream frame') as StreamEvent;
          if (ev === null || typeof ev !== 'object') throw badResponse(m, 'stream frame is not an object');
          switch (typeof ev.type === 'string' ? ev.type : event) {
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
                // Counted, not the map's size: a block index sent again would give two calls one index.
                const index = calls++;
                tools.set(ev.index, { index, input: b.input, streamed: false });
                const call: ToolCallDelta = {
                  index,
                  id: callId(b.id),
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
              // A known delta without its string is malformed: skipped, it would lose text or cut a call's arguments.
              if (d?.type === 'text_delta') {
                if (typeof d.text !== 'string') throw badResponse(m, 'text_delta without text');
                if (d.text !== '') yield chunk({ content: d.text });
              } else if (d?.type === 'thinking_delta') {
                if (typeof d.thinking !== 'string') throw badResponse(m, 'thinking_delta without thinking');
                if (d.thinking !== '') yield chunk({ reasoning_content: d.thinking });
              } else if (d?.type === 'input_json_delta') {
                if (typeof d.partial_json !== 'string')
                  throw badResponse(m, 'input_json_delta without partial_json');
                const tool = tools.get(ev.index);
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
              const tool = tools.get(ev.index);
              if (tool && !tool.streamed) {
                tool.streamed = true;
                const args = argumentsText(tool.input);
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
            case 'message_stop':
              // Held until the end marker: a stream cut after message_delta is still incomplete. Whatever follows
              // is not waited for (the finally cancels a body still open).
              yield chunk({}, finishReason(stop, m), usageOf(usage));
              return;
            case 'error':
              throw errorFromInBand(ev.error, m);
            default:
              break; // ping and event types added later
          }
        }
        throw badResponse(m, 'stream ended before message_stop');
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

    probe: (ctx) => probe(meta('*', 'GET', `${basePath}/models?limit=1`), sent.get, ctx.signal),

    async models(ctx) {
      const names: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < MODELS_MAX_PAGES; page++) {
        const query = `?limit=${MODELS_PAGE}${after ? `&after_id=${encodeURIComponent(after)}` : ''}`;
        const listing = meta('*', 'GET', `${basePath}/models${query}`);
        const res = await call(listing, sent.get, ctx.signal);
        const list = (await json(res, ctx.signal, listing)) as JsonObject | null;
        names.push(...modelNames(list?.data, listing));
        if (list?.has_more !== true || typeof list.last_id !== 'string') break;
        after = list.last_id;
      }
      return names;
    },
  };
}
