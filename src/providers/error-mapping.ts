import {
  bareNotFound,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
} from '../errors.js';
import { cleanText } from '../redact.js';
import type { CancelSignal } from '../wire/cancel.js';
import type { HttpResponse } from '../wire/http.js';
import { WireLimitError } from '../wire/limits.js';
import { saysContextLength } from './context-length.js';
import type { CallMeta } from './endpoint.js';
import { type JsonObject, jsonObjectIn } from './json-shapes.js';
import { parseRetryAfter } from './retry-after.js';

/** What an upstream's failure becomes: the typed errors of the fallback table, never showing a secret. */

/** The call an error is about; the model (and a path built from it) is the caller's text, so it is cleaned too. */
function callLabel(meta: CallMeta): string {
  const path = meta.path.split('?')[0] as string;
  return `${meta.provider}/${cleanText(meta.model, 200)} ${meta.method} ${cleanText(path, 300)}`;
}

/** The caller's request cannot be expressed to this provider: the 400 it would have answered, without calling it. */
export function callerError(meta: CallMeta, what: string): ProviderHTTPError {
  return new ProviderHTTPError(`${callLabel(meta)}: ${what}`, { ...info(meta), status: 400 });
}

/** Upstream text as it may enter an error: cut to `max` characters, cleaned, the provider's secrets redacted. */
function clip(text: string, meta: CallMeta, max = 300): string {
  return cleanText(text, max, meta.secrets);
}

/** An upstream's reason word (`blockReason`, `finishReason`) as it may enter an error: an enum word, never longer. */
export const reasonText = (raw: string, meta: CallMeta): string => clip(raw, meta, 64);

/** The provider's filters withheld the answer; `reason` is the upstream's word. */
export function blockedError(meta: CallMeta, what: string, reason: string): ProviderBlockedError {
  const clean = reasonText(reason, meta);
  return new ProviderBlockedError(`${callLabel(meta)}: ${what} (${clean})`, { ...info(meta), reason: clean });
}

/** What every provider error carries about its call. */
function info(meta: CallMeta) {
  return { provider: meta.provider, model: meta.model };
}

/**
 * Maps a transport failure (undici error codes, never message text) to a typed error; a body or frame past its
 * cap, or bytes that are not HTTP, is the provider's bad response, not a connection failure. An error already typed
 * (a stream reader's bad frame or in-band error) is returned as it is.
 */
export function networkError(err: unknown, signal: CancelSignal, meta: CallMeta): unknown {
  if (err instanceof ProviderError) return err;
  if (signal.aborted) return signal.reason;
  if (err instanceof WireLimitError) return badResponse(meta, err.message);
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } } | undefined;
  // undici's HTTPParserError (an invalid status line, header or chunk framing) carries no code in undici 7.
  if (e?.name === 'HTTPParserError' || (typeof e?.code === 'string' && e.code.startsWith('HPE_')))
    return badResponse(meta, `malformed HTTP reply: ${cleanText(e.message ?? '', 200)}`, causeOf(err));
  const code = e?.code ?? e?.cause?.code ?? 'UNKNOWN';
  const msg = `${callLabel(meta)}: ${code}`;
  if (/^(UND_ERR_(CONNECT|HEADERS|BODY)_TIMEOUT|ETIMEDOUT)$/.test(code))
    return new ProviderTimeoutError(`${msg} (timed out)`, { ...info(meta), cause: err });
  return new ProviderConnectionError(`${msg} (connection failed)`, { ...info(meta), cause: causeOf(err) });
}

/**
 * undici's HTTPParserError keeps the raw bytes it could not parse in `data`: whatever the upstream sent, keys it
 * echoed included, of any size. The cause keeps its name, code and message, not the bytes.
 */
function causeOf(err: unknown): unknown {
  if (!(err instanceof Error) || !('data' in err)) return err;
  const code = (err as { code?: unknown }).code;
  return Object.assign(new Error(cleanText(err.message, 300)), {
    name: err.name,
    ...(typeof code === 'string' ? { code } : {}),
  });
}

/** The message an upstream error body carries, or the body itself. */
function errorBodyMessage(json: JsonObject | undefined, text: string): string {
  const err = json?.error;
  if (typeof err === 'string') return err;
  const m = (err as { message?: unknown } | null)?.message ?? json?.message;
  return typeof m === 'string' ? m : text;
}

/**
 * Maps a non-2xx HTTP status (with its headers and body text) to the typed error of the fallback table. `now` is the
 * client's clock, which a `retry-after` HTTP date is read against (an in-band error has no headers).
 */
export function errorFromStatus(
  status: number,
  headers: HttpResponse['headers'],
  text: string,
  meta: CallMeta,
  now = Date.now(),
): ProviderError {
  // A body that is not a JSON object says nothing but its text.
  const json = jsonObjectIn(text);
  const message = errorBodyMessage(json, text);
  const msg = `${callLabel(meta)} → HTTP ${status}: ${clip(message, meta)}`;
  const about = { ...info(meta), status };
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers, json, now);
    return new ProviderRateLimitError(msg, { ...about, retryAfterMs });
  }
  const e = json?.error as
    | { code?: unknown; type?: unknown; status?: unknown; metadata?: unknown; details?: unknown }
    | null
    | undefined;
  const blocked = [e?.code, e?.type].find((v) => typeof v === 'string' && BLOCKED.has(v));
  if (typeof blocked === 'string') return new ProviderBlockedError(msg, { ...about, reason: blocked });
  // OpenRouter answers a prompt its moderation flagged with 403 and the reasons: not a wrong key.
  const flagged = (e?.metadata as { reasons?: unknown } | null | undefined)?.reasons;
  if (status === 403 && Array.isArray(flagged)) {
    const reason = reasonText(flagged.filter((r) => typeof r === 'string').join(', ') || 'moderation', meta);
    return new ProviderBlockedError(msg, { ...about, reason });
  }
  // Gemini answers a wrong key with 400 INVALID_ARGUMENT + reason API_KEY_INVALID: an auth error, not the caller's.
  const keyInvalid =
    Array.isArray(e?.details) &&
    e.details.some((d) => (d as { reason?: unknown } | null)?.reason === 'API_KEY_INVALID');
  if (status === 401 || status === 403 || keyInvalid) return new ProviderAuthError(msg, about);
  const said = message.slice(0, 1000);
  if (status === 400) {
    // Ollama cannot tell in advance which of its models handle tools, nor can a client tell whether a vLLM server
    // was started with tool calling; each answers a 400 when it cannot.
    if (NO_TOOLS.test(said)) return new ProviderCapabilityError(msg, { ...about, capability: 'tools' });
    // A model the provider retired or does not know, told with a code (Groq's `model_decommissioned`): the
    // fallback table's 404 (the message keeps the status the upstream sent).
    if (e?.code === 'model_decommissioned' || e?.code === 'model_not_found')
      return new ProviderHTTPError(msg, { ...about, status: 404 });
  }
  const contextLength = saysContextLength(status, json);
  const outage = status === 400 && (e?.status === 'FAILED_PRECONDITION' || ACCOUNT.test(said));
  const err = new ProviderHTTPError(msg, { ...about, contextLength, outage });
  if (status === 404 && message === text) bareNotFound.add(err);
  return err;
}

/**
 * A capability the model or server lacks: Ollama's "registry.ollama.ai/library/gemma3:4b does not support tools",
 * vLLM's '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'.
 */
const NO_TOOLS = /\bdoes not support tools\b|\btool choice requires --enable-auto-tool-choice\b/i;

/**
 * What some providers answer with a 400 although it is about the account, not the request, so the provider's outage
 * like a 402: Anthropic's account out of credits or over its spend limit (told apart only by its text), and Gemini's
 * `FAILED_PRECONDITION` (billing not enabled, free tier not offered in the region).
 */
const ACCOUNT = /\bcredit balance is too low\b|\breached your specified API usage limits\b/i;

const BLOCKED = new Set(['content_filter', 'content_policy_violation', 'moderation_blocked']);

/**
 * Well-known in-band error words (a `type`, `code` or `status`, in any case) and the HTTP status each stands for;
 * the first row that matches wins.
 */
const IN_BAND_STATUS: [number, string[]][] = [
  [429, ['rate_limit_error', 'rate_limit_exceeded', 'resource_exhausted', 'insufficient_quota', 'tokens']],
  [
    401,
    ['authentication_error', 'permission_error', 'invalid_api_key', 'permission_denied', 'unauthenticated'],
  ],
  [402, ['billing_error']],
  [404, ['not_found_error', 'model_not_found', 'model_decommissioned', 'not_found']],
  [413, ['request_too_large']],
  [400, ['invalid_request_error', 'invalid_argument', 'context_length_exceeded', 'bad_request', ...BLOCKED]],
  [
    503,
    [
      'overloaded_error',
      'api_error',
      'server_error',
      'internal_error',
      'internal',
      'unavailable',
      'service_unavailable',
      'timeout_error',
    ],
  ],
];

/**
 * Classifies an error reported inside a 200 (a JSON `error` object, an SSE/NDJSON error frame) by the same
 * table as HTTP statuses: a numeric code is treated as a status, well-known type strings map to their class.
 */
export function errorFromInBand(raw: unknown, meta: CallMeta): ProviderError {
  const err = walkable(raw);
  const e = (typeof err === 'string' ? { message: err } : (err ?? {})) as JsonObject;
  // An error event without its error object (Anthropic's `{"type":"error"}`) has nothing more to say.
  const text = typeof e.message === 'string' ? e.message : (JSON.stringify(err) ?? 'no details');
  // Keep type/code in the body so errorFromStatus can still spot a safety block.
  const body = JSON.stringify({ error: { ...e, message: text } });
  // NaN when neither is a number or a three-digit text.
  const status = Number(
    [e.code, e.status].find((v) => typeof v === 'number' || (typeof v === 'string' && /^\d{3}$/.test(v))),
  );
  if (status >= 400 && status < 600) return errorFromStatus(status, {}, JSON.stringify({ error: err }), meta);
  const kinds = [e.type, e.code, e.status]
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.toLowerCase());
  const row = IN_BAND_STATUS.find(([, words]) => kinds.some((k) => words.includes(k)));
  if (row) return errorFromStatus(row[0], {}, body, meta);
  return new ProviderResponseError(
    `${callLabel(meta)}: upstream error in a 200 reply: ${clip(text, meta)}`,
    info(meta),
  );
}

/**
 * An in-band error as JSON.stringify can write it: one nested deeper than it can walk (a RangeError; a reply within
 * its size bound can hold millions of levels) keeps only its top-level fields that are not objects, where its code,
 * type and message are, so it is still classified.
 */
function walkable(err: unknown): unknown {
  try {
    JSON.stringify(err);
    return err;
  } catch {
    const flat = Object.entries(err as JsonObject).filter(([, v]) => v === null || typeof v !== 'object');
    return Object.fromEntries(flat);
  }
}

/** A malformed or unparseable upstream reply. */
export function badResponse(meta: CallMeta, what: string, cause?: unknown): ProviderResponseError {
  return new ProviderResponseError(`${callLabel(meta)}: ${what}`, { ...info(meta), cause });
}

/** Parses JSON from an upstream (with `JSON.parse` or the given parser), turning garbage into a `ProviderResponseError`. */
export function parseJson(
  text: string,
  meta: CallMeta,
  what = 'unparseable JSON reply',
  parser?: { parse(text: string): unknown },
): unknown {
  try {
    return parser ? parser.parse(text) : JSON.parse(text);
  } catch (err) {
    throw badResponse(meta, `${what}: ${clip(text, meta, 120)}`, parseErrorCause(err, meta));
  }
}

/**
 * V8 quotes the start of the unparseable text in a SyntaxError (`"sk-proj-ab"...`): an upstream that echoes a key
 * would put it, whole or in part, into the error's cause. Keep the reason and position, drop the quoted text.
 */
function parseErrorCause(err: unknown, meta: CallMeta): unknown {
  if (!(err instanceof SyntaxError)) return err;
  const message = cleanText(err.message, 500, meta.secrets).replace(
    /, (?:\.\.\.)?".*?"(?:\.\.\.)?(?= is not valid JSON)/s,
    '',
  );
  return new SyntaxError(message);
}
