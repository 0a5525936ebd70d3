import { HTTP_DEFAULTS } from '../options.js';

/** Headers a browser may read from an answer. */
const EXPOSED = 'x-mana-llm-resolved, x-request-id, retry-after';

/** The CORS headers for a request from `origin` (none when CORS is off or the origin is not allowed). */
export function corsHeaders(
  cors: '*' | ReadonlySet<string> | undefined,
  origin: string | undefined,
): Record<string, string> {
  if (cors === undefined || origin === undefined) return {};
  if (cors === '*') return { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED };
  if (!cors.has(origin)) return { vary: 'Origin' };
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': EXPOSED,
    vary: 'Origin',
  };
}

/** The extra headers of a preflight answer for an allowed origin. */
export function preflightHeaders(requestedHeaders: string | undefined): Record<string, string> {
  return {
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    // Echo what the browser asks for (the OpenAI SDKs send several x-stainless-* headers); a fixed list otherwise.
    'access-control-allow-headers':
      requestedHeaders?.slice(0, 2048) || 'authorization, content-type, x-api-key',
    'access-control-max-age': String(HTTP_DEFAULTS.corsMaxAgeSeconds),
  };
}
