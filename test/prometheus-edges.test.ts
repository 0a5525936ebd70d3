// registerPrometheusMetrics edges: the default (global) registry, and a provider's health coming back.
import prom, { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, type ManaLLM } from '../src/index.js';
import { registerPrometheusMetrics } from '../src/prometheus/index.js';
import { createFakeClock, type MockUpstream, startMockUpstream } from '../src/testing/index.js';

let llm: ManaLLM | undefined;
const upstreams: MockUpstream[] = [];
afterEach(async () => {
  await llm?.close();
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('registerPrometheusMetrics edges', () => {
  it('without a registry registers in prom-client’s global one, and unregister takes them out again', async () => {
    const up = await startMockUpstream('openai');
    upstreams.push(up);
    llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['groq/m'] } } },
      providers: { groq: { baseUrl: up.url, apiKey: 'gsk_test_SECRET_123456' } },
      health: { probes: false },
    });
    const metrics = registerPrometheusMetrics(llm);
    try {
      expect(metrics.registry).toBe(prom.register);
      expect(await prom.register.metrics()).toContain('mana_llm_provider_healthy{provider="groq"} 1');
    } finally {
      metrics.unregister();
    }
    expect(await prom.register.metrics()).not.toContain('mana_llm_');
  });

  it('sets provider_healthy back to 1 when an open breaker’s trial succeeds', async () => {
    const clock = createFakeClock();
    const up = await startMockUpstream('openai', { reset: true });
    upstreams.push(up);
    llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['groq/m'] } } },
      providers: { groq: { baseUrl: up.url, apiKey: 'gsk_test_SECRET_123456' } },
      health: { probes: false, cooldownMs: 1000, failureThreshold: 1 },
      clock,
    });
    const registry = new Registry();
    registerPrometheusMetrics(llm, { registry });
    await expect(llm.chat({ model: 'mana/x', messages })).rejects.toThrow();
    expect(await registry.metrics()).toContain('mana_llm_provider_healthy{provider="groq"} 0');
    up.setDefault({ reply: 'back' });
    await clock.advanceAsync(1000);
    await llm.chat({ model: 'mana/x', messages });
    expect(await registry.metrics()).toContain('mana_llm_provider_healthy{provider="groq"} 1');
  });
});
