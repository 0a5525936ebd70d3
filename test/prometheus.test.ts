import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM, type ManaLLM, ProviderError } from '../src/index.js';
import { registerPrometheusMetrics } from '../src/prometheus/index.js';
import { type MockUpstream, startMockUpstream } from '../src/testing/index.js';
import { closeAll, rejection } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

let llm: ManaLLM | undefined;
const upstreams: MockUpstream[] = [];
afterEach(async () => {
  await llm?.close();
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function setup() {
  const local = await startMockUpstream('ollama', { reply: 'local answer' });
  const cloud = await startMockUpstream('openai', {
    reply: 'cloud answer',
    usage: { prompt: 3, completion: 4 },
  });
  upstreams.push(local, cloud);
  llm = createManaLLM({
    aliases: { aliases: { 'mana/fast-text': { chain: ['ollama/qwen2.5:7b', 'groq/llama-3.1-8b-instant'] } } },
    providers: {
      ollama: { baseUrl: local.url },
      groq: { baseUrl: cloud.url, apiKey: 'gsk_test_SECRET_123456' },
    },
    health: { probes: false },
  });
  const registry = new Registry();
  registerPrometheusMetrics(llm, { registry });
  return { local, cloud, llm, registry };
}

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('registerPrometheusMetrics', () => {
  it('sets provider_healthy to 1 for every configured provider at start', async () => {
    const { registry } = await setup();
    const text = await registry.metrics();
    expect(text).toContain('mana_llm_provider_healthy{provider="ollama"} 1');
    expect(text).toContain('mana_llm_provider_healthy{provider="groq"} 1');
  });

  it('a bridge registered while a breaker is open starts that provider at 0, not 1', async () => {
    const { local, llm } = await setup();
    local.setDefault({ status: 503 });
    await llm.chat({ model: 'mana/fast-text', messages });
    await llm.chat({ model: 'mana/fast-text', messages });
    expect(llm.health().providers.ollama?.state).toBe('open');
    const late = new Registry();
    registerPrometheusMetrics(llm, { registry: late });
    const text = await late.metrics();
    expect(text).toContain('mana_llm_provider_healthy{provider="ollama"} 0');
    expect(text).toContain('mana_llm_provider_healthy{provider="groq"} 1');
  });

  it('counts served calls, tokens, latency, alias resolution and fallbacks with the resolved target', async () => {
    const { local, llm, registry } = await setup();
    await llm.chat({ model: 'mana/fast-text', messages });
    local.setDefault({ status: 503 });
    await llm.chat({ model: 'mana/fast-text', messages });
    const streamOptions = { include_usage: true };
    for await (const _ of llm.stream({
      model: 'groq/llama-3.1-8b-instant',
      messages,
      stream_options: streamOptions,
    })) {
      // drain
    }
    const text = await registry.metrics();
    expect(text).toContain(
      'mana_llm_llm_requests_total{provider="ollama",model="qwen2.5:7b",streaming="false"} 1',
    );
    expect(text).toContain(
      'mana_llm_llm_requests_total{provider="groq",model="llama-3.1-8b-instant",streaming="false"} 1',
    );
    expect(text).toContain(
      'mana_llm_llm_requests_total{provider="groq",model="llama-3.1-8b-instant",streaming="true"} 1',
    );
    expect(text).toContain(
      'mana_llm_tokens_total{provider="groq",model="llama-3.1-8b-instant",type="completion"} 8',
    );
    expect(text).toContain(
      'mana_llm_alias_resolved_total{alias="mana/fast-text",target="groq/llama-3.1-8b-instant"} 1',
    );
    expect(text).toContain(
      'mana_llm_fallback_total{from_model="ollama/qwen2.5:7b",to_model="groq/llama-3.1-8b-instant",reason="http-error"} 1',
    );
    expect(text).toMatch(
      /mana_llm_llm_latency_seconds_bucket\{le="0.5",provider="ollama",model="qwen2.5:7b"\} 1/,
    );
    for (const le of ['0.5', '1', '2', '5', '10', '30', '60', '120', '+Inf']) {
      expect(text).toContain(`mana_llm_llm_latency_seconds_bucket{le="${le}",provider="groq"`);
    }
    expect(text).toContain(
      'mana_llm_time_to_first_chunk_seconds_count{provider="groq",model="llama-3.1-8b-instant"} 1',
    );
    for (const le of ['0.1', '0.25', '0.5', '1', '2', '5', '10', '30', '60', '+Inf']) {
      expect(text).toContain(`mana_llm_time_to_first_chunk_seconds_bucket{le="${le}",provider="groq"`);
    }
  });

  it('counts embeddings as served calls that are not streaming', async () => {
    const { local, llm, registry } = await setup();
    local.setDefault({ dimensions: 3 });
    await llm.embed({ model: 'mana/fast-text', input: ['a'] });
    expect(await registry.metrics()).toContain(
      'mana_llm_llm_requests_total{provider="ollama",model="qwen2.5:7b",streaming="false"} 1',
    );
  });

  it('counts errors by the requested model (an alias gives provider mana) and tracks health flips', async () => {
    const { local, cloud, llm, registry } = await setup();
    local.setDefault({ reset: true });
    cloud.setDefault({ reset: true });
    await expect(llm.chat({ model: 'mana/fast-text', messages })).rejects.toThrow();
    await expect(llm.chat({ model: 'mana/fast-text', messages })).rejects.toThrow();
    const text = await registry.metrics();
    expect(text).toContain(
      'mana_llm_llm_errors_total{provider="mana",model="fast-text",error_type="no_healthy_provider"} 2',
    );
    expect(text).toContain('mana_llm_provider_healthy{provider="ollama"} 0');
    // The last entry's failure has no next entry: to_model none.
    expect(text).toMatch(
      /mana_llm_fallback_total\{from_model="groq\/llama-3\.1-8b-instant",to_model="none",reason="connection"\} 2/,
    );
    await expect(llm.chat({ model: 'mana/nope', messages })).rejects.toThrow('Unknown model alias');
    expect(await registry.metrics()).toContain(
      'mana_llm_llm_errors_total{provider="other",model="other",error_type="unknown_alias"} 1',
    );
    expect(text).not.toContain('SECRET');
  });

  it('labels errors and fallbacks only with what the configuration names: anything a caller invents is other', async () => {
    const { local, cloud, llm, registry } = await setup();
    local.setDefault({ status: 500 });
    cloud.setDefault({ status: 500 });
    for (let i = 0; i < 50; i++) {
      await rejection(llm.chat({ model: `mana/invented-${i}`, messages }));
      await rejection(llm.chat({ model: `ghost-${i}/m`, messages }));
      await rejection(llm.chat({ model: `groq/invented-${i}`, messages }));
    }
    await rejection(llm.chat({ model: 'groq/llama-3.1-8b-instant', messages }));
    // A bare model named like a provider (it goes to the default provider) is a caller's name too.
    await rejection(llm.chat({ model: 'groq', messages }));
    const text = await registry.metrics();
    const errorLines = text.split('\n').filter((l) => l.startsWith('mana_llm_llm_errors_total{'));
    expect(errorLines.sort()).toEqual(
      [
        'mana_llm_llm_errors_total{provider="other",model="other",error_type="unknown_alias"} 50',
        'mana_llm_llm_errors_total{provider="other",model="other",error_type="no_healthy_provider"} 51',
        'mana_llm_llm_errors_total{provider="groq",model="other",error_type="no_healthy_provider"} 50',
        'mana_llm_llm_errors_total{provider="groq",model="llama-3.1-8b-instant",error_type="no_healthy_provider"} 1',
      ].sort(),
    );
    expect(text).not.toContain('invented');
    expect(text).not.toContain('ghost');
  });

  it('labels served direct calls only with what the configuration names: a model a caller invents is other', async () => {
    const { llm, registry } = await setup();
    // The mock upstream, like llama.cpp or vLLM, answers whatever model it is asked for.
    for (let i = 0; i < 20; i++) {
      await llm.chat({ model: `groq/invented-${i}`, messages });
      for await (const _ of llm.stream({
        model: `groq/invented-s${i}`,
        messages,
        stream_options: { include_usage: true },
      })) {
        // drain
      }
    }
    await llm.chat({ model: 'groq/llama-3.1-8b-instant', messages });
    const text = await registry.metrics();
    const lines = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`mana_llm_${name}{`))
        .sort();
    expect(lines('llm_requests_total')).toEqual(
      [
        'mana_llm_llm_requests_total{provider="groq",model="other",streaming="false"} 20',
        'mana_llm_llm_requests_total{provider="groq",model="other",streaming="true"} 20',
        'mana_llm_llm_requests_total{provider="groq",model="llama-3.1-8b-instant",streaming="false"} 1',
      ].sort(),
    );
    expect(lines('tokens_total')).toEqual(
      [
        'mana_llm_tokens_total{provider="groq",model="other",type="prompt"} 120',
        'mana_llm_tokens_total{provider="groq",model="other",type="completion"} 160',
        'mana_llm_tokens_total{provider="groq",model="llama-3.1-8b-instant",type="prompt"} 3',
        'mana_llm_tokens_total{provider="groq",model="llama-3.1-8b-instant",type="completion"} 4',
      ].sort(),
    );
    expect(lines('llm_latency_seconds_count')).toEqual(
      [
        'mana_llm_llm_latency_seconds_count{provider="groq",model="other"} 40',
        'mana_llm_llm_latency_seconds_count{provider="groq",model="llama-3.1-8b-instant"} 1',
      ].sort(),
    );
    expect(lines('time_to_first_chunk_seconds_count')).toEqual([
      'mana_llm_time_to_first_chunk_seconds_count{provider="groq",model="other"} 20',
    ]);
    expect(text).not.toContain('invented');
  });

  it("counts the caller's own abort as aborted, not as an upstream's malformed reply", async () => {
    const { local, llm, registry } = await setup();
    local.setDefault({ stallAfterHeaders: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/fast-text', messages }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await rejection(call);
    // A reason of any kind, not only an Error.
    const stop = new AbortController();
    const stream = llm.stream({ model: 'mana/fast-text', messages }, { signal: stop.signal });
    setTimeout(() => stop.abort('stop'), 50);
    await rejection(stream.next());
    const text = await registry.metrics();
    expect(text).toContain(
      'mana_llm_llm_errors_total{provider="mana",model="fast-text",error_type="aborted"} 2',
    );
    expect(text).not.toContain('error_type="provider_response"');
  });

  it('buckets served-call latency at exactly 0.5 … 120 s', async () => {
    const { llm, registry } = await setup();
    await llm.chat({ model: 'mana/fast-text', messages });
    const les = (await registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('mana_llm_llm_latency_seconds_bucket{'))
      .map((l) => /le="([^"]+)"/.exec(l)?.[1]);
    expect(les).toEqual(['0.5', '1', '2', '5', '10', '30', '60', '120', '+Inf']);
  });

  it('ignores usage that is not a finite non-negative integer', async () => {
    const usages = [
      { prompt_tokens: -5, completion_tokens: 2.5, total_tokens: 0 },
      { prompt_tokens: Number.NaN, completion_tokens: Number.POSITIVE_INFINITY, total_tokens: 0 },
      { prompt_tokens: 1e300, completion_tokens: '7' as unknown as number, total_tokens: 0 },
      { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      // A count not reported adds nothing (prom-client would read an absent amount as 1).
      { completion_tokens: 0 } as unknown as {
        prompt_tokens: number;
        completion_tokens: number;
        total_tokens: number;
      },
      { prompt_tokens: 0 } as unknown as {
        prompt_tokens: number;
        completion_tokens: number;
        total_tokens: number;
      },
    ];
    let i = 0;
    const adapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: async () => ({
        id: 'c',
        object: 'chat.completion' as const,
        created: 0,
        model: 'x/m',
        choices: [
          {
            index: 0,
            message: { role: 'assistant' as const, content: 'ok' },
            finish_reason: 'stop' as const,
          },
        ],
        usage: usages[i++ % usages.length]!,
      }),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: async () => ({ ok: true }),
      models: async () => [],
    };
    llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['x/m'] } } },
      providers: { x: { type: 'custom', adapter } },
      health: { probes: false },
    });
    const registry = new Registry();
    registerPrometheusMetrics(llm, { registry });
    for (let n = 0; n < usages.length; n++) await llm.chat({ model: 'mana/x', messages });
    const text = await registry.metrics();
    expect(text).toContain('mana_llm_tokens_total{provider="x",model="m",type="prompt"} 3');
    expect(text).toContain('mana_llm_tokens_total{provider="x",model="m",type="completion"} 4');
  });

  it('an unknown option (registery for registry) is a ConfigError naming it, not metrics in the global registry', async () => {
    const { llm } = await setup();
    const registry = new Registry();
    let err: unknown;
    try {
      registerPrometheusMetrics(llm, { registery: registry, prefix: 'app_' } as never).unregister();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      { path: 'registery', message: 'unknown key "registery": did you mean "registry"?' },
    ]);
  });

  it('a prefix no metric name may start with is a ConfigError naming prefix, not a plain prom-client Error', async () => {
    const { llm } = await setup();
    const registry = new Registry();
    for (const prefix of ['mana-llm-', '1app_', 5, ['app_']]) {
      let err: unknown;
      try {
        registerPrometheusMetrics(llm, { registry, prefix } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]?.path).toBe('prefix');
    }
    expect(await registry.metrics()).toBe('\n');
  });

  it('a registry already holding one of its names is a ConfigError naming it, and nothing is left registered', async () => {
    const { llm, registry } = await setup();
    const host = new Registry();
    const own = new Counter({ name: 'mana_llm_hedge_total', help: "the host's own", registers: [host] });
    for (const target of [host, registry]) {
      let err: unknown;
      try {
        registerPrometheusMetrics(llm, { registry: target });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]).toMatchObject({ path: 'registry' });
      expect((err as ConfigError).message).toContain('mana_llm_hedge_total');
    }
    // The host's metric is its own; none of the bridge's stayed: fixing the conflict and retrying works.
    expect(host.getMetricsAsArray().map((m) => m.name)).toEqual(['mana_llm_hedge_total']);
    expect(host.getSingleMetric('mana_llm_hedge_total')).toBe(own);
    host.removeSingleMetric('mana_llm_hedge_total');
    registerPrometheusMetrics(llm, { registry: host }).unregister();
    expect(await host.metrics()).toBe('\n');
  });

  it('uses the given prefix and stops counting after unregister', async () => {
    const { llm } = await setup();
    const registry = new Registry();
    const bridge = registerPrometheusMetrics(llm, { registry, prefix: 'app_' });
    await llm.chat({ model: 'mana/fast-text', messages });
    expect(await registry.metrics()).toContain('app_llm_requests_total{provider="ollama"');
    bridge.unregister();
    expect(await registry.metrics()).toBe('\n');
  });
});

describe('after an aliases reload', () => {
  it('an alias the reload added is labelled with its name, not other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-llm-prom-'));
    try {
      const cloud = await startMockUpstream('openai', { status: 500 });
      upstreams.push(cloud);
      const file = join(dir, 'aliases.yaml');
      writeFileSync(file, 'aliases:\n  mana/old:\n    chain: [groq/m1]\n');
      llm = createManaLLM({
        aliasesPath: file,
        providers: { groq: { baseUrl: cloud.url, apiKey: 'gsk_test_SECRET_123456' } },
        health: { probes: false },
      });
      const registry = new Registry();
      registerPrometheusMetrics(llm, { registry });
      writeFileSync(
        file,
        'aliases:\n  mana/old:\n    chain: [groq/m1]\n  mana/added:\n    chain: [groq/m2]\n',
      );
      await llm.reload();
      await rejection(llm.chat({ model: 'mana/added', messages }));
      const text = await registry.metrics();
      expect(text).toContain(
        'mana_llm_llm_errors_total{provider="mana",model="added",error_type="no_healthy_provider"} 1',
      );
      // A target only the reload listed keeps its model on the served-call metrics too.
      cloud.setDefault({ reply: 'ok' });
      await llm.chat({ model: 'mana/added', messages });
      expect(await registry.metrics()).toContain(
        'mana_llm_llm_requests_total{provider="groq",model="m2",streaming="false"} 1',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('time_to_first_chunk_seconds', () => {
  afterEach(closeAll);

  it('observes seconds, not milliseconds: a stream committing after 100 ms is in the le="60" bucket', async () => {
    const frame = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] })}\n\n`;
    const slow = await rawUpstream((_body, res) => {
      const t = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`${frame}data: [DONE]\n\n`);
      }, 100);
      res.on('close', () => clearTimeout(t));
    });
    llm = createManaLLM({
      aliases: { aliases: { 'mana/s': { chain: ['r/m'] } } },
      providers: { r: { type: 'openai', baseUrl: slow.url, apiKey: 'sk-test' } },
      health: { probes: false },
    });
    const registry = new Registry();
    registerPrometheusMetrics(llm, { registry });
    for await (const _ of llm.stream({ model: 'mana/s', messages })) {
      // drain
    }
    const text = await registry.metrics();
    expect(text).toContain('mana_llm_time_to_first_chunk_seconds_bucket{le="60",provider="r",model="m"} 1');
    expect(text).toContain('mana_llm_llm_latency_seconds_bucket{le="120",provider="r",model="m"} 1');
  });
});

describe('unregister and close release what the bridge holds', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // gc() before deref(): a WeakRef read in a job keeps its target alive until that job ends.
  const collected = async (ref: WeakRef<object>) => {
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
      await new Promise((r) => setTimeout(r, 0));
      if (ref.deref() === undefined) return true;
    }
    return false;
  };

  it("unregister removes the bridge's listeners: the client no longer holds its metrics or registry", async () => {
    const { llm } = await setup();
    const ref = (() => {
      const registry = new Registry();
      registerPrometheusMetrics(llm, { registry }).unregister();
      return new WeakRef(registry);
    })();
    expect(await collected(ref)).toBe(true);
  });

  it('a registry that outlives a closed client does not keep the client alive', async () => {
    const registry = new Registry();
    const ref = await (async () => {
      const own = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['ollama/m'] } } },
        providers: { ollama: { baseUrl: 'http://127.0.0.1:9' } },
        health: { probes: false },
      });
      registerPrometheusMetrics(own, { registry });
      await own.close();
      return new WeakRef(own);
    })();
    expect(await collected(ref)).toBe(true);
    expect(await registry.metrics()).toContain('mana_llm_provider_healthy{provider="ollama"} 1');
  });
});

describe('registerPrometheusMetrics and a malformed reply the caller sees', () => {
  it("counts an upstream's PROVIDER_RESPONSE error as provider_response, not as the caller's abort", async () => {
    // A custom adapter's own non-retryable error of code PROVIDER_RESPONSE reaches the caller as it is.
    const bad = new ProviderError(
      'PROVIDER_RESPONSE',
      'garbled',
      { provider: 'custom', model: 'm' },
      502,
      false,
    );
    const adapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: false }),
      chat: () => Promise.reject(bad),
      stream: () => {
        throw bad;
      },
      embed: () => Promise.reject(bad),
      probe: async () => ({ ok: true }),
      models: async () => [],
    };
    llm = createManaLLM({
      aliases: { aliases: { 'mana/c': { chain: ['custom/m'] } } },
      providers: { custom: { type: 'custom', adapter } },
      health: { probes: false },
    });
    const registry = new Registry();
    registerPrometheusMetrics(llm, { registry });
    expect(await rejection(llm.chat({ model: 'custom/m', messages }))).toBe(bad);
    const text = await registry.metrics();
    expect(text).toContain(
      'mana_llm_llm_errors_total{provider="custom",model="m",error_type="provider_response"} 1',
    );
    expect(text).not.toContain('error_type="aborted"');
  });
});
