const PATTERNS: readonly [RegExp, string][] = [
  // Authorization: Bearer <token>
  [/\b(bearer)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  // header-ish key: value pairs (x-api-key, x-goog-api-key, api-key, authorization); the value must look like a
  // token (a digit and 6+ chars, or 16+ chars) so prose such as "apiKey: must be a string" stays readable.
  [
    /\b((?:x-goog-api-key|x-api-key|api[-_]?key|authorization)["']?\s*[:=]\s*["']?)(?:(?=[^\s"',;&]*\d)[^\s"',;&]{6,}|[^\s"',;&]{16,})/gi,
    '$1[redacted]',
  ],
  // ?key=... / &key=... query values
  [/([?&](?:key|api_key|apikey|access_token|token)=)[^&\s"'#]+/gi, '$1[redacted]'],
  // well-known key shapes even without a label
  [/\b(sk-(?:ant-|or-|proj-)?[A-Za-z0-9_-]{8,}|gsk_[A-Za-z0-9]{8,}|AIza[0-9A-Za-z_-]{20,})/g, '[redacted]'],
];

/**
 * Strips bearer tokens, api-key headers, `key=` query values and well-known key shapes from text.
 * Extra secrets (the configured keys themselves) are replaced too.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
