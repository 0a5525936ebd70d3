import { ProviderCapabilityError } from '../errors.js';
import type { Http } from '../wire/http.js';
import { type CallMeta, readCappedBytes } from './upstream.js';

/** Largest remote image inlined for providers that need image bytes (Ollama, Gemini, Anthropic). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** An image as base64 bytes with its media type. */
export interface InlineImage {
  mimeType: string;
  data: string;
}

function incapable(meta: CallMeta, why: string, cause?: unknown): ProviderCapabilityError {
  return new ProviderCapabilityError(`${meta.provider}/${meta.model}: image not usable: ${why}`, {
    provider: meta.provider,
    model: meta.model,
    capability: 'vision',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Turns an image URL into base64 bytes: `data:` URLs are decoded in place, http(s) URLs are fetched with a
 * size limit. An image that cannot be had makes the entry incapable (`ProviderCapabilityError`), so the router
 * skips it instead of silently dropping the image.
 */
export async function loadImage(
  url: string,
  http: Http,
  signal: AbortSignal,
  meta: CallMeta,
): Promise<InlineImage> {
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$/s.exec(url);
    if (!m) throw incapable(meta, 'data: URL is not base64');
    return { mimeType: m[1] ?? 'image/png', data: m[2] ?? '' };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw incapable(meta, 'invalid image URL', err);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw incapable(meta, `unsupported scheme ${u.protocol}`);
  let res: Awaited<ReturnType<Http['send']>>;
  try {
    res = await http.send({
      origin: u.origin,
      path: u.pathname + u.search,
      method: 'GET',
      headers: {},
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw incapable(meta, 'image fetch failed', err);
  }
  const type =
    String(res.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim() ?? '';
  const length = Number(res.headers['content-length'] ?? 0);
  if (res.status !== 200 || !type.startsWith('image/') || length > MAX_IMAGE_BYTES) {
    await res.body.dump().catch(() => undefined);
    throw incapable(
      meta,
      `image fetch answered ${res.status} ${type || 'without a type'}${length > MAX_IMAGE_BYTES ? ' (too large)' : ''}`,
    );
  }
  const bytes = await readCappedBytes(res.body, MAX_IMAGE_BYTES + 1);
  if (bytes.length > MAX_IMAGE_BYTES) throw incapable(meta, 'image larger than 20 MB');
  return { mimeType: type, data: bytes.toString('base64') };
}
