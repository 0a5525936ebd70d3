import type { HttpResponse } from '../wire/http.js';

function header(headers: HttpResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Milliseconds, always a safe integer: `1e300` or a 400-digit delay would be Infinity. */
const ms = (n: number): number => Math.min(Math.round(n), Number.MAX_SAFE_INTEGER);

function seconds(v: string): number | undefined {
  // Gemini's protobuf Duration: "12s", "1.5s"
  const m = /^\s*(\d+(?:\.\d+)?)s?\s*$/.exec(v);
  return m ? ms(Number(m[1]) * 1000) : undefined;
}

/**
 * An HTTP date (RFC 9110: IMF-fixdate, RFC 850 or asctime) starts with a day name and holds a time of day. Checked
 * before `Date.parse`, which reads almost anything ('-1', 'later 5') as a date in 2001: a hint of 0 ms.
 */
const HTTP_DATE = /^\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s.*\b\d\d:\d\d:\d\d\b/i;

/**
 * Reads a retry hint: `retry-after-ms`, `retry-after` (seconds or HTTP date) or Gemini's `RetryInfo.retryDelay`.
 * Always a safe integer; the router caps it at `limits.maxRetryAfterMs`.
 */
export function parseRetryAfter(
  headers: HttpResponse['headers'],
  json: unknown,
  now: number,
): number | undefined {
  const raw = header(headers, 'retry-after-ms');
  // Number('') and Number(' ') are 0: a blank header is no hint.
  const after = raw?.trim() ? Number(raw) : Number.NaN;
  if (Number.isFinite(after) && after >= 0) return ms(after);
  const ra = header(headers, 'retry-after');
  if (ra !== undefined) {
    const s = seconds(ra);
    if (s !== undefined) return s;
    // Date.parse is at most 8.64e15: a safe integer. asctime (`Sun Nov  6 08:49:37 1994`) names no zone, and
    // Date.parse would read it as local time: HTTP dates are always GMT.
    const at = HTTP_DATE.test(ra) ? Date.parse(/\d{4}\s*$/.test(ra) ? `${ra} GMT` : ra) : Number.NaN;
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const details = (json as { error?: { details?: unknown } } | null)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  // An entry may be anything an upstream sends (null included).
  const info = details.find(
    (d: { '@type'?: unknown; retryDelay?: unknown } | null) =>
      typeof d?.['@type'] === 'string' &&
      d['@type'].endsWith('RetryInfo') &&
      typeof d.retryDelay === 'string',
  );
  return info === undefined ? undefined : seconds(info.retryDelay);
}
