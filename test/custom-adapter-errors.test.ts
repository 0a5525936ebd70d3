import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createManaLLM,
  NoHealthyProviderError,
  type ProviderAdapter,
  ProviderError,
  ProviderResponseError,
} from '../src/index.js';
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

  it('is cut to 500 characters when it is made of many short words', async () => {
    const adapter = throwing(new Error(`boom ${'word '.repeat(2_000)}`));
    const err = (await rejection(callMine(adapter))) as NoHealthyProviderError;
    const inner = err.attempts[0]?.error as Error;
    expect(inner.message.startsWith('mine/m: adapter failed: boom word word')).toBe(true);
    expect(inner.message.length).toBeLessThan(600);
  });

  it("another mana-llm error it throws (not a provider's) falls through as a bad reply that keeps its text", async () => {
    const adapter = throwing(new ConfigError('the adapter refused it'));
    const err = (await rejection(callMine(adapter))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts[0]).toMatchObject({ target: 'mine/m', reason: 'bad-response' });
    const inner = err.attempts[0]?.error as ProviderResponseError;
    expect(inner).toBeInstanceOf(ProviderResponseError);
    expect(inner.message).toBe('mine/m: the adapter refused it');
    expect(inner.cause).toBeInstanceOf(ConfigError);
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

function throwing(thrown: unknown): ProviderAdapter {
  return {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => Promise.reject(thrown),
    stream: () => {
      throw thrown;
    },
    embed: () => Promise.reject(thrown),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
}

function callMine(adapter: ProviderAdapter): Promise<unknown> {
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
      providers: { mine: { type: 'custom', adapter } },
      health: { probes: false },
    }),
  );
  return llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] });
}
