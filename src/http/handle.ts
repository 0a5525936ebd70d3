import { createHash, timingSafeEqual } from 'node:crypto';
import type { ManaLLM } from '../client.js';
import { HTTP_DEFAULTS } from '../options.js';
import { cleanText, redact } from '../redact.js';
import type { OpenedStream } from '../routing/open-stream.js';
import { warnThrown } from '../warn.js';
import { HttpError, toHttpError } from './errors.js';
import type { ResolvedHttpOptions } from './options.js';
import { lookup, PUBLIC_PATHS, type RouteResult, routePath } from './routes.js';

/** A request as both adapters (fetch, node:http) present it. */
export interface IncomingCall {
  readonly method: string;
  /** The raw path, without the query string. */
  readonly path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  /** The body's bytes as they arrive. */
  chunks(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** A body a framework already parsed (Express `express.json()`, Fastify's `request.body`): used as is. */
  readonly parsed?: unknown;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

/** The answer both adapters write: a complete body, or SSE frames written as they come. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly frames?: AsyncIterable<string>;
  /** With `frames`: how long a write may wait for a client that stopped reading. */
  readonly idle?: OpenedStream['idle'];
}

const SANE_ID = /^[\w.:-]{1,128}$/;
const JSON_TYPE = 'application/json';
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/**
 * A `provider/model` as a header value: a model name is whatever the aliases file or the caller wrote, and a header
 * carries only visible ASCII (anything else made node:http and the Web Response refuse the whole answer), so every
 * other character is percent-encoded as UTF-8. Names of visible ASCII pass unchanged.
 */
const headerSafe = (name: string): string =>
  name.replace(/[^\x21-\x7e]+/g, (run) =>
    Buffer.from(run, 'utf8').toString('hex').toUpperCase().replace(/../g, '%$&'),
  );

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A key check that takes the same time whatever the key: every candidate is hashed (equal lengths) and compared
 * with every accepted key, without stopping at the first match.
 */
function keyCheck(keys: readonly string[]): (presented: string | undefined) => boolean {
  const accepted = keys.map(digest);
  return (presented) => {
    if (presented === undefined) return false;
    const d = digest(presented);
    let ok = false;
    for (const a of accepted) ok = timingSafeEqual(a, d) || ok;
    return ok;
  };
}

/** The key a request presents: `Authorization: Bearer <key>` first, else `X-API-Key`. */
function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header('authorization') ?? '');
  return m ? m[1] : header('x-api-key')?.trim() || undefined;
}

/**
 * The CORS headers for a request from `origin` (none when CORS is off; with a list, only `Vary: Origin` unless the
 * origin is allowed; with `'*'`, the same on every answer); `exposed`: the headers a browser may read from the answer.
 */
function corsHeaders(
  cors: ResolvedHttpOptions['cors'],
  exposed: string,
  origin: string | undefined,
): Record<string, string> {
  if (cors === undefined) return {};
  // The same for every origin, also without one: a cache may hand this answer to a browser.
  if (cors === '*') return { 'access-control-allow-origin': '*', 'access-control-expose-headers': exposed };
  // The answer depends on the origin, also without one: a cache must not hand it to a browser from another.
  if (origin === undefined || !cors.has(origin)) return { vary: 'Origin' };
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': exposed, vary: 'Origin' };
}

/**
 * A committed stream as SSE frames: `data: <chunk>` per chunk, then `data: [DONE]`. A failure after the commit is one
 * `data: {"error":{message,type,code,param}}` frame (the OpenAI SDKs raise it as an APIError) before `[DONE]`. When
 * the client went away, nothing more is written. Stopping the iteration cancels the upstream.
 */
async function* sseFrames(
  stream: OpenedStream,
  signal: AbortSignal,
  ended: (error?: string) => void,
): AsyncGenerator<string, void, undefined> {
  let error: string | undefined;
  try {
    for await (const chunk of stream) yield `data: ${JSON.stringify(chunk)}\n\n`;
    yield 'data: [DONE]\n\n';
  } catch (err) {
    if (signal.aborted) return;
    const e = toHttpError(err);
    error = e.code;
    yield `data: ${JSON.stringify(e.body())}\n\n`;
    yield 'data: [DONE]\n\n';
  } finally {
    ended(error ?? (signal.aborted ? 'client_closed' : undefined));
  }
}

/** The routing core shared by `createFetchHandler` and `createNodeHandler`. */
export function createDispatcher(
  llm: ManaLLM,
  opts: ResolvedHttpOptions,
): (call: IncomingCall) => Promise<Answer> {
  // Trimmed, as presented keys are (`LLM_API_KEYS="k1, k2"` split on commas); none is blank (see options.ts).
  const keys = opts.apiKeys?.map((k) => k.trim());
  const authorized = keys && keyCheck(keys);
  // The logged path is cleaned as every text from outside is: a key in it (an accepted one too) is redacted.
  const secrets = keys ?? [];
  const created = Math.floor(Date.now() / 1000);
  const idHeader = opts.requestIdHeader;
  // The request id under the header it is configured to travel in, so that a browser can read it.
  const exposed = ['x-mana-llm-resolved', ...(idHeader ? [idHeader] : []), 'retry-after'].join(', ');

  return async (call) => {
    const started = performance.now();
    const incomingId = idHeader ? call.header(idHeader) : undefined;
    // Echoed and logged: an id that is a key (an accepted one, or key-shaped) is replaced, as one that is not sane.
    const requestId =
      incomingId && SANE_ID.test(incomingId) && redact(incomingId, secrets) === incomingId
        ? incomingId
        : globalThis.crypto.randomUUID();
    const headers: Record<string, string> = corsHeaders(opts.cors, exposed, call.header('origin'));
    if (idHeader) headers[idHeader] = requestId;
    const path = call.path;
    let stream = false;
    let resolved: string | undefined;
    const log = (status: number, error?: string) => {
      if (!opts.onRequest) return;
      try {
        opts.onRequest({
          requestId,
          method: cleanText(call.method, 64, secrets),
          path: cleanText(path, 512, secrets),
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
    let body = '';
    try {
      const local = routePath(path, opts.basePath);
      if (call.method === 'OPTIONS') {
        // Preflights carry no credentials: answered before the key check.
        headers.allow = 'GET, HEAD, POST, OPTIONS';
        if ('access-control-allow-origin' in headers) {
          headers['access-control-allow-methods'] = 'GET, HEAD, POST, OPTIONS';
          // Echo what the browser asks for (the OpenAI SDKs send several x-stainless-* headers); a fixed list otherwise.
          headers['access-control-allow-headers'] =
            call.header('access-control-request-headers')?.slice(0, 2048) ||
            'authorization, content-type, x-api-key';
          headers['access-control-max-age'] = String(HTTP_DEFAULTS.corsMaxAgeSeconds);
        }
        log(204);
        return { status: 204, headers };
      }
      const found = local === undefined ? undefined : lookup(local, call.method);
      if (!found)
        throw new HttpError(404, 'not_found', cleanText(`no route for ${call.method} ${path}`, 200));
      if ('allow' in found) {
        const message = cleanText(`${call.method} is not allowed on ${local}`, 200);
        throw new HttpError(405, 'method_not_allowed', message, null, { allow: found.allow });
      }
      if (authorized && !PUBLIC_PATHS.has(local as string)) {
        const key = presentedKey(call.header);
        if (!authorized(key)) {
          // A key sent without its scheme (`Authorization: sk-…`) is no key, but not a missing one either.
          const why = call.header('authorization')?.trim()
            ? 'The Authorization header is not of the form Bearer <key>'
            : 'Missing API key';
          const message =
            key === undefined
              ? `${why}: send Authorization: Bearer <key> or X-API-Key: <key>`
              : 'Invalid API key';
          throw new HttpError(401, 'invalid_api_key', message);
        }
      }
      result = await found.route({ llm, opts, call, created }, found.param);
      // In the try: a reply passing on a field nested deeper than JSON.stringify can walk throws a RangeError.
      if (!result.stream) body = result.text ?? JSON.stringify(result.json);
    } catch (err) {
      const e = toHttpError(err);
      Object.assign(headers, e.headers, { 'content-type': JSON_TYPE });
      // 499: the client closed the connection before the answer (nginx's convention; only ever logged).
      if (call.signal.aborted) log(499, 'client_closed');
      else log(e.status, e.code);
      return { status: e.status, headers, body: JSON.stringify(e.body()) };
    }
    // The header's form in the log too: a name with a line break must not write a log line of its own.
    resolved = result.resolved && headerSafe(result.resolved);
    if (resolved) headers['x-mana-llm-resolved'] = resolved;
    Object.assign(headers, result.headers);
    if (result.stream) {
      // Logged when the stream is over.
      stream = true;
      Object.assign(headers, SSE_HEADERS);
      const frames = sseFrames(result.stream, call.signal, (e) => log(200, e));
      return { status: 200, headers, frames, ...(result.stream.idle ? { idle: result.stream.idle } : {}) };
    }
    log(200);
    if (result.text === undefined) headers['content-type'] = JSON_TYPE;
    return { status: 200, headers, body };
  };
}
