import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError, type ProviderAdapter, ProviderError } from '../src/index.js';
import { closeAll, rejection, track } from './helpers/client.js';

afterEach(closeAll);

describe("a custom adapter's own error text", () => {
  it('is cut and cleaned before it enters an error (5 MB with escapes and line breaks)', async () => {
    const huge = `boom\u001b[2J\r\n[INFO] forged ${'x'.repeat(5_000_000)}`;
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error(huge)),
      stream: () => {
        throw new Error(huge);
      },
      embed: () => Promise.reject(new Error(huge)),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const err = (await rejection(
      llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] }),
    )) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const inner = err.attempts[0]?.error as Error;
    expect(inner.message.startsWith('mine/m: adapter failed: boom')).toBe(true);
    expect(inner.message.length).toBeLessThan(600);
    expect([...inner.message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
  });

  it("its error's name is cleaned in toJSON too: no line break, no key shape", async () => {
    const thrown = Object.assign(new Error('boom'), { name: 'Evil\n[INFO] sk-proj-STOLENKEY1234567890' });
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(thrown),
      stream: () => {
        throw thrown;
      },
      embed: () => Promise.reject(thrown),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const err = (await rejection(
      llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] }),
    )) as NoHealthyProviderError;
    const json = JSON.parse(JSON.stringify(err.attempts[0]?.error));
    const cause = json.cause as { name: string };
    expect(cause.name).toBe('Evil [INFO] [redacted]');
  });
});

describe("a custom adapter's own ProviderError subclass", () => {
  class Flaky extends ProviderError {
    constructor(retryable: boolean) {
      super('PROVIDER_RESPONSE', 'mine/m: flaky', { provider: 'mine', model: 'm' }, 502, retryable);
    }
  }
  const adapterThrowing = (err: Error): ProviderAdapter => ({
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => Promise.reject(err),
    stream: () => {
      throw err;
    },
    embed: () => Promise.reject(err),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  });
  const clientOf = (err: Error) =>
    track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter: adapterThrowing(err) } },
        health: { probes: false },
      }),
    );
  const CHAT = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };

  it('retryable: falls through and counts against the provider (docs/choices.md)', async () => {
    const llm = clientOf(new Flaky(true));
    const err = (await rejection(llm.chat(CHAT))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts[0]?.reason).toBe('bad-response');
    expect(llm.health().providers.mine).toMatchObject({ consecutiveFailures: 1 });
  });

  it('not retryable: propagates as the caller’s error and leaves health alone', async () => {
    const llm = clientOf(new Flaky(false));
    const err = await rejection(llm.chat(CHAT));
    expect(err).toBeInstanceOf(Flaky);
    expect(llm.health().providers.mine).toMatchObject({ consecutiveFailures: 0 });
  });
});
