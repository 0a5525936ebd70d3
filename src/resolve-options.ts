import * as v from 'valibot';
import { ALIAS_PROVIDER } from './aliases/model-string.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { shown } from './issue-list.js';
import {
  DEFAULT_LIMITS,
  DEFAULTS,
  type ManaLLMOptions,
  type ResolvedOptions,
  type ResolvedProvider,
} from './options.js';
import { OptionsSchema, ProviderSchema } from './options-schema.js';
import { lacksKey, type ProviderType, WELL_KNOWN } from './providers/registry.js';
import { cannotRead } from './redact.js';
import { configIssues, issuePath, unknownKeys } from './unknown-keys.js';

const PROVIDER_ID = /^[a-z0-9][a-z0-9._-]*$/;

// What undici accepts in a header (RFC 9110 field-value, token): anything else failed every call as a
// connection error counted against the provider's health. The issue names the path, never the value (a key).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NOT_A_HEADER =
  'contains a character an HTTP header cannot carry (a line break or control character, or one beyond Latin-1): trim what was read from a file or variable';

// valibot drops these keys from records (they could pollute prototypes); a provider so named is reported.
const RESERVED_IDS = new Set(['__proto__', 'constructor', 'prototype']);

/** `defaults` with each value the user set (not undefined) in its place; keys outside `defaults` are not read. */
function filled<T extends object>(
  defaults: Readonly<T>,
  given: { [K in keyof T]?: T[K] | undefined } | undefined,
): T {
  const out = { ...defaults } as T;
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    const value = given?.[key];
    if (value !== undefined) out[key] = value as T[keyof T];
  }
  return out;
}

/**
 * Validates and normalises `createManaLLM` options, listing every problem with its path.
 * @throws ConfigError
 */
export function resolveOptions(input: ManaLLMOptions): ResolvedOptions {
  return readingOptions('Invalid mana-llm options', () => readOptions(input));
}

/**
 * `read()`, with whatever a getter or proxy trap in the caller's options throws (any value, any text) as a
 * ConfigError titled `title`, as an invalid value would be.
 */
export function readingOptions<T>(title: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(title, [{ path: '', message: cannotRead(err) }], { cause: err });
  }
}

function readOptions(input: ManaLLMOptions): ResolvedOptions {
  const parsed = v.safeParse(OptionsSchema, input, { abortEarly: false });
  const issues = parsed.success ? [] : configIssues(parsed.issues);
  // Unknown keys are listed, not dropped: `timeout` for `timeouts` would otherwise silently keep the default.
  issues.push(...unknownKeys(OptionsSchema, input));
  const o = (parsed.success ? parsed.output : input) as ManaLLMOptions;

  const hasPath = typeof o?.aliasesPath === 'string';
  const hasAliases = o?.aliases !== undefined;
  if (hasPath === hasAliases)
    issues.push({ path: 'aliasesPath', message: 'give exactly one of aliasesPath or aliases' });

  // Checked even when other options are invalid, so that one ConfigError lists every problem. Read from the
  // input, not valibot's output: that drops the reserved ids, which must be reported.
  const given: unknown = (input as { providers?: unknown } | null | undefined)?.providers;
  const isMap = given !== null && typeof given === 'object';
  const entries = isMap ? Object.entries(given) : [];
  const configured = entries
    .filter(([id, p]) => p !== undefined && !RESERVED_IDS.has(id) && id !== ALIAS_PROVIDER)
    .map(([id]) => id);
  const { providers, keyless } = readProviders(entries, issues);
  if (isMap && configured.length === 0)
    issues.push({ path: 'providers', message: 'configure at least one provider' });

  const defaultProvider =
    o?.defaultProvider ?? (providers.some((p) => p.id === 'ollama') ? 'ollama' : undefined);
  if (typeof o?.defaultProvider === 'string' && !configured.includes(o.defaultProvider)) {
    issues.push({
      path: 'defaultProvider',
      message: `${shown(o.defaultProvider)} is not a configured provider`,
    });
  }
  if (o?.watch && !hasPath)
    issues.push({ path: 'watch', message: 'needs aliasesPath (there is no file to watch)' });
  if (o?.reloadOnSignal && !hasPath)
    issues.push({ path: 'reloadOnSignal', message: 'needs aliasesPath (there is no file to reload)' });

  if (issues.length > 0) throw new ConfigError('Invalid mana-llm options', issues);

  return {
    aliasSource: hasPath
      ? { path: o.aliasesPath as string }
      : typeof o.aliases === 'string'
        ? { text: o.aliases }
        : { object: o.aliases },
    providers,
    keyless,
    health: { ...filled(DEFAULTS.health, o.health), store: o.health?.store },
    timeouts: filled(DEFAULTS.timeouts, o.timeouts),
    limits: filled(DEFAULT_LIMITS, o.limits),
    hedging: filled(DEFAULTS.hedging, o.hedging),
    ...filled(DEFAULTS.switches, o),
    defaultProvider,
    cache: o.cache ? filled(DEFAULTS.cache, o.cache) : undefined,
    images: filled(DEFAULTS.images, o.images),
  };
}

/**
 * What of a `baseUrl` would never reach the provider (requests go to its origin and path only), or an Ollama path
 * that cannot be its server root, as the issue to report; the message never shows the URL, which may hold a password.
 */
function baseUrlProblem(url: URL, type: ProviderType): string | undefined {
  if (url.username || url.password)
    return 'must not carry credentials (user:password@): they would not be sent; give them in headers (authorization: Basic …)';
  if (url.search) return 'must not have a query string: it would not be sent (see docs/options.md)';
  if (url.hash) return 'must not have a fragment (#…): it would not be sent';
  // The adapter adds /api/chat itself: /v1/api/chat or /api/api/chat is a 404 that reads as a missing model.
  if (type === 'ollama' && /\/(v1|api)\/*$/i.test(url.pathname))
    return "is Ollama's server root (http://localhost:11434), without /api or /v1; for its OpenAI-compatible /v1 API use type: 'openai'";
  return undefined;
}

/** The configured providers with defaults filled, and the well-known clouds given without a key. */
function readProviders(
  entries: [string, unknown][],
  issues: ConfigIssue[],
): { providers: ResolvedProvider[]; keyless: string[] } {
  const providers: ResolvedProvider[] = [];
  const keyless: string[] = [];
  for (const [id, input] of entries) {
    const at = issuePath(['providers', id]);
    if (RESERVED_IDS.has(id)) {
      issues.push({ path: at, message: 'is reserved and cannot be a provider id' });
      continue;
    }
    const one = v.safeParse(ProviderSchema, input);
    // A malformed provider's problems are already listed by the schema above.
    if (!one.success) continue;
    const p = one.output;
    if (id === ALIAS_PROVIDER) {
      issues.push({
        path: at,
        message:
          'is reserved for aliases: "mana/<name>" always names an alias, so no aliases chain or "mana/…" call could reach a provider "mana"; choose another id',
      });
      continue;
    }
    if (!PROVIDER_ID.test(id))
      issues.push({
        path: at,
        message:
          'provider ids are lower-case letters, digits, ".", "_" or "-", and start with a letter or digit',
      });
    const known = Object.hasOwn(WELL_KNOWN, id) ? WELL_KNOWN[id] : undefined;
    const type = p.type ?? known?.type;
    if (!type) {
      issues.push({ path: `${at}.type`, message: `${shown(id)} is not a well-known provider: set type` });
      continue;
    }
    const baseUrl = p.baseUrl ?? (known && known.type === type ? known.baseUrl : undefined);
    if (type === 'custom' && !p.adapter)
      issues.push({ path: `${at}.adapter`, message: "type 'custom' needs an adapter" });
    if (type !== 'custom' && !baseUrl)
      issues.push({
        path: `${at}.baseUrl`,
        message: known
          ? `required for ${shown(id)} with type '${type}' (its well-known endpoint speaks '${known.type}')`
          : `required for ${shown(id)} (not a well-known provider)`,
      });
    const wrong = p.baseUrl === undefined ? undefined : baseUrlProblem(new URL(p.baseUrl), type);
    if (wrong) issues.push({ path: `${at}.baseUrl`, message: wrong });
    const headers = p.headers ?? {};
    if (type !== 'custom') {
      if (p.apiKey !== undefined && !HEADER_VALUE.test(p.apiKey))
        issues.push({ path: `${at}.apiKey`, message: NOT_A_HEADER });
      for (const [name, value] of Object.entries(headers)) {
        const path = issuePath(['providers', id, 'headers', name]);
        if (!HEADER_NAME.test(name)) issues.push({ path, message: 'is not a valid HTTP header name' });
        else if (!HEADER_VALUE.test(value)) issues.push({ path, message: NOT_A_HEADER });
      }
    }
    if (known?.type === type && lacksKey(known, { ...p, headers })) {
      // Not configured: its chain entries are skipped as `unconfigured` and it is never probed.
      keyless.push(id);
      continue;
    }
    providers.push({
      id,
      type,
      baseUrl: (baseUrl ?? '').replace(/\/+$/, ''),
      ...(p.apiKey ? { apiKey: p.apiKey } : {}),
      headers,
      ...filled(DEFAULTS.provider, p),
      ...(p.adapter ? { adapter: p.adapter } : {}),
    });
  }
  return { providers, keyless };
}
