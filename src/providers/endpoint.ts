import type { Clock } from '../clock.js';
import { ProviderAuthError, ProviderError } from '../errors.js';
import type { CancelSignal } from '../wire/cancel.js';
import type { BodyLimit, Http, HttpBody, HttpRequest, HttpResponse } from '../wire/http.js';
import { WireLimitError } from '../wire/limits.js';
import { readSSE, type SSEEvent } from '../wire/sse.js';
import type { ProbeOutcome } from './adapter.js';
import { badResponse, errorFromInBand, errorFromStatus, networkError, parseJson } from './error-mapping.js';
import { isJsonObject, type JsonObject } from './json-shapes.js';
import type { AdapterConfig } from './registry.js';

/** What an error message names: provider, model, method and path (never a key). */
export interface CallMeta {
  provider: string;
  model: string;
  method: 'GET' | 'POST';
  /** The request's path, base path and query included. */
  path: string;
  /** Configured secrets to scrub from anything the upstream echoes back. */
  secrets: readonly string[];
}

/**
 * Sends a request and returns a 2xx response; anything else is thrown as the typed error of the fallback table.
 * When the request's signal aborted, its reason is rethrown untouched so the router can tell timeouts from
 * the caller's own abort. `clock` is the client's: a 429's `retry-after` HTTP date is read against it.
 */
export async function send(
  http: Http,
  req: HttpRequest,
  meta: CallMeta,
  clock?: Clock,
): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await http.send(req);
  } catch (err) {
    throw networkError(err, req.signal, meta);
  }
  if (res.status >= 200 && res.status < 300) return res;
  const text = await readCapped(res.body, http.limits.maxErrorBodyBytes).catch(() => '');
  throw errorFromStatus(res.status, res.headers, text, meta, clock?.now());
}

/**
 * Reads a body as text, failing like a dropped connection when the socket dies mid-body, and as a bad response
 * when it is larger than the cap `limit` names (default `limits.maxResponseBytes`).
 */
export async function readBody(
  res: HttpResponse,
  signal: CancelSignal,
  meta: CallMeta,
  limit?: BodyLimit,
): Promise<string> {
  try {
    return await res.body.text(limit);
  } catch (err) {
    throw networkError(err, signal, meta);
  }
}

/** Reads at most `max` bytes of a body as UTF-8 text, then destroys the rest. */
export async function readCapped(body: HttpBody, max: number): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= max) break;
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}

/** Whether a body's first read starts (after blank space) with `{` or `[`: a JSON reply, which no event stream does. */
export function startsJson(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    // Space, tab, line ends, and a UTF-8 byte order mark.
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef || b === 0xbb || b === 0xbf)
      continue;
    return b === 0x7b || b === 0x5b;
  }
  return false;
}

/**
 * A stream request answered with a JSON body (an error some servers and gateways send with a 200, whatever its
 * content type), `first` its first read: `inBand` throws the error the text carries; otherwise, and for a body past
 * `maxFrameBytes`, it is a bad response.
 */
export async function jsonInsteadOfStream(
  first: Uint8Array,
  reader: AsyncIterator<Uint8Array>,
  maxFrameBytes: number,
  meta: CallMeta,
  inBand: (text: string) => unknown,
): Promise<never> {
  const parts = [first];
  let size = first.length;
  for (let r: IteratorResult<Uint8Array>; size <= maxFrameBytes && !(r = await reader.next()).done; ) {
    parts.push(r.value);
    size += r.value.length;
  }
  if (size > maxFrameBytes) throw new WireLimitError('a stream frame', maxFrameBytes, 'maxFrameBytes');
  const text = Buffer.concat(parts).toString('utf8');
  // A byte order mark, which startsJson skipped, is no JSON: drop it as a whole reply's body does.
  inBand(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  throw badResponse(meta, 'stream request answered with a JSON reply, not an event stream');
}

/** A body's reader again as an iterable, its `first` read (already taken) first: no extra promise per read. */
function resumed(
  first: IteratorResult<Uint8Array>,
  reader: AsyncIterator<Uint8Array>,
): AsyncIterable<Uint8Array> {
  let head: IteratorResult<Uint8Array> | undefined = first;
  const next = (): Promise<IteratorResult<Uint8Array>> => {
    if (head === undefined) return reader.next();
    const r = head;
    head = undefined;
    return Promise.resolve(r);
  };
  return { [Symbol.asyncIterator]: () => ({ next }) };
}

/**
 * The model names of a provider's list (`nameOf` reads an entry's; an OpenAI or Anthropic entry's `id` by default).
 * An entry without one (a non-empty text) is skipped, so the others are still listed (docs/choices.md).
 * @throws ProviderResponseError when the list is not a list
 */
export function modelNames(
  list: unknown,
  meta: CallMeta,
  nameOf = (entry: JsonObject): unknown => entry.id,
): string[] {
  if (!Array.isArray(list)) throw badResponse(meta, 'model list is not a list');
  const names: string[] = [];
  for (const entry of list) {
    const name = isJsonObject(entry) ? nameOf(entry) : undefined;
    if (typeof name === 'string' && name !== '') names.push(name);
  }
  return names;
}

const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|password|credential|signature/i;

/**
 * What an adapter must scrub from anything an upstream echoes back: its API key, and every credential it sends as a
 * configured header (a bearer token for a proxy in front of Ollama, Azure's `api-key`), also without its scheme.
 */
function secretsOf(config: Pick<AdapterConfig, 'apiKey' | 'headers'>): string[] {
  const out = config.apiKey ? [config.apiKey] : [];
  for (const [name, value] of Object.entries(config.headers)) {
    if (!CREDENTIAL_HEADER.test(name)) continue;
    out.push(value);
    const token = /^\s*\S+\s+(\S+)\s*$/.exec(value)?.[1];
    if (token) out.push(token);
  }
  return out;
}

/**
 * A configured provider's endpoint, worked out once per adapter (origin, path prefix, and the secrets its errors
 * must never show), with the calls adapters make on it: JSON requests, whole-JSON and SSE replies, probes.
 */
export function endpointCalls(config: AdapterConfig, http: Http, clock: Clock) {
  // Split once, at construction: undici takes the origin and the path apart.
  const url = new URL(config.baseUrl);
  const origin = url.origin;
  const basePath = url.pathname.replace(/\/+$/, '');
  const secrets = secretsOf(config);
  const configured = Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v] as const);
  /** Sends the call `m` names, with a POST's JSON `body`: a 2xx response or the typed error. */
  const call = (
    m: CallMeta,
    headers: Record<string, string>,
    signal: CancelSignal,
    body?: string,
    background?: boolean,
  ) => send(http, { origin, path: m.path, method: m.method, headers, signal, body, background }, m, clock);
  return {
    basePath,
    /**
     * The headers of a GET, a JSON POST and a POST answered with SSE: the adapter's own (lowercase: its auth) with
     * `accept` and a POST's content type, and the configured ones over them, names compared case-insensitively: a
     * configured `X-Api-Key` replaces the adapter's `x-api-key` rather than going out next to it. Built once.
     */
    headers(own: Record<string, string>) {
      const over = (defaults: Record<string, string>): Record<string, string> => {
        for (const [k, v] of configured) defaults[k] = v;
        return defaults;
      };
      const post = { ...own, 'content-type': 'application/json' };
      return {
        get: over({ accept: 'application/json', ...own }),
        json: over({ accept: 'application/json', ...post }),
        sse: over({ accept: 'text/event-stream', ...post }),
      };
    },
    /** A call: where its request goes, and what an error about it names. */
    meta: (model: string, method: CallMeta['method'], path: string): CallMeta => ({
      provider: config.id,
      model,
      method,
      path,
      secrets,
    }),
    call,
    /**
     * The SSE events of a streamed reply, with socket failures mid-body turned into typed errors; a JSON body is
     * thrown as the in-band error it carries, or as a bad response.
     */
    async *events(res: HttpResponse, signal: CancelSignal, m: CallMeta): AsyncGenerator<SSEEvent> {
      const max = http.limits.maxFrameBytes;
      try {
        const reader = res.body[Symbol.asyncIterator]();
        const first = await reader.next();
        if (!first.done && startsJson(first.value)) {
          await jsonInsteadOfStream(first.value, reader, max, m, (text) => {
            const json = parseJson(text, m);
            // Gemini's stream without `alt=sse` is a JSON list of replies.
            const reply = Array.isArray(json) ? json[0] : json;
            if (isJsonObject(reply) && reply.error != null) throw errorFromInBand(reply.error, m);
          });
        }
        yield* readSSE(resumed(first, reader), max);
      } catch (err) {
        throw networkError(err, signal, m);
      }
    },
    /** A whole reply parsed as JSON, within the cap `limit` names. */
    async json(res: HttpResponse, signal: CancelSignal, m: CallMeta, limit?: BodyLimit): Promise<unknown> {
      return parseJson(await readBody(res, signal, m, limit), m);
    },
    /**
     * A probe: a GET whose body is thrown away. Any HTTP answer below 500 means the server is up, and a 401/403 is
     * kept as the provider's `lastError` so a wrong key is visible; anything else is rethrown (a counted failure).
     */
    async probe(m: CallMeta, headers: Record<string, string>, signal: CancelSignal): Promise<ProbeOutcome> {
      try {
        // In the background: a probe waiting on a silent provider never holds a script that does not call close().
        await (await call(m, headers, signal, undefined, true)).body.dump();
        return { ok: true };
      } catch (err) {
        if (!(err instanceof ProviderError) || err.status === undefined || err.status >= 500) throw err;
        return err instanceof ProviderAuthError ? { ok: true, error: err.message } : { ok: true };
      }
    },
  };
}
