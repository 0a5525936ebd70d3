import type { Registry } from 'prom-client';
import type { ManaLLM } from '../client.js';
import { ConfigError } from '../errors.js';
import type { ManaLLMEventName, ManaLLMListener } from '../events.js';
import { isCount } from '../providers/json-shapes.js';
import { requirePeer } from '../require-peer.js';
import { refuseUnknownKeys } from '../unknown-keys.js';

/** Options of `registerPrometheusMetrics`. */
export interface PrometheusOptions {
  /** Registry to register the metrics in (default: prom-client's global registry). */
  registry?: Registry;
  /** Metric name prefix (default `mana_llm_`). */
  prefix?: string;
}

/** What `registerPrometheusMetrics` returns: the registry used and a function that stops updating it. */
export interface PrometheusBridge {
  registry: Registry;
  /** Unsubscribes from the client's events and removes the metrics from the registry. */
  unregister(): void;
}

type PromClient = typeof import('prom-client');

function split(target: string): { provider: string; model: string } {
  const i = target.indexOf('/');
  return i < 0
    ? { provider: '', model: target }
    : { provider: target.slice(0, i), model: target.slice(i + 1) };
}

const OTHER = { provider: 'other', model: 'other' } as const;

/** The names the configuration gives: every alias and every target an alias lists (rebuilt on reload). */
function configuredNames(llm: ManaLLM): ReadonlySet<string> {
  return new Set(llm.aliases().aliases.flatMap((a) => [a.name, ...a.chain]));
}

/**
 * Keeps Prometheus metrics from a client's events (names, labels and buckets: docs/metrics.md).
 * @throws ConfigError on an unknown option, a prefix a metric name may not start with, a registry already holding
 *   one of the metric names (nothing is registered then), or when prom-client is not installed
 */
export function registerPrometheusMetrics(llm: ManaLLM, options: PrometheusOptions = {}): PrometheusBridge {
  // `registery` for `registry` would fill prom-client's global registry while yours stays empty.
  refuseUnknownKeys('invalid registerPrometheusMetrics options', options, ['registry', 'prefix']);
  const p = options.prefix ?? 'mana_llm_';
  // prom-client's own rule for metric names, checked here so a bad prefix is a ConfigError like any other option.
  if (typeof p !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(`${p}x`)) {
    throw new ConfigError('invalid registerPrometheusMetrics options', [
      { path: 'prefix', message: 'must be letters, digits, _ or : and not start with a digit' },
    ]);
  }
  const prom = requirePeer<PromClient>(
    'prom-client',
    'mana-llm/prometheus needs the optional peer dependency prom-client: npm install prom-client',
  );
  const registry = options.registry ?? prom.register;
  // Every metric's name, help and labels; created in no registry, so that a name the registry holds already is
  // found before any is registered (prom-client would throw a plain Error partway, the ones before it left behind).
  const names: string[] = [];
  const config = (name: string, help: string, labelNames: string[]) => {
    names.push(`${p}${name}`);
    return { name: `${p}${name}`, help, labelNames, registers: [] };
  };
  const counter = (name: string, help: string, labels: string[]) =>
    new prom.Counter(config(name, help, labels));
  const requests = counter('llm_requests_total', 'Served LLM calls by resolved provider and model', [
    'provider',
    'model',
    'streaming',
  ]);
  const tokens = counter('tokens_total', 'Tokens used by served calls', ['provider', 'model', 'type']);
  const latency = new prom.Histogram({
    ...config('llm_latency_seconds', 'Duration of served calls', ['provider', 'model']),
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120],
  });
  const errors = counter('llm_errors_total', 'Failed calls by requested provider/model and error code', [
    'provider',
    'model',
    'error_type',
  ]);
  const resolved = counter('alias_resolved_total', 'Alias calls by the target that served them', [
    'alias',
    'target',
  ]);
  const fallbacks = counter('fallback_total', 'Chain entries skipped or failed, by reason', [
    'from_model',
    'to_model',
    'reason',
  ]);
  const hedges = counter('hedge_total', 'Hedged attempts started beside a slow one', [
    'from_model',
    'to_model',
  ]);
  const healthy = new prom.Gauge(
    config('provider_healthy', '1 while a provider is healthy, 0 while its breaker is open', ['provider']),
  );
  const ttfc = new prom.Histogram({
    ...config('time_to_first_chunk_seconds', 'Time to the first content chunk of served streams', [
      'provider',
      'model',
    ]),
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  });
  const taken = names.filter((name) => registry.getSingleMetric(name) !== undefined);
  if (taken.length > 0) {
    throw new ConfigError(
      'invalid registerPrometheusMetrics options',
      taken.map((name) => ({ path: 'registry', message: `already holds a metric named ${name}` })),
    );
  }
  for (const m of [requests, tokens, latency, errors, resolved, fallbacks, hedges, healthy, ttfc])
    registry.registerMetric(m);

  // As the breakers are now: 1 for every provider of a fresh client, 0 for one already open.
  const snapshot = llm.health().providers;
  const providers = Object.keys(snapshot);
  for (const provider of providers) healthy.set({ provider }, snapshot[provider]?.healthy === false ? 0 : 1);
  let named = configuredNames(llm);
  /**
   * Label values from what the configuration names, never from what a caller sent: a defined alias (`mana`, its
   * name), a target some alias lists (its provider and model), a configured provider with any other model
   * (`<provider>`, `other`); anything else `other`/`other`.
   */
  const labelsOf = (requested: string): { provider: string; model: string } => {
    if (named.has(requested)) return split(requested);
    const { provider } = split(requested);
    return providers.includes(provider) ? { provider, model: 'other' } : OTHER;
  };
  const entry = (target: string | null): string => {
    if (target === null) return 'none';
    return labelsOf(target).model === 'other' ? 'other' : target;
  };

  const on = <K extends ManaLLMEventName>(name: K, fn: ManaLLMListener<K>) => {
    llm.on(name, fn);
    return () => void llm.off(name, fn);
  };
  const offs = [
    on('response', (e) => {
      // A direct call's resolved model is the caller's own string (an upstream may accept any): the same rule.
      const { provider, model } = labelsOf(e.resolved);
      requests.inc({ provider, model, streaming: String(e.kind === 'stream') });
      latency.observe({ provider, model }, e.durationMs / 1000);
      // A count an upstream sent that is not a non-negative integer is not added.
      const usage = e.usage;
      if (usage) {
        if (isCount(usage.prompt_tokens))
          tokens.inc({ provider, model, type: 'prompt' }, usage.prompt_tokens);
        if (isCount(usage.completion_tokens))
          tokens.inc({ provider, model, type: 'completion' }, usage.completion_tokens);
      }
      if (e.firstChunkMs !== undefined) ttfc.observe({ provider, model }, e.firstChunkMs / 1000);
    }),
    on('failure', (e) => {
      // An alias `mana/x` gives provider `mana`; what the configuration does not name is `other` (docs/metrics.md).
      const { provider, model } = labelsOf(e.requested);
      // The caller's abort reaches the event as a PROVIDER_RESPONSE error of no provider (docs/events.md).
      const { code } = e.error;
      const aborted = code === 'PROVIDER_RESPONSE' && (e.error as { provider?: string }).provider === '';
      errors.inc({ provider, model, error_type: aborted ? 'aborted' : code.toLowerCase() });
    }),
    on('resolved', (e) => resolved.inc({ alias: e.alias, target: e.target })),
    // A direct call's chain entry is the caller's own string: labelled only when the configuration names it.
    on('fallback', (e) =>
      fallbacks.inc({ from_model: entry(e.from), to_model: entry(e.to), reason: e.reason }),
    ),
    on('hedge', (e) => hedges.inc({ from_model: entry(e.from), to_model: entry(e.to) })),
    on('health', (e) => healthy.set({ provider: e.provider }, e.healthy ? 1 : 0)),
    on('reload', (e) => {
      if (e.ok) named = configuredNames(llm);
    }),
  ];
  return {
    registry,
    unregister() {
      for (const off of offs) off();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
