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
  // A terminal escape (`ESC[31m`) glued to a key would hide where the key starts from the patterns' `\b`.
  let out = text.replace(ESCAPE, ' ');
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  for (const s of secrets) if (s.length >= 4) out = out.replace(secretPattern(s), '[redacted]');
  return out;
}

/** Each secret's pattern, built once (the secrets are the configured ones: a few, fixed). */
const SECRET_PATTERNS = new Map<string, RegExp>();

/**
 * A configured secret as an upstream may echo it: each character as is, JSON-escaped (`\u0073`, `\/`) or
 * URL-encoded (`%73`, `%C3%A9`); an escape hid the key from a plain text search. Case-insensitive, for the escapes'
 * hex digits (a case variant of the key is redacted too: never less than the key).
 */
function secretPattern(secret: string): RegExp {
  let re = SECRET_PATTERNS.get(secret);
  if (re !== undefined) return re;
  let source = '';
  for (const c of secret) {
    const alts = [
      c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'),
      // JSON-escaped: each UTF-16 unit (a character beyond the BMP is a surrogate pair); URL-encoded: each UTF-8 byte.
      c
        .split('')
        .map((u) => `\\\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`)
        .join(''),
      Array.from(Buffer.from(c), (b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
    ];
    if (c === '/') alts.push('\\\\/');
    source += `(?:${alts.join('|')})`;
  }
  re = new RegExp(source, 'gi');
  if (SECRET_PATTERNS.size >= 256) SECRET_PATTERNS.clear();
  SECRET_PATTERNS.set(secret, re);
  return re;
}

/** Terminal escape sequences: CSI (`ESC[…m`) and OSC (`ESC]…BEL`). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding escape sequences is this pattern's purpose
const ESCAPE = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?)/g;
/** C0 and C1 control characters, DEL, and the bidirectional overrides and isolates that reorder what is shown. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g;
/** Where a token ends for the redaction patterns above: white space, a control character, a quote, `,;&`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters end a token
const TOKEN_END = /[\u0000-\u0020\u007f-\u00a0"',;&\u2028\u2029\u3000]/;

/**
 * Text from an upstream or a caller made fit for an error message: at most `max` characters (then `…`), secrets
 * redacted, control characters and runs of white space folded to one space. The text is cut first, so the cost
 * is bounded by `max` whatever its length; a token cut in two is dropped whole, so no key escapes redaction by
 * being cut.
 */
export function cleanText(text: string, max: number, secrets: readonly string[] = []): string {
  // Room for folding white space and for redaction markers, still a small multiple of `max`.
  const window = 4 * max + Math.max(0, ...secrets.map((s) => s.length)) + 64;
  let t = text;
  let cut = false;
  if (t.length > window) {
    t = t.slice(0, window);
    let end = t.length;
    while (end > 0 && !TOKEN_END.test(t.charAt(end - 1))) end--;
    t = t.slice(0, end);
    cut = true;
  }
  t = redact(t, secrets).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  if (t.length > max) return `${t.slice(0, max)}…`;
  return cut ? `${t}…` : t;
}

/** A thrown value's text for a message or a log line: `textOf` cleaned (`cleanText`) to `max` characters. */
export function thrownText(err: unknown, max = 200, secrets: readonly string[] = []): string {
  return cleanText(textOf(err), max, secrets);
}

/** The issue of a caller's object whose getter or proxy trap threw while it was read (any value, any text). */
export const cannotRead = (err: unknown): string => `cannot be read: ${thrownText(err)}`;

/**
 * The text of a thrown or rejected value (an Error's message, else the value as a string) that never throws itself:
 * a caller's abort reason or a listener's throw can be `Object.create(null)`, which `String()` refuses.
 */
export function textOf(err: unknown): string {
  try {
    const text = err instanceof Error ? err.message : err;
    return typeof text === 'string' ? text : String(text);
  } catch {
    return '(a value with no text form)';
  }
}
