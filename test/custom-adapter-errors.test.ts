import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError, type ProviderAdapter } from '../src/index.js';
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
});
