import * as v from 'valibot';
import type { AliasSource } from './aliases/load-aliases.js';
import type { CacheStore } from './cache/cache-store.js';
import { type Clock, systemClock } from './clock.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { HealthStore } from './health/health-store.js';
import type { ProviderAdapter } from './providers/adapter.js';
import type { ImageFetchPolicy, ImageLimits } from './providers/images.js';
import { lacksKey, type ProviderType, WELL_KNOWN } from './providers/registry.js';
import { unknownKeys } from './unknown-keys.js';

/** One provider's settings as a user writes them. */
export interface ProviderOptions {
  type?: ProviderType;
  baseUrl?: string;
  /** `process.env.X` may be undefined: a well-known cloud provider without a key is then not configured. */
  apiKey?: string | undefined;
  headers?: Record<string, string>;
  /** Caps one attempt at this provider (non-streaming: the whole call; streaming: until the first content chunk). */
  timeoutMs?: number;
  /** In-flight limit; a full provider is skipped (reason `saturated`) instead of queued. */
  maxConcurrent?: number;
  /** false: never probe this provider. */
  probe?: boolean;
  /** For `type: 'custom'`. */
  adapter?: ProviderAdapter;
}

/** Options of `createManaLLM`; every default is filled in `resolveOptions` below (listed in docs/options.md). */
export interface ManaLLMOptions {
  aliasesPath?: string;
  aliases?: string | Record<string, unknown>;
  providers: Record<string, ProviderOptions | undefined>;
  health?: {
    failureThreshold?: number;
    cooldownMs?: number;
    probeIntervalMs?: number;
    probeTimeoutMs?: number;
    /** First wait before re-probing a provider that went down; doubles per failed probe up to probeIntervalMs. */
    recoveryProbeMs?: number;
    probes?: boolean;
    /** While a provider's last call failed (and until one succeeds), at most this many calls to it at once. */
    maxConcurrentAfterFailure?: number;
    /** Where breaker and cool-down state lives (default: in this process). */
    store?: HealthStore;
  };
  timeouts?: {
    connectMs?: number;
    totalMs?: number;
    firstChunkMs?: number;
    idleMs?: number;
    /** Longest a stream may last from the call to its last chunk (default: no cap). */
    streamMs?: number;
  };
  /** Bounds on what a call may send and keep (see docs/limits.md). */
  limits?: {
    /** Largest request, as the length of its JSON text. */
    maxRequestBytes?: number;
    /** Deepest nesting of arrays and objects in a request. */
    maxDepth?: number;
    /** Longest retry hint (`Retry-After`, Gemini `retryDelay`) taken from an upstream. */
    maxRetryAfterMs?: number;
    /** Most text a stream keeps of what it handed out, for StreamInterruptedError's partial answer. */
    maxPartialChars?: number;
    /** A non-stream reply (chat, model list) read whole: bytes (default 8 MiB). */
    maxResponseBytes?: number;
    /** An embeddings reply read whole: bytes (default 160 MiB: 2048 inputs × 3072 dimensions as JSON). */
    maxEmbeddingResponseBytes?: number;
    /** What is read of an error reply's body, the rest dropped: bytes (default 64 KiB). */
    maxErrorBodyBytes?: number;
    /** One SSE event or NDJSON line of a stream: characters of its text (default 4 MiB). */
    maxFrameBytes?: number;
  };
  fallbackOnAuthError?: boolean;
  defaultProvider?: string;
  reloadOnSignal?: false | 'SIGHUP';
  watch?: boolean;
  clock?: Clock;
  /**
   * Response cache for non-streaming chat and embeddings, used by calls with `{ cache: true }` and aliases with
   * `cache: true` (default: off). `store`: `'memory'` (a bounded LRU, the default) or a shared store such as
   * `createRedisHealthStore(...)` from `mana-llm/redis`.
   */
  cache?: { store?: 'memory' | CacheStore; ttlMs?: number; maxEntries?: number };
  /**
   * Images given as http(s) URLs that Ollama, Gemini and Anthropic need as bytes: which may be fetched
   * server-side (`fetch`, default `'public'`: never loopback, private, link-local, multicast or unspecified
   * addresses) and each call's budget. See docs/images.md.
   */
  images?: {
    fetch?: ImageFetchPolicy;
    maxCount?: number;
    maxBytes?: number;
    maxTotalBytes?: number;
    timeoutMs?: number;
  };
}

/** A provider after validation, with every default filled. */
export interface ResolvedProvider {
  id: string;
  type: ProviderType;
  baseUrl: string;
  /** `process.env.X` may be undefined: a well-known cloud provider without a key is then not configured. */
  apiKey?: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  maxConcurrent: number;
  probe: boolean;
  adapter?: ProviderAdapter;
}

/** Options after validation: every default lives here and only here. */
export interface ResolvedOptions {
  aliasSource: AliasSource;
  providers: ResolvedProvider[];
  /** Well-known cloud providers given without a key: not configured (their entries are skipped). */
  keyless: string[];
  health: {
    failureThreshold: number;
    cooldownMs: number;
    probeIntervalMs: number;
    probeTimeoutMs: number;
    recoveryProbeMs: number;
    probes: boolean;
    maxConcurrentAfterFailure: number;
    store: HealthStore | undefined;
  };
  timeouts: { connectMs: number; totalMs: number; firstChunkMs: number; idleMs: number; streamMs: number };
  limits: ResolvedLimits;
  fallbackOnAuthError: boolean;
  defaultProvider: string | undefined;
  reloadOnSignal: false | 'SIGHUP';
  watch: boolean;
  clock: Clock;
  cache: { store: 'memory' | CacheStore; ttlMs: number; maxEntries: number } | undefined;
  images: ImageLimits;
}

/** The `limits` block with every default filled. */
export interface ResolvedLimits {
  maxRequestBytes: number;
  maxDepth: number;
  maxRetryAfterMs: number;
  maxPartialChars: number;
  maxResponseBytes: number;
  maxEmbeddingResponseBytes: number;
  maxErrorBodyBytes: number;
  maxFrameBytes: number;
}

const MiB = 1024 * 1024;

/** The default caps (why each is what it is: docs/limits.md). */
export const DEFAULT_LIMITS: Readonly<ResolvedLimits> = Object.freeze({
  maxRequestBytes: 32 * MiB,
  // JSON schemas seldom pass 20 levels; 64 is far below what overflows JSON.stringify or a schema rewrite.
  maxDepth: 64,
  maxRetryAfterMs: 3_600_000,
  maxPartialChars: 256 * 1024,
  // An answer is text: even a 128k-token completion with its JSON envelope is under 2 MiB.
  maxResponseBytes: 8 * MiB,
  // OpenAI's largest batch, 2048 inputs × 3072 dimensions, pretty-printed as it sends it (~24 B a float): 144 MiB.
  maxEmbeddingResponseBytes: 160 * MiB,
  // Only the first 300 characters of an error's message are kept; the rest is for finding its JSON fields.
  maxErrorBodyBytes: 64 * 1024,
  // A frame is one delta: this leaves room for a whole reasoning trace, tool call or inline image in one event.
  maxFrameBytes: 4 * MiB,
});

const positive = v.pipe(
  v.number('must be a number'),
  v.finite('must be finite'),
  v.gtValue(0, 'must be > 0'),
);
const nonNegative = v.pipe(
  v.number('must be a number'),
  v.finite('must be finite'),
  v.minValue(0, 'must be >= 0'),
);
const count = v.pipe(
  v.number('must be a number'),
  v.integer('must be an integer'),
  v.minValue(1, 'must be >= 1'),
);
const url = v.pipe(
  v.string('must be a string'),
  v.check((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL'),
);

// Every required member: a store missing one would pass validation and then fail inside a call.
const STORE_METHODS = [
  'getProvider',
  'setProvider',
  'getTargetCooldown',
  'setTargetCooldown',
  'listTargetCooldowns',
] as const;

const ProviderSchema = v.object(
  {
    type: v.optional(
      v.picklist(
        ['ollama', 'openai', 'google', 'anthropic', 'custom'],
        'must be one of ollama, openai, google, anthropic, custom',
      ),
    ),
    baseUrl: v.optional(url),
    apiKey: v.optional(v.string('must be a string')),
    headers: v.optional(v.record(v.string(), v.string('must be a string'), 'must be an object of strings')),
    timeoutMs: v.optional(positive),
    maxConcurrent: v.optional(
      v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be >= 1')),
    ),
    probe: v.optional(v.boolean('must be a boolean')),
    adapter: v.optional(
      v.custom<ProviderAdapter>(
        (a) => typeof a === 'object' && a !== null && typeof (a as ProviderAdapter).chat === 'function',
        'must implement ProviderAdapter',
      ),
    ),
  },
  'must be an object',
);

const OptionsSchema = v.object(
  {
    aliasesPath: v.optional(v.string('must be a string')),
    aliases: v.optional(
      v.union([v.string(), v.record(v.string(), v.unknown())], 'must be YAML text or an object'),
    ),
    // `undefined` entries are allowed so that a config can say `groq: key ? { apiKey: key } : undefined`.
    providers: v.record(
      v.string(),
      v.optional(ProviderSchema),
      'must be an object mapping provider id to its config',
    ),
    health: v.optional(
      v.object(
        {
          failureThreshold: v.optional(
            v.pipe(
              v.number('must be a number'),
              v.integer('must be an integer'),
              v.minValue(1, 'must be >= 1'),
            ),
          ),
          cooldownMs: v.optional(nonNegative),
          probeIntervalMs: v.optional(positive),
          probeTimeoutMs: v.optional(positive),
          recoveryProbeMs: v.optional(positive),
          probes: v.optional(v.boolean('must be a boolean')),
          maxConcurrentAfterFailure: v.optional(count),
          store: v.optional(
            v.custom<HealthStore>(
              (st) =>
                STORE_METHODS.every((m) => typeof (st as Record<string, unknown> | null)?.[m] === 'function'),
              `must implement HealthStore (${STORE_METHODS.join(', ')})`,
            ),
          ),
        },
        'must be an object',
      ),
    ),
    timeouts: v.optional(
      v.object(
        {
          connectMs: v.optional(positive),
          totalMs: v.optional(positive),
          firstChunkMs: v.optional(positive),
          idleMs: v.optional(positive),
          streamMs: v.optional(positive),
        },
        'must be an object',
      ),
    ),
    limits: v.optional(
      v.object(
        {
          maxRequestBytes: v.optional(count),
          maxDepth: v.optional(count),
          maxRetryAfterMs: v.optional(nonNegative),
          maxPartialChars: v.optional(count),
          maxResponseBytes: v.optional(count),
          maxEmbeddingResponseBytes: v.optional(count),
          maxErrorBodyBytes: v.optional(count),
          maxFrameBytes: v.optional(count),
        },
        'must be an object',
      ),
    ),
    fallbackOnAuthError: v.optional(v.boolean('must be a boolean')),
    defaultProvider: v.optional(v.string('must be a string')),
    reloadOnSignal: v.optional(v.union([v.literal(false), v.literal('SIGHUP')], "must be false or 'SIGHUP'")),
    watch: v.optional(v.boolean('must be a boolean')),
    clock: v.optional(
      v.custom<Clock>(
        (c) => typeof (c as Clock)?.now === 'function' && typeof (c as Clock)?.setTimer === 'function',
        'must have now() and setTimer(ms, fn)',
      ),
    ),
    cache: v.optional(
      v.object(
        {
          store: v.optional(
            v.union(
              [
                v.literal('memory'),
                v.custom<CacheStore>(
                  (st) =>
                    typeof (st as CacheStore)?.getResponse === 'function' &&
                    typeof (st as CacheStore)?.setResponse === 'function',
                ),
              ],
              "must be 'memory' or a cache store (getResponse/setResponse)",
            ),
          ),
          ttlMs: v.optional(positive),
          maxEntries: v.optional(
            v.pipe(
              v.number('must be a number'),
              v.integer('must be an integer'),
              v.minValue(1, 'must be >= 1'),
            ),
          ),
        },
        'must be an object',
      ),
    ),
    images: v.optional(
      v.object(
        {
          fetch: v.optional(
            v.union(
              [
                v.picklist(['public', 'all', 'none']),
                v.custom<(url: URL) => boolean>((f) => typeof f === 'function'),
              ],
              "must be 'public', 'all', 'none' or a function (url) => boolean",
            ),
          ),
          maxCount: v.optional(
            v.pipe(
              v.number('must be a number'),
              v.integer('must be an integer'),
              v.minValue(0, 'must be >= 0'),
            ),
          ),
          maxBytes: v.optional(positive),
          maxTotalBytes: v.optional(positive),
          timeoutMs: v.optional(positive),
        },
        'must be an object',
      ),
    ),
  },
  'options must be an object',
);

const PROVIDER_ID = /^[a-z0-9][a-z0-9._-]*$/;

/** `providers.groq.baseUrl`, `providers["my box"].type`: the same spelling for schema and semantic issues. */
function joinPath(keys: readonly unknown[]): string {
  let out = '';
  for (const k of keys) {
    const key = String(k);
    out += /^[A-Za-z_$][\w$]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
  }
  return out;
}

function pathOf(issue: v.BaseIssue<unknown>): string {
  return joinPath((issue.path ?? []).map((item) => item.key));
}

// valibot drops these keys from records (they could pollute prototypes); a provider so named must not vanish silently.
const RESERVED_IDS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Validates and normalises `createManaLLM` options, listing every problem with its path.
 * @throws ConfigError
 */
export function resolveOptions(input: ManaLLMOptions): ResolvedOptions {
  try {
    return readOptions(input);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // A getter or proxy trap in the caller's object threw while the options were read.
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError('Invalid mana-llm options', [{ path: '', message: `cannot be read: ${message}` }], {
      cause: err,
    });
  }
}

function readOptions(input: ManaLLMOptions): ResolvedOptions {
  const parsed = v.safeParse(OptionsSchema, input, { abortEarly: false });
  const issues: ConfigIssue[] = parsed.success
    ? []
    : parsed.issues.map((i) => ({ path: pathOf(i), message: i.message }));
  // Unknown keys are listed, not dropped: `timeout` for `timeouts` would otherwise silently keep the default.
  issues.push(...unknownKeys(OptionsSchema, input, joinPath));
  const o = (parsed.success ? parsed.output : input) as ManaLLMOptions;

  const hasPath = typeof o?.aliasesPath === 'string';
  const hasAliases = o?.aliases !== undefined;
  if (hasPath === hasAliases)
    issues.push({ path: 'aliasesPath', message: 'give exactly one of aliasesPath or aliases' });

  const providers: ResolvedProvider[] = [];
  const keyless: string[] = [];
  // Checked even when other options are invalid, so that one ConfigError lists every problem.
  const given: unknown = o?.providers;
  const isMap = given !== null && typeof given === 'object';
  const entries = isMap ? Object.entries(given) : [];
  const configured = entries.filter(([, p]) => p !== undefined).map(([id]) => id);
  const raw: unknown = (input as { providers?: unknown } | null | undefined)?.providers;
  for (const id of raw !== null && typeof raw === 'object' ? Object.keys(raw) : []) {
    if (RESERVED_IDS.has(id))
      issues.push({ path: joinPath(['providers', id]), message: 'is reserved and cannot be a provider id' });
  }
  for (const [id, input] of entries) {
    if (RESERVED_IDS.has(id)) continue;
    const one = v.safeParse(ProviderSchema, input);
    // A malformed provider's problems are already listed by the schema above.
    if (!one.success) continue;
    const p = one.output;
    const at = joinPath(['providers', id]);
    if (!PROVIDER_ID.test(id))
      issues.push({ path: at, message: 'provider ids are lower-case letters, digits, ".", "_" or "-"' });
    const known = Object.hasOwn(WELL_KNOWN, id) ? WELL_KNOWN[id] : undefined;
    const type = p.type ?? known?.type;
    if (!type) {
      issues.push({ path: `${at}.type`, message: `"${id}" is not a well-known provider: set type` });
      continue;
    }
    const baseUrl = p.baseUrl ?? (known && known.type === type ? known.baseUrl : undefined);
    if (type === 'custom' && !p.adapter)
      issues.push({ path: `${at}.adapter`, message: "type 'custom' needs an adapter" });
    if (type !== 'custom' && !baseUrl)
      issues.push({ path: `${at}.baseUrl`, message: `required for "${id}" (not a well-known provider)` });
    const headers = p.headers ?? {};
    if (type === known?.type && lacksKey(id, { baseUrl: baseUrl ?? '', apiKey: p.apiKey, headers })) {
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
      timeoutMs: p.timeoutMs ?? Number.POSITIVE_INFINITY,
      maxConcurrent: p.maxConcurrent ?? Number.POSITIVE_INFINITY,
      probe: p.probe ?? true,
      ...(p.adapter ? { adapter: p.adapter } : {}),
    });
  }
  if (isMap && configured.length === 0)
    issues.push({ path: 'providers', message: 'configure at least one provider' });

  const defaultProvider =
    o?.defaultProvider ?? (providers.some((p) => p.id === 'ollama') ? 'ollama' : undefined);
  if (typeof o?.defaultProvider === 'string' && !configured.includes(o.defaultProvider)) {
    issues.push({ path: 'defaultProvider', message: `"${o.defaultProvider}" is not a configured provider` });
  }
  if (o?.watch && !hasPath)
    issues.push({ path: 'watch', message: 'needs aliasesPath (there is no file to watch)' });
  if (o?.reloadOnSignal && !hasPath)
    issues.push({ path: 'reloadOnSignal', message: 'needs aliasesPath (there is no file to reload)' });

  if (issues.length > 0) throw new ConfigError('Invalid mana-llm options', issues);

  const h = o.health ?? {};
  const t = o.timeouts ?? {};
  const l = o.limits ?? {};
  return {
    aliasSource: hasPath
      ? { path: o.aliasesPath as string }
      : typeof o.aliases === 'string'
        ? { text: o.aliases }
        : { object: o.aliases },
    providers,
    keyless,
    health: {
      failureThreshold: h.failureThreshold ?? 2,
      cooldownMs: h.cooldownMs ?? 60_000,
      probeIntervalMs: h.probeIntervalMs ?? 30_000,
      probeTimeoutMs: h.probeTimeoutMs ?? 3_000,
      // A provider that went down is probed after 1 s, 2 s, 4 s … (capped at probeIntervalMs): back in seconds.
      recoveryProbeMs: h.recoveryProbeMs ?? 1_000,
      probes: h.probes ?? true,
      // A few calls find out whether a failing provider is back; the rest go down the chain meanwhile.
      maxConcurrentAfterFailure: h.maxConcurrentAfterFailure ?? 2,
      store: h.store,
    },
    timeouts: {
      connectMs: t.connectMs ?? 10_000,
      totalMs: t.totalMs ?? 120_000,
      firstChunkMs: t.firstChunkMs ?? 60_000,
      idleMs: t.idleMs ?? 60_000,
      streamMs: t.streamMs ?? Number.POSITIVE_INFINITY,
    },
    limits: {
      maxRequestBytes: l.maxRequestBytes ?? DEFAULT_LIMITS.maxRequestBytes,
      maxDepth: l.maxDepth ?? DEFAULT_LIMITS.maxDepth,
      maxRetryAfterMs: l.maxRetryAfterMs ?? DEFAULT_LIMITS.maxRetryAfterMs,
      maxPartialChars: l.maxPartialChars ?? DEFAULT_LIMITS.maxPartialChars,
      maxResponseBytes: l.maxResponseBytes ?? DEFAULT_LIMITS.maxResponseBytes,
      maxEmbeddingResponseBytes: l.maxEmbeddingResponseBytes ?? DEFAULT_LIMITS.maxEmbeddingResponseBytes,
      maxErrorBodyBytes: l.maxErrorBodyBytes ?? DEFAULT_LIMITS.maxErrorBodyBytes,
      maxFrameBytes: l.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes,
    },
    fallbackOnAuthError: o.fallbackOnAuthError ?? false,
    defaultProvider,
    reloadOnSignal: o.reloadOnSignal ?? false,
    watch: o.watch ?? false,
    clock: o.clock ?? systemClock,
    cache: o.cache
      ? {
          store: o.cache.store ?? 'memory',
          ttlMs: o.cache.ttlMs ?? 300_000,
          maxEntries: o.cache.maxEntries ?? 1_000,
        }
      : undefined,
    images: {
      fetch: o.images?.fetch ?? 'public',
      maxCount: o.images?.maxCount ?? 8,
      maxBytes: o.images?.maxBytes ?? 10 * 1024 * 1024,
      maxTotalBytes: o.images?.maxTotalBytes ?? 20 * 1024 * 1024,
      timeoutMs: o.images?.timeoutMs ?? 10_000,
    },
  };
}

/** Defaults of `mana-llm/http` (`createFetchHandler`, `createNodeHandler`). */
export const HTTP_DEFAULTS = {
  /** Largest request body read; a bigger one is answered 413 (images as `data:` URLs need room). */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Header carrying the request id, read from the request when sane and echoed on the response. */
  requestIdHeader: 'x-request-id',
  /** Path prefix stripped before routing ('' = routes at the root). */
  basePath: '',
  /** How long browsers may cache a CORS preflight answer. */
  corsMaxAgeSeconds: 600,
} as const;

/** Defaults of `mana-llm serve`. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 3025,
  /** SIGTERM: how long in-flight requests may finish before their connections are cut. */
  drainMs: 10_000,
  /** Longest time to receive a whole request (headers and body): slow senders cannot hold a socket forever. */
  requestTimeoutMs: 60_000,
} as const;
