import type { ManaLLM } from '../client.js';
import { InvalidRequestError } from '../errors.js';
import { cleanText } from '../redact.js';
import type { OpenedStream } from '../routing/open-stream.js';
import type { ChatRequest, EmbedRequest } from '../types.js';
import { readJsonObject } from './body.js';
import { HttpError } from './errors.js';
import type { IncomingCall } from './handle.js';
import type { ResolvedHttpOptions } from './options.js';

/** What a route hands back: a JSON value, a text, or a committed stream; `resolved` becomes X-Mana-LLM-Resolved. */
export interface RouteResult {
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  stream?: OpenedStream;
  resolved?: string;
}

/** Everything a route may use. */
interface RouteContext {
  readonly llm: ManaLLM;
  readonly opts: ResolvedHttpOptions;
  /** The request; its signal aborts when the client goes away, which cancels the upstream call. */
  readonly call: IncomingCall;
  /** Unix seconds the handler was created at: the `created` of listed models. */
  readonly created: number;
}

/** A route's implementation. */
type Route = (c: RouteContext, param?: string) => Promise<RouteResult>;

const CHAT_FIELDS = [
  'model',
  'messages',
  'temperature',
  'max_tokens',
  'top_p',
  'frequency_penalty',
  'presence_penalty',
  'stop',
  'seed',
  'response_format',
  'tools',
  'tool_choice',
  'user',
] as const;

/** Whatever is not a field of ChatRequest (n, logprobs, store, metadata, …) is left out rather than refused. */
function chatRequest(body: Record<string, unknown>, stream: boolean): ChatRequest {
  const req: Record<string, unknown> = {};
  for (const k of CHAT_FIELDS) if (body[k] !== undefined && body[k] !== null) req[k] = body[k];
  // Newer OpenAI clients send max_completion_tokens instead of max_tokens (checked as max_tokens is).
  if (req.max_tokens === undefined && body.max_completion_tokens != null)
    req.max_tokens = body.max_completion_tokens;
  if (stream && body.stream_options != null) req.stream_options = body.stream_options;
  // As sent: llm.chat and llm.openStream check every field, with its path.
  return req as unknown as ChatRequest;
}

/** The answer's OpenAI shape: routing travels in the X-Mana-LLM-Resolved header, not in the body. */
function withoutRouting<T extends { routing: unknown }>(res: T): Omit<T, 'routing'> {
  const { routing: _, ...rest } = res;
  return rest;
}

const chat: Route = async (c) => {
  const body = await readJsonObject(c.call, c.opts.maxBodyBytes);
  if (body.stream != null && typeof body.stream !== 'boolean')
    throw new InvalidRequestError('invalid request', [{ path: 'stream', message: 'must be a boolean' }]);
  const stream = body.stream === true;
  const request = chatRequest(body, stream);
  if (!stream) {
    const res = await c.llm.chat(request, { signal: c.call.signal });
    return { json: withoutRouting(res), resolved: res.model };
  }
  // Resolves at commit: a routing error is still a plain JSON error with its own status.
  const opened = await c.llm.openStream(request, { signal: c.call.signal });
  return { stream: opened, resolved: opened.model };
};

/** A vector as the OpenAI API's `encoding_format: 'base64'` writes it: little-endian float32 bytes. */
function toBase64(v: number[]): string {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

const embeddings: Route = async (c) => {
  const body = await readJsonObject(c.call, c.opts.maxBodyBytes);
  const { model, input, dimensions, encoding_format: format } = body;
  // As sent: llm.embed checks each field, with its path (a `dimensions` silently dropped gave full-size vectors).
  const request = { input } as EmbedRequest;
  if (model != null) request.model = model as string;
  if (dimensions != null) request.dimensions = dimensions as number;
  // A client that wants numbers gets them as the upstream printed them; one that wants base64 gets the float32
  // bytes the upstream sent (the library's default wire format), re-encoded exactly.
  if (format !== 'base64') request.encoding_format = (format ?? 'float') as 'float';
  const res = await c.llm.embed(request, { signal: c.call.signal });
  const out = withoutRouting(res);
  // The official OpenAI SDKs ask for base64 by default and decode it themselves.
  const json =
    format === 'base64'
      ? { ...out, data: out.data.map((d) => ({ ...d, embedding: toBase64(d.embedding) })) }
      : out;
  return { json, resolved: res.model };
};

/** An alias as a listed model: served by mana-llm itself. */
const aliasModel = (id: string, created: number) => ({ id, object: 'model', created, owned_by: 'mana-llm' });

/** Aliases first, then every configured provider's models, best effort. */
async function listModels(c: RouteContext) {
  const aliases = c.llm.aliases().aliases.map((a) => aliasModel(a.name, c.created));
  const list = await c.llm.models({ signal: c.call.signal });
  return [...aliases, ...list.data.map((m) => ({ ...m, created: c.created }))];
}

const models: Route = async (c) => ({ json: { object: 'list', data: await listModels(c) } });

/** `GET /v1/models/{id}`: the id may contain `/` (`mana/fast-text`, `groq/llama…`), raw or percent-encoded. */
const MODEL_PREFIX = '/v1/models/';
const modelRoute: Route = async (c, id = '') => {
  const alias = c.llm.aliases().aliases.find((a) => a.name === id);
  const found = alias ? aliasModel(id, c.created) : (await listModels(c)).find((m) => m.id === id);
  if (!found)
    throw new HttpError(404, 'model_not_found', `The model '${cleanText(id, 200)}' does not exist`, 'model');
  return { json: found };
};

/** As the original service wrote it: every alias with a description string ('' when the file has none). */
const aliases: Route = async (c) => {
  const { default: def, aliases: list } = c.llm.aliases();
  return { json: { default: def, aliases: list.map((a) => ({ ...a, description: a.description ?? '' })) } };
};

const v1Health: Route = async (c) => ({ json: c.llm.health() });

/** Always 200 while the process answers (as the original service): the body says how the providers are. */
const health: Route = async (c) => {
  const h = c.llm.health();
  return { json: { status: h.status, service: 'mana-llm', providers: h.providers } };
};

const metrics: Route = async (c) => {
  const source = c.opts.metrics;
  if (!source) throw new HttpError(404, 'not_found', 'no metrics registry is configured');
  return {
    text: await source.metrics(),
    headers: { 'content-type': source.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' },
  };
};

/** Exact paths and their routes by method. */
const ROUTES: Readonly<Record<string, Readonly<Partial<Record<'GET' | 'POST', Route>>>>> = {
  '/v1/chat/completions': { POST: chat },
  '/v1/embeddings': { POST: embeddings },
  '/v1/models': { GET: models },
  '/v1/aliases': { GET: aliases },
  '/v1/health': { GET: v1Health },
  '/health': { GET: health },
  '/metrics': { GET: metrics },
};

/** Paths answered without a key. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/health', '/metrics']);

/** The path under `basePath`, or undefined when the request is outside it. */
export function routePath(path: string, basePath: string): string | undefined {
  if (basePath === '') return path;
  if (path === basePath) return '/';
  return path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : undefined;
}

/**
 * The route for `method` at a path under `basePath`, or the methods the path allows; undefined: no such path.
 * HEAD is routed as GET (RFC 9110: the adapters send its status and headers without the body).
 */
export function lookup(
  path: string,
  method: string,
): { route: Route; param?: string } | { allow: string } | undefined {
  const asGet = method === 'HEAD' ? 'GET' : method;
  const byMethod = ROUTES[path];
  if (byMethod) {
    // Not indexed by any method: one named like an Object member (`valueOf`, which a fetch Request allows) is no route.
    const route = asGet === 'GET' || asGet === 'POST' ? byMethod[asGet] : undefined;
    return route ? { route } : { allow: byMethod.GET ? 'GET, HEAD' : 'POST' };
  }
  if (path.startsWith(MODEL_PREFIX) && path.length > MODEL_PREFIX.length) {
    if (asGet !== 'GET') return { allow: 'GET, HEAD' };
    try {
      return { route: modelRoute, param: decodeURIComponent(path.slice(MODEL_PREFIX.length)) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
