import type { ManaLLM } from '../client.js';
import { warnThrown } from '../warn.js';
import { keyCheck, presentedKey } from './auth.js';
import type { BodySource } from './body.js';
import { corsHeaders, preflightHeaders } from './cors.js';
import { HttpError, toErrorAnswer } from './errors.js';
import type { ResolvedHttpOptions } from './options.js';
import { MODEL_PREFIX, modelRoute, PUBLIC_PATHS, ROUTES, type Route, type RouteResult } from './routes.js';

/** A request as both adapters (fetch, node:http) present it. */
export interface IncomingCall {
  readonly method: string;
  /** The raw path, without the query string. */
  readonly path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  readonly body: BodySource;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

/** The answer both adapters write: a complete body, or SSE frames written as they come. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly frames?: AsyncIterable<string>;
}

const SANE_ID = /^[\w.:-]{1,128}$/;
const JSON_TYPE = 'application/json';

/** The routing core shared by `createFetchHandler` and `createNodeHandler`. */
export function createDispatcher(
  llm: ManaLLM,
  opts: ResolvedHttpOptions,
): (call: IncomingCall) => Promise<Answer> {
  const authorized = opts.apiKeys ? keyCheck(opts.apiKeys) : undefined;
  const created = Math.floor(Date.now() / 1000);
  const idHeader = opts.requestIdHeader;

  return async (call) => {
    const started = performance.now();
    const incomingId = idHeader ? call.header(idHeader) : undefined;
    const requestId = incomingId && SANE_ID.test(incomingId) ? incomingId : globalThis.crypto.randomUUID();
    const headers: Record<string, string> = corsHeaders(opts.cors, call.header('origin'));
    if (idHeader) headers[idHeader] = requestId;
    const path = call.path;
    let stream = false;
    let resolved: string | undefined;
    const log = (status: number, error?: string) => {
      if (!opts.onRequest) return;
      try {
        opts.onRequest({
          requestId,
          method: call.method,
          path: path.slice(0, 512),
          status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          stream,
          ...(resolved ? { resolved } : {}),
          ...(error ? { error } : {}),
        });
      } catch (err) {
        // A logger that throws never breaks an answer (as event listeners never break a call).
        warnThrown('the onRequest logger of mana-llm/http', err);
      }
    };
    let result: RouteResult;
    try {
      const local = routePath(path, opts.basePath);
      if (call.method === 'OPTIONS') {
        // Preflights carry no credentials: answered before the key check.
        const allowed = 'access-control-allow-origin' in headers;
        Object.assign(
          headers,
          { allow: 'GET, POST, OPTIONS' },
          allowed ? preflightHeaders(call.header('access-control-request-headers')) : {},
        );
        log(204);
        return { status: 204, headers };
      }
      const found = local === undefined ? undefined : lookup(local, call.method);
      if (!found) throw new HttpError(404, 'not_found', `no route for ${call.method} ${path.slice(0, 200)}`);
      if ('allow' in found) {
        throw new HttpError(405, 'method_not_allowed', `${call.method} is not allowed on ${local}`, {
          headers: { allow: found.allow },
        });
      }
      if (authorized && !PUBLIC_PATHS.has(local as string)) {
        const key = presentedKey(call.header);
        if (!authorized(key)) {
          throw new HttpError(
            401,
            'invalid_api_key',
            key === undefined
              ? 'Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>'
              : 'Invalid API key',
          );
        }
      }
      result = await found.route(
        {
          llm,
          opts,
          body: call.body,
          signal: call.signal,
          created,
          streamEnded: (error) => log(200, error),
        },
        found.param,
      );
    } catch (err) {
      const a = toErrorAnswer(err);
      Object.assign(headers, a.headers, { 'content-type': JSON_TYPE });
      // 499: the client closed the connection before the answer (nginx's convention; only ever logged).
      const status = call.signal.aborted ? 499 : a.status;
      log(status, call.signal.aborted ? 'client_closed' : (a.error.code ?? undefined));
      return { status: a.status, headers, body: JSON.stringify({ error: a.error }) };
    }
    resolved = result.resolved;
    if (resolved) headers['x-mana-llm-resolved'] = resolved;
    Object.assign(headers, result.headers);
    const status = result.status ?? 200;
    if (result.frames) {
      // Logged by the route's streamEnded when the stream is over.
      stream = true;
      return { status, headers, frames: result.frames };
    }
    log(status);
    if (result.text !== undefined) return { status, headers, body: result.text };
    headers['content-type'] = JSON_TYPE;
    return { status, headers, body: JSON.stringify(result.json) };
  };
}

/** The path under `basePath`, or undefined when the request is outside it. */
function routePath(path: string, basePath: string): string | undefined {
  if (basePath === '') return path;
  if (path === basePath) return '/';
  return path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : undefined;
}

type Found = { route: Route; param?: string } | { allow: string };

function lookup(path: string, method: string): Found | undefined {
  const byMethod = ROUTES[path];
  if (byMethod) {
    const route = byMethod[method as 'GET' | 'POST'];
    return route ? { route } : { allow: Object.keys(byMethod).join(', ') };
  }
  if (path.startsWith(MODEL_PREFIX) && path.length > MODEL_PREFIX.length) {
    if (method !== 'GET') return { allow: 'GET' };
    let id: string;
    try {
      id = decodeURIComponent(path.slice(MODEL_PREFIX.length));
    } catch {
      return undefined;
    }
    return { route: modelRoute, param: id };
  }
  return undefined;
}
