import { cleanText, redact, thrownText } from './redact.js';

/**
 * `instanceof` and `isManaLLMError()` across copies of the package in one process: an app that loads the ESM build
 * and a dependency that loads the CommonJS build (or two versions) get distinct classes. Each class's prototype
 * carries a registered-symbol tag with its own name; a check first asks the real prototype chain (the fast, usual
 * case), then looks for the class's tag anywhere on the value's prototype chain (as ky, cockatiel and the AI SDK do).
 */
const TAG = Symbol.for('mana-llm.error-class');

type Tagged = { readonly [TAG]?: string };

/** Names each class's prototype (literal, minifier-proof): `name`, as the built-in errors do, and the tag. */
export function brand(classes: Record<string, abstract new (...args: never[]) => Error>): void {
  for (const [name, C] of Object.entries(classes)) {
    Object.defineProperty(C.prototype, 'name', { value: name, writable: true, configurable: true });
    Object.defineProperty(C.prototype, TAG, { value: name });
  }
}

/** Every error code the library raises. */
export type ErrorCode =
  | 'CONFIG'
  | 'INVALID_REQUEST'
  | 'ALIAS_CONFIG'
  | 'UNKNOWN_ALIAS'
  | 'PROVIDER_CONNECTION'
  | 'PROVIDER_TIMEOUT'
  | 'PROVIDER_HTTP'
  | 'PROVIDER_RATE_LIMIT'
  | 'PROVIDER_AUTH'
  | 'PROVIDER_CAPABILITY'
  | 'PROVIDER_BLOCKED'
  | 'PROVIDER_RESPONSE'
  | 'STREAM_INTERRUPTED'
  | 'NO_HEALTHY_PROVIDER'
  | 'CLOSED';

/** Base class of every error mana-llm throws. */
export class ManaLLMError extends Error {
  /** `instanceof` any mana-llm error class also recognises errors from another copy of the package (ESM/CJS). */
  static override [Symbol.hasInstance]<C extends abstract new (...args: never[]) => unknown>(
    this: C,
    x: unknown,
  ): x is InstanceType<C> {
    if (typeof x !== 'object' || x === null) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, a subclass too.
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    // A user's subclass carries no tag of its own: it keeps plain `instanceof`.
    // biome-ignore lint/complexity/noThisInStatic: as above
    const proto = this.prototype as Tagged;
    const tag = Object.hasOwn(proto, TAG) ? proto[TAG] : undefined;
    if (tag === undefined) return false;
    for (let p = Object.getPrototypeOf(x) as Tagged | null; p !== null; p = Object.getPrototypeOf(p)) {
      if (Object.hasOwn(p, TAG) && p[TAG] === tag) return true;
    }
    return false;
  }

  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryable: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    httpStatus: number,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(redact(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
  }

  /** A plain, key-free object for logs and `JSON.stringify`. */
  toJSON(): Record<string, unknown> {
    return jsonOf(this, new Set());
  }
}

/** `toJSON` of `err`; a mana-llm cause already in `seen` (a cyclic chain) is shown short, as a foreign one is. */
function jsonOf(err: ManaLLMError, seen: Set<unknown>): Record<string, unknown> {
  seen.add(err);
  const out: Record<string, unknown> = {
    name: err.name,
    code: err.code,
    message: err.message,
    httpStatus: err.httpStatus,
    retryable: err.retryable,
  };
  for (const [k, v] of Object.entries(err)) {
    if (!(k in out) && k !== 'cause' && k !== 'stack') out[k] = v;
  }
  const { cause } = err;
  if (cause === undefined) return out;
  if (cause instanceof ManaLLMError && !seen.has(cause))
    out.cause = baseToJSON(cause) ? jsonOf(cause, seen) : cause.toJSON();
  else out.cause = cause instanceof Error ? shortCause(cause) : undefined;
  return out;
}

/**
 * True when `err`'s `toJSON` is the base class's, from this copy of the package or another (ESM and CJS): it is then
 * run here with the same `seen`, as another copy's would start afresh and a loop through both copies never end.
 */
function baseToJSON(err: ManaLLMError): boolean {
  for (let p = Object.getPrototypeOf(err) as Tagged | null; p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, 'toJSON')) return Object.hasOwn(p, TAG) && p[TAG] === 'ManaLLMError';
  }
  return false;
}

/**
 * A foreign cause as `toJSON` shows it: its name and message cleaned and cut as any thrown text is (a custom
 * adapter's error may hold megabytes, a non-string message or a throwing getter; `JSON.stringify` must not throw).
 */
function shortCause(cause: Error): { name: string; message: string } {
  let name = 'Error';
  try {
    if (typeof cause.name === 'string') name = cleanText(cause.name, 100);
  } catch {}
  return { name, message: thrownText(cause, 500) };
}

/** True when `e` is any error raised by mana-llm, from this copy of the package or another (ESM and CJS). */
export function isManaLLMError(e: unknown): e is ManaLLMError {
  return e instanceof ManaLLMError;
}
