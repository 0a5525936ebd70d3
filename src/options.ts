import type * as v from 'valibot';
import type { AliasSource } from './aliases/load-aliases.js';
import { systemClock } from './clock.js';
import type { HealthStore } from './health/health-store.js';
import type { OptionsSchema, ProviderSchema } from './options-schema.js';

/** One provider's settings as a user writes them. */
export type ProviderOptions = v.InferInput<typeof ProviderSchema>;

/** Options of `createManaLLM`; the defaults are below, filled in by `resolveOptions` (listed in docs/options.md). */
export type ManaLLMOptions = v.InferInput<typeof OptionsSchema>;

/** `T` with every key present and set (the derived option types allow `undefined` on each). */
type Full<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** A provider after validation, with every default filled. */
export type ResolvedProvider = Full<Omit<ProviderOptions, 'apiKey' | 'adapter'>> &
  Pick<ProviderOptions, 'apiKey' | 'adapter'> & {
    /** Provider id as configured (`groq`, `ollama`, `vllm`, …); chunks report `model` as `${id}/${model}`. */
    id: string;
  };

/** An options group (`health`, `timeouts`, …) with every default filled. */
type Filled<K extends keyof ManaLLMOptions> = Full<NonNullable<ManaLLMOptions[K]>>;

/** `images.*` after defaults. */
export type ImageLimits = Readonly<Filled<'images'>>;

/** Options after validation: every default lives here and only here. */
export interface ResolvedOptions
  extends Full<Pick<ManaLLMOptions, 'fallbackOnAuthError' | 'reloadOnSignal' | 'watch' | 'clock'>> {
  aliasSource: AliasSource;
  providers: ResolvedProvider[];
  /** Well-known cloud providers given without a key: not configured (their entries are skipped). */
  keyless: string[];
  health: Omit<Filled<'health'>, 'store'> & { store: HealthStore | undefined };
  timeouts: Filled<'timeouts'>;
  limits: Filled<'limits'>;
  hedging: Filled<'hedging'>;
  defaultProvider: string | undefined;
  cache: Filled<'cache'> | undefined;
  images: ImageLimits;
}

const MiB = 1024 * 1024;

/** The default caps (why each is what it is: docs/limits.md). */
export const DEFAULT_LIMITS: Readonly<ResolvedOptions['limits']> = Object.freeze({
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

/** Every other default `resolveOptions` fills in, by options group (`provider`: each entry of `providers`). */
export const DEFAULTS = {
  provider: {
    timeoutMs: Number.POSITIVE_INFINITY,
    maxConcurrent: Number.POSITIVE_INFINITY,
    probe: true,
  },
  health: {
    failureThreshold: 2,
    cooldownMs: 60_000,
    probeIntervalMs: 30_000,
    probeTimeoutMs: 3_000,
    // A provider that went down is probed after 1 s, 2 s, 4 s … (capped at probeIntervalMs): back in seconds.
    recoveryProbeMs: 1_000,
    probes: true,
    // A few calls find out whether a failing provider is back; the rest go down the chain meanwhile.
    maxConcurrentAfterFailure: 2,
  },
  timeouts: {
    connectMs: 10_000,
    totalMs: 120_000,
    firstChunkMs: 60_000,
    idleMs: 60_000,
    streamMs: Number.POSITIVE_INFINITY,
  },
  // Once `cache` is given.
  cache: {
    store: 'memory' as NonNullable<ResolvedOptions['cache']>['store'],
    ttlMs: 300_000,
    maxEntries: 1_000,
    // Room for the largest embeddings answer the default limits allow (160 MiB); chat answers (a few KiB each)
    // reach maxEntries long before.
    maxBytes: 256 * MiB,
  },
  images: {
    fetch: 'public' as ImageLimits['fetch'],
    maxCount: 8,
    maxBytes: 10 * MiB,
    maxTotalBytes: 20 * MiB,
    timeoutMs: 10_000,
  },
  hedging: {
    // gRPC's hedging throttle in spirit: hedges stay near 10 % of calls, so an outage does not double the load.
    budgetRatio: 0.1,
    budgetMax: 10,
    // Below ~100 ms a hedge mostly races the network, not a stuck provider.
    autoMinMs: 100,
  },
  switches: {
    fallbackOnAuthError: false,
    reloadOnSignal: false as ResolvedOptions['reloadOnSignal'],
    watch: false,
    clock: systemClock,
  },
};

/** Defaults of `mana-llm/http` (`createFetchHandler`, `createNodeHandler`). */
export const HTTP_DEFAULTS = {
  /** Largest request body read; a bigger one is answered 413 (images as `data:` URLs need room). */
  maxBodyBytes: 8 * MiB,
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

/** Defaults of `createRedisHealthStore` (`mana-llm/redis`). */
export const REDIS_DEFAULTS = {
  /** Prefix of every key the store writes; the pub/sub channel is `<keyPrefix>health`. */
  keyPrefix: 'mana-llm:',
  /** Longest wait on any Redis command: a shared store must never slow a call down much. */
  timeoutMs: 250,
} as const;

/**
 * How long an attempt has waited, at least, before its provider's breaker opening releases it (longer when its
 * target usually takes longer: its latency estimate's highMs); see docs/concepts.md.
 */
export const RELEASE_AFTER_MS = 5_000;
