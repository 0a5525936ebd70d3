import * as v from 'valibot';
import type { CacheStore } from './cache/cache-store.js';
import type { Clock } from './clock.js';
import type { HealthStore } from './health/health-store.js';
import type { ProviderAdapter } from './providers/adapter.js';

/** The valibot schema of `createManaLLM` options: shapes and ranges only (defaults: options.ts). */

const finite = v.pipe(v.number('must be a number'), v.finite('must be finite'));
const positive = v.pipe(finite, v.gtValue(0, 'must be > 0'));
const nonNegative = v.pipe(finite, v.minValue(0, 'must be >= 0'));
const integer = v.pipe(v.number('must be a number'), v.integer('must be an integer'));
const count = v.pipe(integer, v.minValue(1, 'must be >= 1'));
const bool = v.boolean('must be a boolean');
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

/** A group of optional settings (`health`, `timeouts`, …). */
function group<const T extends v.ObjectEntries>(entries: T) {
  return v.optional(v.object(entries, 'must be an object'));
}

// Every required member: a store missing one would pass validation and then fail inside a call.
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
    baseUrl: v.optional(url),
    apiKey: v.optional(v.string('must be a string')),
    headers: v.optional(v.record(v.string(), v.string('must be a string'), 'must be an object of strings')),
    timeoutMs: v.optional(positive),
    maxConcurrent: v.optional(count),
    probe: v.optional(bool),
    adapter: v.optional(
      v.custom<ProviderAdapter>(
        (a) => typeof a === 'object' && a !== null && typeof (a as ProviderAdapter).chat === 'function',
        'must implement ProviderAdapter',
      ),
    ),
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
      recoveryProbeMs: v.optional(positive),
      probes: v.optional(bool),
      maxConcurrentAfterFailure: v.optional(count),
      store: v.optional(
        v.custom<HealthStore>(
          (st) =>
            STORE_METHODS.every((m) => typeof (st as Record<string, unknown> | null)?.[m] === 'function'),
          `must implement HealthStore (${STORE_METHODS.join(', ')})`,
        ),
      ),
    }),
    timeouts: group({
      connectMs: v.optional(positive),
      totalMs: v.optional(positive),
      firstChunkMs: v.optional(positive),
      idleMs: v.optional(positive),
      streamMs: v.optional(positive),
    }),
    limits: group({
      maxRequestBytes: v.optional(count),
      maxDepth: v.optional(count),
      maxRetryAfterMs: v.optional(nonNegative),
      maxPartialChars: v.optional(count),
      maxResponseBytes: v.optional(count),
      maxEmbeddingResponseBytes: v.optional(count),
      maxErrorBodyBytes: v.optional(count),
      maxFrameBytes: v.optional(count),
    }),
    hedging: group({
      budgetRatio: v.optional(v.pipe(nonNegative, v.maxValue(1, 'must be <= 1'))),
      budgetMax: v.optional(count),
      autoMinMs: v.optional(nonNegative),
    }),
    fallbackOnAuthError: v.optional(bool),
    defaultProvider: v.optional(v.string('must be a string')),
    reloadOnSignal: v.optional(v.union([v.literal(false), v.literal('SIGHUP')], "must be false or 'SIGHUP'")),
    watch: v.optional(bool),
    clock: v.optional(
      v.custom<Clock>(
        (c) => typeof (c as Clock)?.now === 'function' && typeof (c as Clock)?.setTimer === 'function',
        'must have now() and setTimer(ms, fn)',
      ),
    ),
    cache: group({
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
      maxEntries: v.optional(count),
    }),
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
      maxCount: v.optional(v.pipe(integer, v.minValue(0, 'must be >= 0'))),
      maxBytes: v.optional(positive),
      maxTotalBytes: v.optional(positive),
      timeoutMs: v.optional(positive),
    }),
  },
  'options must be an object',
);
