import type { CancelSignal } from '../wire/cancel.js';
import type { BodyLimit, Http, HttpBody, HttpRequest, HttpResponse } from '../wire/http.js';
import type { CallMeta } from './endpoint.js';
import { errorFromStatus, networkError } from './error-mapping.js';

/**
 * Sends a request and returns a 2xx response; anything else is thrown as the typed error of the fallback table.
 * When the request's signal aborted, its reason is rethrown untouched so the router can tell timeouts from
 * the caller's own abort.
 */
export async function send(http: Http, req: HttpRequest, meta: CallMeta): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await http.send(req);
  } catch (err) {
    throw networkError(err, req.signal, meta);
  }
  if (res.status >= 200 && res.status < 300) return res;
  const text = await readCapped(res.body, http.limits.maxErrorBodyBytes).catch(() => '');
  throw errorFromStatus(res.status, res.headers, text, meta);
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

/** Reads at most `max` bytes of a body, then destroys the rest. */
export async function readCappedBytes(body: HttpBody, max: number): Promise<Buffer> {
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
  const all = Buffer.concat(parts);
  return all.length > max ? all.subarray(0, max) : all;
}

/** Reads at most `max` bytes of a body as UTF-8 text. */
export async function readCapped(body: HttpBody, max: number): Promise<string> {
  return (await readCappedBytes(body, max)).toString('utf8');
}
