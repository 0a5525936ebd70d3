import { ConfigError } from '../errors.js';
import { HTTP_DEFAULTS } from '../options.js';

/** One line of the request log: never a key, never message content. */
export interface RequestLogEntry {
  readonly requestId: string;
  readonly method: string;
  /** The path without its query string. */
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** true for an SSE answer: logged when the stream ends, `status` is then the 200 it started with. */
  readonly stream: boolean;
  /** The `provider/model` that served, when an answer was served. */
  readonly resolved?: string;
  /** The error code (lower case) when the request failed, or its stream ended with an error frame. */
  readonly error?: string;
}

/** Something that renders Prometheus text, such as a prom-client `Registry`. */
export interface MetricsSource {
  metrics(): Promise<string> | string;
  readonly contentType?: string;
}

/** Options of `createFetchHandler` and `createNodeHandler`. */
export interface HttpHandlerOptions {
  /** Accepted keys (`Authorization: Bearer <key>` or `X-API-Key: <key>`); absent: no key check. `/health` and `/metrics` stay public. */
  apiKeys?: readonly string[];
  /** Origins allowed to call from a browser (`'*'` for any); absent: no CORS headers. */
  cors?: '*' | readonly string[];
  /** Largest request body; a bigger one is answered 413 (default 8 MiB). */
  maxBodyBytes?: number;
  /** Header carrying the request id, echoed on every answer (default `x-request-id`); `false`: none. */
  requestIdHeader?: string | false;
  /** Path prefix in front of the routes (e.g. `/api/llm` for a catch-all route); default none. */
  basePath?: string;
  /** `GET /metrics` answers with this source's text (e.g. the prom-client registry given to `registerPrometheusMetrics`); absent: 404. */
  metrics?: MetricsSource;
  /** Called once per request when its answer is complete (for a stream: when it ends). */
  onRequest?: (entry: RequestLogEntry) => void;
}

/** The options with every default filled in. */
export type ResolvedHttpOptions = ReturnType<typeof resolveHttpOptions>;

/**
 * Validates the handler options once, when the handler is created.
 * @throws ConfigError listing every problem
 */
export function resolveHttpOptions(o: HttpHandlerOptions = {}) {
  const issues: { path: string; message: string }[] = [];
  const { apiKeys, cors, maxBodyBytes, requestIdHeader, basePath } = o;
  if (apiKeys !== undefined) {
    if (!Array.isArray(apiKeys) || apiKeys.length === 0)
      issues.push({
        path: 'apiKeys',
        message: 'must be a non-empty array (omit it to serve without a key check)',
      });
    else
      apiKeys.forEach((k, i) => {
        if (typeof k !== 'string' || k.trim() === '')
          issues.push({ path: `apiKeys[${i}]`, message: 'must be a non-blank string' });
      });
  }
  if (
    cors !== undefined &&
    cors !== '*' &&
    !(Array.isArray(cors) && cors.every((c) => typeof c === 'string'))
  )
    issues.push({ path: 'cors', message: "must be '*' or an array of origins" });
  if (maxBodyBytes !== undefined && !(Number.isInteger(maxBodyBytes) && maxBodyBytes > 0))
    issues.push({ path: 'maxBodyBytes', message: 'must be a positive integer' });
  if (
    requestIdHeader !== undefined &&
    requestIdHeader !== false &&
    !/^[A-Za-z0-9-]+$/.test(String(requestIdHeader))
  )
    issues.push({ path: 'requestIdHeader', message: 'must be a header name or false' });
  if (
    basePath !== undefined &&
    !(typeof basePath === 'string' && (basePath === '' || /^\/.*[^/]$/.test(basePath)))
  )
    issues.push({ path: 'basePath', message: "must start with '/' and not end with '/'" });
  if (o.metrics !== undefined && typeof o.metrics?.metrics !== 'function')
    issues.push({ path: 'metrics', message: 'must have a metrics() method (e.g. a prom-client Registry)' });
  if (o.onRequest !== undefined && typeof o.onRequest !== 'function')
    issues.push({ path: 'onRequest', message: 'must be a function' });
  if (issues.length > 0) throw new ConfigError('invalid mana-llm/http options', issues);
  return {
    apiKeys,
    cors: cors === undefined || cors === '*' ? cors : new Set(cors),
    maxBodyBytes: maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes,
    requestIdHeader:
      requestIdHeader === false
        ? undefined
        : (requestIdHeader ?? HTTP_DEFAULTS.requestIdHeader).toLowerCase(),
    basePath: basePath ?? HTTP_DEFAULTS.basePath,
    metrics: o.metrics,
    onRequest: o.onRequest,
  };
}
