import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, type ManaLLM } from '../src/index.js';
import { registerPrometheusMetrics } from '../src/prometheus/index.js';
import { type MockUpstream, startMockUpstream } from '../src/testing/index.js';

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
    await expect(llm.chat({ model: 'mana/nope', messages })).rejects.toThrow('Unknown model alias');
    expect(await registry.metrics()).toContain(
      'mana_llm_llm_errors_total{provider="mana",model="nope",error_type="unknown_alias"} 1',
    );
    expect(text).not.toContain('SECRET');
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
