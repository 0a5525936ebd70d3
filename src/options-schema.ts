import * as v from 'valibot';
import type { CacheStore } from './cache/cache-store.js';
import type { Clock } from './clock.js';
import type { HealthStore } from './health/health-store.js';
import type { ProviderAdapter } from './providers/adapter.js';
import { thrownText } from './redact.js';

/**
 * The valibot schema of `createManaLLM` options: shapes, ranges and what each option means (`ManaLLMOptions` and
 * `ProviderOptions` in options.ts are derived from it; the defaults live there).
 */

const finite = v.pipe(v.number('must be a number'), v.finite('must be finite'));
const positive = v.pipe(finite, v.gtValue(0, 'must be > 0'));
const nonNegative = v.pipe(finite, v.minValue(0, 'must be >= 0'));
const integer = v.pipe(v.number('must be a number'), v.integer('must be an integer'));
const count = v.pipe(integer, v.minValue(1, 'must be >= 1'));
const bool = v.boolean('must be a boolean');
const url = v.pipe(
  v.string('must be a string'),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http(s) URL'),
);

/** A group of optional settings (`health`, `timeouts`, …). */
function group<const T extends v.ObjectEntries>(entries: T) {
  return v.optional(v.object(entries, 'must be an object'));
}

/** A value with each of `methods`: a store missing one would pass validation and then fail inside a call. */
export function withMethods<T>(methods: readonly string[], message?: string) {
  return v.custom<T>(
    (x) => methods.every((m) => typeof (x as Record<string, unknown> | null)?.[m] === 'function'),
    message,
  );
}

/**
 * What is wrong with `clock.setTimer`, tried once with a timer it cancels at once, if anything: one returning
 * `setTimeout`'s handle would fail every call (and every probe) with a TypeError when it cancels a timer; one calling
 * `fn` before it returns made the prober reschedule itself without end (a stack overflow); one that throws is named.
 */
function timerProblem(clock: Clock): string | undefined {
  let fired = false;
  let cancel: unknown;
  try {
    cancel = clock.setTimer(60_000, () => {
      fired = true;
    });
  } catch (err) {
    return `setTimer(ms, fn) threw: ${thrownText(err)}`;
  }
  if (typeof cancel !== 'function') {
    clearTimeout(cancel as Parameters<typeof clearTimeout>[0]);
    return 'setTimer(ms, fn) must return a function that cancels the timer';
  }
  try {
    cancel();
  } catch (err) {
    return `the function setTimer(ms, fn) returned threw when called to cancel the timer: ${thrownText(err)}`;
  }
  return fired ? 'setTimer(ms, fn) must not call fn before it returns: a timer fires later' : undefined;
}

const STORE_METHODS = [
  'getProvider',
  'setProvider',
  'getTargetCooldown',
  'setTargetCooldown',
  'listTargetCooldowns',
] as const;

/** One entry of `providers`. */
export const ProviderSchema = v.object(
  {
    type: v.optional(
      v.picklist(
        ['ollama', 'openai', 'google', 'anthropic', 'custom'],
        'must be one of ollama, openai, google, anthropic, custom',
      ),
    ),
    /** Includes the API version path (`…/v1`, `…/v1beta`; Ollama: the server root). */
    baseUrl: v.optional(url),
    /** `process.env.X` may be undefined: a well-known cloud provider without a key is then not configured. */
    apiKey: v.optional(v.string('must be a string')),
    headers: v.optional(v.record(v.string(), v.string('must be a string'), 'must be an object of strings')),
    /** Caps one attempt at this provider (non-streaming: the whole call; streaming: until the first content chunk). */
    timeoutMs: v.optional(positive),
    /** In-flight limit; a full provider is skipped (reason `saturated`) instead of queued. */
    maxConcurrent: v.optional(count),
    /** false: never probe this provider. */
    probe: v.optional(bool),
    /** For `type: 'custom'`. */
    adapter: v.optional(withMethods<ProviderAdapter>(['chat'], 'must implement ProviderAdapter')),
  },
  'must be an object',
);

/** The whole options object. */
export const OptionsSchema = v.object(
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
    health: group({
      failureThreshold: v.optional(count),
      cooldownMs: v.optional(nonNegative),
      probeIntervalMs: v.optional(positive),
      probeTimeoutMs: v.optional(positive),
      /** First wait before re-probing a provider that went down; doubles per failed probe up to probeIntervalMs. */
      recoveryProbeMs: v.optional(positive),
      probes: v.optional(bool),
      /** While a provider's last call failed (and until one succeeds), at most this many calls to it at once. */
      maxConcurrentAfterFailure: v.optional(count),
      /** Where breaker and cool-down state lives (default: in this process). */
      store: v.optional(
        withMethods<HealthStore>(STORE_METHODS, `must implement HealthStore (${STORE_METHODS.join(', ')})`),
      ),
    }),
    timeouts: group({
      connectMs: v.optional(positive),
      totalMs: v.optional(positive),
      firstChunkMs: v.optional(positive),
      idleMs: v.optional(positive),
      /** Longest a stream may last from the call to its last chunk (default: no cap). */
      streamMs: v.optional(positive),
    }),
    /** Bounds on what a call may send and keep (see docs/limits.md). */
    limits: group({
      /** Largest request, as the length of its JSON text. */
      maxRequestBytes: v.optional(count),
      /** Deepest nesting of arrays and objects in a request. */
      maxDepth: v.optional(count),
      /** Longest retry hint (`Retry-After`, Gemini `retryDelay`) taken from an upstream. */
      maxRetryAfterMs: v.optional(nonNegative),
      /** Most text a stream keeps of what it handed out, for StreamInterruptedError's partial answer. */
      maxPartialChars: v.optional(count),
      /** A non-stream reply (chat, model list) read whole: bytes (default 8 MiB). */
      maxResponseBytes: v.optional(count),
      /** An embeddings reply read whole: bytes (default 160 MiB: 2048 inputs × 3072 dimensions as JSON). */
      maxEmbeddingResponseBytes: v.optional(count),
      /** What is read of an error reply's body, the rest dropped: bytes (default 64 KiB). */
      maxErrorBodyBytes: v.optional(count),
      /** One SSE event or NDJSON line of a stream: characters of its text (default 4 MiB). */
      maxFrameBytes: v.optional(count),
    }),
    /** The hedge budget and the rule for `hedge: { afterMs: 'auto' }` (see docs/tail-latency.md). */
    hedging: group({
      /** Tokens each call with hedging on adds to the budget; a hedge spends one (0.1: at most ~10 % of calls hedge). */
      budgetRatio: v.optional(v.pipe(nonNegative, v.maxValue(1, 'must be <= 1'))),
      /** Most tokens the budget holds, and starts with: how many hedges a burst may take. */
      budgetMax: v.optional(count),
      /** `'auto'` never hedges sooner than this. */
      autoMinMs: v.optional(nonNegative),
    }),
    fallbackOnAuthError: v.optional(bool),
    defaultProvider: v.optional(v.string('must be a string')),
    reloadOnSignal: v.optional(v.union([v.literal(false), v.literal('SIGHUP')], "must be false or 'SIGHUP'")),
    watch: v.optional(bool),
    clock: v.optional(
      v.pipe(
        withMethods<Clock>(['now', 'setTimer'], 'must have now() and setTimer(ms, fn)'),
        v.rawCheck(({ dataset, addIssue }) => {
          const message = dataset.typed ? timerProblem(dataset.value) : undefined;
          if (message !== undefined) addIssue({ message });
        }),
      ),
    ),
    /**
     * Response cache for non-streaming chat and embeddings, used by calls with `{ cache: true }` and aliases with
     * `cache: true` (default: off). `store`: `'memory'` (an LRU bounded by `maxEntries` and by `maxBytes`, the
     * characters of the answers it holds; the default) or a shared store such as `createRedisHealthStore(...)` from
     * `mana-llm/redis`.
     */
    cache: group({
      store: v.optional(
        v.union(
          [v.literal('memory'), withMethods<CacheStore>(['getResponse', 'setResponse'])],
          "must be 'memory' or a cache store (getResponse/setResponse)",
        ),
      ),
      ttlMs: v.optional(positive),
      maxEntries: v.optional(count),
      maxBytes: v.optional(count),
    }),
    /**
     * Images given as http(s) URLs that Ollama, Gemini and Anthropic need as bytes: which may be fetched
     * server-side (`fetch`, default `'public'`: never loopback, private, link-local, multicast or unspecified
     * addresses) and each call's budget. See docs/images.md.
     */
    images: group({
      fetch: v.optional(
        v.union(
          [
            v.picklist(['public', 'all', 'none']),
            v.custom<(url: URL) => boolean>((f) => typeof f === 'function'),
          ],
          "must be 'public', 'all', 'none' or a function (url) => boolean",
        ),
      ),
      /** Distinct http(s) images one call may fetch. */
      maxCount: v.optional(v.pipe(integer, v.minValue(0, 'must be >= 0'))),
      /** Largest single fetched image (a `data:` URL is part of the request: `limits.maxRequestBytes`). */
      maxBytes: v.optional(positive),
      /** All fetched images of one call together. */
      maxTotalBytes: v.optional(positive),
      /** How long all of one call's image fetches may take together. */
      timeoutMs: v.optional(positive),
    }),
  },
  'options must be an object',
);
