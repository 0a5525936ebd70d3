import * as v from 'valibot';
import { ConfigError } from '../errors.js';
import { HTTP_DEFAULTS } from '../options.js';
import { withMethods } from '../options-schema.js';
import { readingOptions } from '../resolve-options.js';
import { configIssues, unknownKeys } from '../unknown-keys.js';

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
  /** The `provider/model` that served, when an answer was served (as in `X-Mana-LLM-Resolved`). */
  readonly resolved?: string;
  /** The error code (lower case) when the request failed, or its stream ended with an error frame. */
  readonly error?: string;
}

/** Something that renders Prometheus text, such as a prom-client `Registry`. */
export interface MetricsSource {
  metrics(): Promise<string> | string;
  readonly contentType?: string;
}

/** Options of `createFetchHandler` and `createNodeHandler`; `undefined` is absent (`apiKeys: process.env.KEYS?.split(',')`). */
export interface HttpHandlerOptions {
  /** Accepted keys (`Authorization: Bearer <key>` or `X-API-Key: <key>`); absent: no key check. `/health` and `/metrics` stay public. */
  apiKeys?: readonly string[] | undefined;
  /** Origins allowed to call from a browser (`'*'` for any); absent: no CORS headers. */
  cors?: '*' | readonly string[] | undefined;
  /** Largest request body; a bigger one is answered 413 (default 8 MiB). */
  maxBodyBytes?: number | undefined;
  /** Header carrying the request id, echoed on every answer (default `x-request-id`); `false`: none. */
  requestIdHeader?: string | false | undefined;
  /** Path prefix in front of the routes (e.g. `/api/llm` for a catch-all route); default none. */
  basePath?: string | undefined;
  /** `GET /metrics` answers with this source's text (e.g. the prom-client registry given to `registerPrometheusMetrics`); absent: 404. */
  metrics?: MetricsSource | undefined;
  /** Called once per request when its answer is complete (for a stream: when it ends). */
  onRequest?: ((entry: RequestLogEntry) => void) | undefined;
}

/** The options with every default filled in. */
export type ResolvedHttpOptions = ReturnType<typeof resolveHttpOptions>;

const NO_KEYS = 'must be a non-empty array (omit it to serve without a key check)';
const HEADER = 'must be a header name or false';
const BASE_PATH = "must start with '/' and not end with '/'";
// A request path (a URL's pathname, or a Node request's target) never holds these: such a basePath matched nothing.
const isPathText = (p: string) => /^[\x21-\x7e]*$/.test(p) && !/["#<>?`{}\\]/.test(p);
const PATH_TEXT =
  'must be a path as requests carry it: printable ASCII without spaces or any of ? # " < > ` { } \\ (percent-encode others: %20)';
// Read for the request id, echoed on every answer and logged: a key sent in it would be too.
const KEY_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'cookie']);
const ID_HEADER_KEY =
  'must not be a header that carries a key (authorization, proxy-authorization, x-api-key, cookie)';
// Written by the handler on its answers (or framing them): the request id and such a header would overwrite each other.
const ANSWER_HEADERS = new Set(
  'content-type content-length transfer-encoding connection cache-control x-accel-buffering retry-after vary allow x-mana-llm-resolved'.split(
    ' ',
  ),
);
const writtenByHandler = (h: string) => ANSWER_HEADERS.has(h) || h.startsWith('access-control-');
const ID_HEADER_ANSWER =
  'must not be a header the handler writes on its answers (content-type, content-length, retry-after, vary, allow, x-mana-llm-resolved, access-control-*, …)';
const nonBlank = (k: unknown) => typeof k === 'string' && k.trim() !== '';
// A request presents a key in a header (Latin-1, no control character; keys are compared trimmed): a key holding
// any other character never matched, every request was a 401.
const presentable = (k: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(k.trim());
const NOT_PRESENTABLE =
  'holds a line break, control character or one beyond Latin-1 (such as a zero-width space), so no request can present it: check what was read from a file or variable';
// Matched exactly against the Origin a browser sends (scheme://host[:port], lower case, nothing after): any other
// entry, such as a trailing slash or '*' inside the list, would never match, and that origin's calls would fail.
const isOrigin = (o: string) => o === 'null' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\sA-Z]+$/.test(o);
const ORIGIN =
  "must be an origin as browsers send it (scheme://host[:port], lower case, no path or trailing slash); '*' alone allows any";

const HttpOptionsSchema = v.object({
  apiKeys: v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.custom<string>(nonBlank, 'must be a non-blank string'),
          v.check(presentable, NOT_PRESENTABLE),
        ),
        NO_KEYS,
      ),
      v.minLength(1, NO_KEYS),
    ),
  ),
  cors: v.optional(
    v.union(
      [v.literal('*'), v.array(v.pipe(v.string(), v.check(isOrigin, ORIGIN)))],
      "must be '*' or an array of origins",
    ),
  ),
  maxBodyBytes: v.optional(
    v.custom<number>((n) => Number.isInteger(n) && (n as number) > 0, 'must be a positive integer'),
  ),
  requestIdHeader: v.optional(
    v.union(
      [
        v.literal(false),
        v.pipe(
          v.string(HEADER),
          v.regex(/^[A-Za-z0-9-]+$/, HEADER),
          v.check((h) => !KEY_HEADERS.has(h.toLowerCase()), ID_HEADER_KEY),
          v.check((h) => !writtenByHandler(h.toLowerCase()), ID_HEADER_ANSWER),
        ),
      ],
      HEADER,
    ),
  ),
  basePath: v.optional(
    v.pipe(v.string(BASE_PATH), v.regex(/^(?:|\/.*[^/])$/, BASE_PATH), v.check(isPathText, PATH_TEXT)),
  ),
  metrics: v.optional(
    withMethods<MetricsSource>(['metrics'], 'must have a metrics() method (e.g. a prom-client Registry)'),
  ),
  onRequest: v.optional(v.function('must be a function')),
});

/**
 * Validates the handler options once, when the handler is created.
 * @throws ConfigError listing every problem
 */
export function resolveHttpOptions(options: HttpHandlerOptions = {}) {
  return readingOptions('invalid mana-llm/http options', () => {
    const parsed = v.safeParse(HttpOptionsSchema, options, { abortEarly: false });
    // Unknown keys are listed, not dropped: `apikeys` for `apiKeys` would otherwise serve without a key check.
    const issues = [
      ...(parsed.success ? [] : configIssues(parsed.issues)),
      ...unknownKeys(HttpOptionsSchema, options),
    ];
    if (!parsed.success || issues.length > 0) throw new ConfigError('invalid mana-llm/http options', issues);
    const { cors, requestIdHeader, ...o } = parsed.output;
    return {
      ...o,
      cors: cors === undefined || cors === '*' ? cors : new Set(cors),
      maxBodyBytes: o.maxBodyBytes ?? HTTP_DEFAULTS.maxBodyBytes,
      requestIdHeader:
        requestIdHeader === false
          ? undefined
          : (requestIdHeader ?? HTTP_DEFAULTS.requestIdHeader).toLowerCase(),
      basePath: o.basePath ?? HTTP_DEFAULTS.basePath,
    };
  });
}
