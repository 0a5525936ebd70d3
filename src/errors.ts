import { brand, type ErrorCode, isManaLLMError, ManaLLMError } from './error-base.js';
import { cleanText } from './redact.js';

/** The whole error family: the base class (error-base.ts) and every error mana-llm throws. Import any of them from here. */
export { type ErrorCode, isManaLLMError, ManaLLMError };

/** One validation problem: where it is and what rule it breaks. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** One step of a chain walk, as reported in `routing.attempts` and `NoHealthyProviderError.attempts`. */
export interface Attempt {
  readonly target: string;
  readonly reason: AttemptReason;
  readonly status?: number;
  readonly durationMs?: number;
  readonly error?: ManaLLMError;
}

/** Why a chain entry was skipped, failed or served. */
export type AttemptReason =
  | 'ok'
  | 'unconfigured'
  | 'unhealthy'
  | 'breaker-open'
  | 'cooling'
  | 'saturated'
  | 'capability'
  | 'dimensions'
  | 'model-not-found'
  | 'connection'
  | 'timeout'
  | 'http-error'
  | 'rate-limited'
  | 'auth'
  | 'bad-response'
  | 'blocked'
  | 'caller-error'
  | 'context-length'
  | 'deadline'
  | 'hedged-out';

/** Invalid options given to `createManaLLM`; `issues` lists every problem with its path. */
export class ConfigError extends ManaLLMError {
  readonly issues: readonly ConfigIssue[];
  constructor(
    message: string,
    issues: readonly ConfigIssue[] = [],
    options?: ErrorOptions,
    code: ErrorCode = 'CONFIG',
  ) {
    super(code, summarize(message, issues), 500, false, options);
    this.issues = issues;
  }
}

/** Invalid, missing or unreadable aliases file or object; `issues` lists every problem with its path. */
export class AliasConfigError extends ConfigError {
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: ErrorOptions) {
    super(message, issues, options, 'ALIAS_CONFIG');
  }
}

/**
 * A caller's model string in a message, cleaned as any text from outside is (cut to 200 characters, key shapes
 * redacted, control characters replaced: a line break would forge a log line); the error's own field keeps it whole.
 */
export function cutModel(s: string): string {
  return cleanText(s, 200);
}

/** Most issues a message lists (`issues` keeps all); one more is shown, not said (an aliases file's capped list). */
const SHOWN_ISSUES = 100;

function summarize(message: string, issues: readonly ConfigIssue[]): string {
  if (issues.length === 0) return message;
  const shown = issues.length > SHOWN_ISSUES + 1 ? issues.slice(0, SHOWN_ISSUES) : issues;
  const lines = shown.map((i) => `  - ${i.path || '(root)'}: ${i.message}`);
  if (shown !== issues) lines.push(`  - and ${issues.length - SHOWN_ISSUES} more issue(s) not shown`);
  return `${message}:\n${lines.join('\n')}`;
}

/**
 * The caller's request is malformed, or building the upstream request from its content failed (too deep, too big,
 * an unusable image): raised before any I/O, never falls back, never touches health. `issues` lists each problem
 * with its path (`messages[2].role`).
 */
export class InvalidRequestError extends ManaLLMError {
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: ErrorOptions) {
    super('INVALID_REQUEST', summarize(message, issues), 400, false, options);
    this.issues = issues;
  }
}

/** A `mana/<x>` model that no alias defines; `suggestion` is a defined alias close to it (a typo), if one is. */
export class UnknownAliasError extends ManaLLMError {
  readonly alias: string;
  constructor(alias: string, suggestion?: string) {
    const hint = suggestion === undefined ? '' : `: did you mean "${suggestion}"?`;
    super('UNKNOWN_ALIAS', `Unknown model alias "${cutModel(alias)}"${hint}`, 404, false);
    this.alias = alias;
  }
}

/** Nothing in the chain could serve the request. */
export class NoHealthyProviderError extends ManaLLMError {
  readonly requested: string;
  readonly attempts: readonly Attempt[];
  readonly retryAfterMs?: number;
  constructor(
    requested: string,
    attempts: readonly Attempt[],
    info: { retryAfterMs?: number | undefined; cause?: unknown; keyless?: readonly string[] } = {},
  ) {
    const tried =
      attempts.map((a) => `${cutModel(a.target)} (${why(a, info.keyless)})`).join(', ') || 'empty chain';
    super(
      'NO_HEALTHY_PROVIDER',
      `No provider could serve "${cutModel(requested)}": ${tried}`,
      503,
      true,
      info,
    );
    this.requested = requested;
    this.attempts = attempts;
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs;
  }
}

/** Internal: 404s whose body had no error message (`404 page not found`): likely a wrong `baseUrl` path. */
export const bareNotFound = new WeakSet<ManaLLMError>();

/**
 * An attempt's reason as a message shows it (fixed words: `mana-llm/http` serves it): an `unconfigured` entry says
 * what its provider lacks, a bare 404 that it was not a model error.
 */
function why(a: Attempt, keyless: readonly string[] | undefined): string {
  if (a.error !== undefined && bareNotFound.has(a.error))
    return `${a.reason}: a bare HTTP 404, not a model error; check the baseUrl path`;
  if (a.reason !== 'unconfigured' || keyless === undefined) return a.reason;
  const provider = a.target.slice(0, a.target.indexOf('/'));
  return keyless.includes(provider) ? 'unconfigured: no API key' : 'unconfigured: not in providers';
}

/** The client was closed. */
export class ClosedError extends ManaLLMError {
  constructor() {
    super('CLOSED', 'This mana-llm client is closed', 503, false);
  }
}

/** Where a provider error happened. */
interface ProviderErrorInfo {
  provider: string;
  model: string;
  status?: number;
  cause?: unknown;
}

/** A failure talking to one provider. */
export class ProviderError extends ManaLLMError {
  readonly provider: string;
  readonly model: string;
  readonly status?: number;
  constructor(
    code: ErrorCode,
    message: string,
    info: ProviderErrorInfo,
    httpStatus: number,
    retryable: boolean,
  ) {
    super(code, message, httpStatus, retryable, info);
    this.provider = info.provider;
    this.model = info.model;
    if (info.status !== undefined) this.status = info.status;
  }
}

/** Connection refused/reset, DNS failure, TLS failure or a socket closed early. */
export class ProviderConnectionError extends ProviderError {
  constructor(message: string, info: ProviderErrorInfo) {
    super('PROVIDER_CONNECTION', message, info, 502, true);
  }
}

/** Connect, request, first-chunk or idle timeout. */
export class ProviderTimeoutError extends ProviderError {
  constructor(message: string, info: ProviderErrorInfo) {
    super('PROVIDER_TIMEOUT', message, info, 502, true);
  }
}

/** 4xx answers that are the provider's problem, not the caller's: 402 (out of credits), 408, Groq's 498 (capacity). */
const THEIRS_4XX = new Set([402, 408, 498]);

/**
 * A non-2xx HTTP answer: 5xx and 3xx (never followed) are retryable (502 to the caller), 404 falls through, other
 * 4xx are the caller's.
 * `contextLength`: the 4xx says the prompt is too long for this model; a later chain entry may have a bigger window.
 * `outage`: the provider's problem whatever the status (a 400 about the account: Anthropic's credits, Gemini's
 * billing).
 */
export class ProviderHTTPError extends ProviderError {
  readonly contextLength?: true;
  constructor(
    message: string,
    info: ProviderErrorInfo & { status: number; contextLength?: boolean; outage?: boolean },
  ) {
    const { status } = info;
    const theirs = info.outage === true || status < 400 || status >= 500 || THEIRS_4XX.has(status);
    super('PROVIDER_HTTP', message, info, theirs ? 502 : status, theirs || status === 404);
    if (info.contextLength === true && !theirs) this.contextLength = true;
  }
}

/** HTTP 429 (or an in-band rate-limit error); `retryAfterMs` when the provider said how long to wait. */
export class ProviderRateLimitError extends ProviderError {
  readonly retryAfterMs?: number;
  constructor(message: string, info: ProviderErrorInfo & { retryAfterMs?: number | undefined }) {
    super('PROVIDER_RATE_LIMIT', message, info, 429, true);
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs;
  }
}

/** HTTP 401/403: a wrong or missing key. */
export class ProviderAuthError extends ProviderError {
  constructor(message: string, info: ProviderErrorInfo) {
    super('PROVIDER_AUTH', message, info, 502, false);
  }
}

/** The provider cannot do what the request needs (tools, images, JSON schema, embeddings). */
export class ProviderCapabilityError extends ProviderError {
  readonly capability: string;
  constructor(message: string, info: ProviderErrorInfo & { capability: string }) {
    super('PROVIDER_CAPABILITY', message, info, 400, false);
    this.capability = info.capability;
  }
}

/** The provider's safety filter blocked the prompt or the answer. */
export class ProviderBlockedError extends ProviderError {
  readonly reason: string;
  constructor(message: string, info: ProviderErrorInfo & { reason: string }) {
    super('PROVIDER_BLOCKED', message, info, 422, false);
    this.reason = info.reason;
  }
}

/** An unparseable or malformed upstream reply, or an error reported inside a 200. */
export class ProviderResponseError extends ProviderError {
  constructor(message: string, info: ProviderErrorInfo) {
    super('PROVIDER_RESPONSE', message, info, 502, true);
  }
}

/** What a stream had delivered when it broke after commit. */
export interface StreamPartial {
  /** The text handed out, at most its last `limits.maxPartialChars` characters. */
  readonly content: string;
  /** The refusal text streamed so far, when the model refused (OpenAI `delta.refusal`). */
  readonly refusal?: string;
  readonly toolCalls: readonly { index: number; id?: string; name?: string; arguments: string }[];
  /** Present (true) when the stream handed out more than was kept. */
  readonly truncated?: true;
}

/** A stream failed after its first content chunk reached the caller; no fallback happens past that point. */
export class StreamInterruptedError extends ProviderError {
  readonly resolved: string;
  readonly partial: StreamPartial;
  constructor(message: string, info: ProviderErrorInfo & { resolved: string; partial: StreamPartial }) {
    super('STREAM_INTERRUPTED', message, info, 502, false);
    this.resolved = info.resolved;
    this.partial = info.partial;
  }
}

brand({
  ManaLLMError,
  ConfigError,
  AliasConfigError,
  InvalidRequestError,
  UnknownAliasError,
  ProviderError,
  ProviderConnectionError,
  ProviderTimeoutError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderAuthError,
  ProviderCapabilityError,
  ProviderBlockedError,
  ProviderResponseError,
  StreamInterruptedError,
  NoHealthyProviderError,
  ClosedError,
});
