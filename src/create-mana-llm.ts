import { AliasRegistry } from './aliases/alias-registry.js';
import { createMemoryCacheStore } from './cache/cache-store.js';
import { ResponseCache } from './cache/response-cache.js';
import { ManaLLM } from './client.js';
import { ManaEmitter } from './events.js';
import { HealthCache } from './health/health-cache.js';
import { createProber } from './health/prober.js';
import type { ManaLLMOptions } from './options.js';
import { ADAPTERS } from './providers/registry.js';
import { resolveOptions } from './resolve-options.js';
import type { ProviderSlot, RouterContext } from './routing/context.js';
import { HedgePolicy } from './routing/hedge-policy.js';
import { createHttp } from './wire/http.js';
import { createImageFetcher } from './wire/image-fetch.js';

/**
 * Creates a client: validates options and aliases (synchronously, no network I/O), builds the adapters, and
 * starts health probes on the next tick on unref'd timers.
 * @throws ConfigError, AliasConfigError listing every problem with its path
 */
export function createManaLLM(options: ManaLLMOptions): ManaLLM {
  const opts = resolveOptions(options);
  const aliases = new AliasRegistry(opts.aliasSource);
  const { clock } = opts;
  const http = createHttp({ connectMs: opts.timeouts.connectMs, limits: opts.limits });
  const images = {
    fetcher: createImageFetcher({
      publicOnly: opts.images.fetch === 'public',
      connectMs: opts.timeouts.connectMs,
    }),
    limits: opts.images,
    clock,
  };
  const providers = new Map<string, ProviderSlot>();
  for (const p of opts.providers) {
    providers.set(p.id, {
      config: p,
      adapter: ADAPTERS[p.type]({ config: p, http, clock, images }),
      inFlight: 0,
      unanswered: 0,
    });
  }
  // The retry cap also bounds cool-downs a shared store hears from other processes.
  const health = new HealthCache(
    [...providers.keys()],
    { ...opts.health, maxCooldownMs: opts.limits.maxRetryAfterMs },
    clock,
    opts.health.store,
  );
  const events = new ManaEmitter();
  const hedging = new HedgePolicy(opts.hedging, health.latency);
  const ctx: RouterContext = { providers, health, events, clock, opts, live: new Set(), images, hedging };
  const probed = [...providers.values()].filter((s) => s.config.probe);
  const { store } = opts.health;
  // With a shared store, one process per provider per interval probes (a lease); all apply the result.
  const acquire = store?.acquireProbe?.bind(store);
  const prober =
    opts.health.probes && probed.length > 0
      ? createProber({
          targets: probed.map((s) => ({
            provider: s.config.id,
            probe: (signal: AbortSignal) => {
              // A probe of a half-open provider is its trial (calls skip it meanwhile); its result ends the trial.
              health.admit(s.config.id);
              return s.adapter.probe({ signal });
            },
          })),
          intervalMs: opts.health.probeIntervalMs,
          timeoutMs: opts.health.probeTimeoutMs,
          clock,
          ...(acquire ? { acquire: (p: string) => acquire(p, opts.health.probeIntervalMs) } : {}),
          recovery: { initialMs: opts.health.recoveryProbeMs, isDown: (p) => health.peek(p) !== 'closed' },
          onResult: (provider, outcome) => {
            health.recordProbe(provider, outcome);
            if (events.has('probe')) events.emit('probe', { provider, ...outcome });
          },
        })
      : undefined;
  const cache = opts.cache
    ? new ResponseCache(
        opts.cache.store === 'memory' ? createMemoryCacheStore({ ...opts.cache, clock }) : opts.cache.store,
        opts.cache.ttlMs,
        ctx,
      )
    : undefined;
  try {
    return new ManaLLM({ ctx, aliases, http, prober, cache });
  } catch (err) {
    // A client never handed out cannot be closed: its health cache must not stay subscribed to the caller's store.
    health.detach();
    throw err;
  }
}
