function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function seconds(v: string): number | undefined {
  // Gemini's protobuf Duration: "12s", "1.5s"
  const m = /^\s*(\d+(?:\.\d+)?)s?\s*$/.exec(v);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/**
 * Reads a retry hint: `retry-after-ms`, `retry-after` (seconds or HTTP date) or Gemini's `RetryInfo.retryDelay`.
 * Always a safe integer (`1e300` or a 400-digit delay would be Infinity); the router caps it at
 * `limits.maxRetryAfterMs`.
 */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  json: unknown,
  now: number,
): number | undefined {
  const hint = readRetryAfter(headers, json, now);
  return hint === undefined ? undefined : Math.min(hint, Number.MAX_SAFE_INTEGER);
}

function readRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  json: unknown,
  now: number,
): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Math.round(Number(ms));
  const ra = header(headers, 'retry-after');
  if (ra !== undefined) {
    const s = seconds(ra);
    if (s !== undefined) return s;
    const at = Date.parse(ra);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const details = (json as { error?: { details?: unknown } } | null)?.error?.details;
  if (Array.isArray(details)) {
    for (const d of details) {
      const rec = d as { '@type'?: unknown; retryDelay?: unknown };
      if (
        typeof rec['@type'] === 'string' &&
        rec['@type'].endsWith('RetryInfo') &&
        typeof rec.retryDelay === 'string'
      ) {
        return seconds(rec.retryDelay);
      }
    }
  }
  return undefined;
}
