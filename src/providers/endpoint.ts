import type { CancelSignal } from '../wire/cancel.js';
import type { BodyLimit, Http, HttpRequest, HttpResponse } from '../wire/http.js';
import { readSSE, type SSEEvent } from '../wire/sse.js';
import type { ProbeOutcome } from './adapter.js';
import { networkError, parseJson, probeAnswered } from './error-mapping.js';
import type { AdapterConfig } from './registry.js';
import { readBody, send } from './transport.js';

/** What an error message names: provider, model, method and path (never a key). */
export interface CallMeta {
  provider: string;
  model: string;
  method: string;
  path: string;
  /** Configured secrets to scrub from anything the upstream echoes back. */
  secrets: readonly string[];
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

/** One provider's endpoint, worked out once per adapter: where requests go and how errors name a call. */
export interface Endpoint {
  origin: string;
  basePath: string;
  meta(model: string, method: string, path: string): CallMeta;
}

/** The endpoint of a configured provider (origin, path prefix, and the secrets its errors must never show). */
export function endpointOf(config: AdapterConfig): Endpoint {
  // Split once, at construction: undici takes the origin and the path apart.
  const url = new URL(config.baseUrl);
  const secrets = secretsOf(config);
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    meta: (model, method, path) => ({ provider: config.id, model, method, path, secrets }),
  };
}

/** An endpoint with the calls adapters make on it: JSON requests, whole-JSON and SSE replies, probes. */
export function endpointCalls(config: AdapterConfig, http: Http) {
  const endpoint = endpointOf(config);
  const { origin, basePath } = endpoint;
  /** Sends `body` as JSON (a POST; a GET without one) to `basePath + path`: a 2xx response or the typed error. */
  const call = (
    m: CallMeta,
    path: string,
    headers: Record<string, string>,
    signal: CancelSignal,
    body?: unknown,
  ) => {
    const req: HttpRequest = { origin, path: basePath + path, method: 'GET', headers, signal };
    if (body !== undefined) {
      req.method = 'POST';
      req.body = JSON.stringify(body);
    }
    return send(http, req, m);
  };
  return {
    ...endpoint,
    call,
    /** The SSE events of a streamed reply, with socket failures mid-body turned into typed errors. */
    async *events(res: HttpResponse, signal: CancelSignal, m: CallMeta): AsyncGenerator<SSEEvent> {
      try {
        yield* readSSE(res.body, http.limits.maxFrameBytes);
      } catch (err) {
        throw networkError(err, signal, m);
      }
    },
    /** A whole reply parsed as JSON, within the cap `limit` names. */
    async json(res: HttpResponse, signal: CancelSignal, m: CallMeta, limit?: BodyLimit): Promise<unknown> {
      return parseJson(await readBody(res, signal, m, limit), m);
    },
    /** A probe: a GET whose body is thrown away; see `probeAnswered` for what a failure means. */
    async probe(
      m: CallMeta,
      path: string,
      headers: Record<string, string>,
      signal: CancelSignal,
    ): Promise<ProbeOutcome> {
      try {
        await (await call(m, path, headers, signal)).body.dump();
        return { ok: true };
      } catch (err) {
        return probeAnswered(err);
      }
    },
  };
}
