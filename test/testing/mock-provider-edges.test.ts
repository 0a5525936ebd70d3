// createMockProvider edges: the model list, and a partial-stream step given to a non-streamed call (chat, embed).
import { afterEach, describe, expect, it } from 'vitest';
import {
  createManaLLM,
  type ManaLLM,
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderConnectionError,
  StreamInterruptedError,
} from '../../src/index.js';
import { createMockProvider } from '../../src/testing/index.js';

let llm: ManaLLM | undefined;
afterEach(async () => {
  await llm?.close();
});

function setup() {
  const adapter = createMockProvider();
  llm = createManaLLM({
    aliases: { aliases: { 'mana/x': { chain: ['mock/m'] } } },
    providers: { mock: { type: 'custom', adapter } },
    health: { probes: false },
  });
  return { llm, adapter };
}

describe('createMockProvider edges', () => {
  it('lists mock-model as its model', async () => {
    const { llm } = setup();
    expect((await llm.models()).data).toEqual([{ id: 'mock/mock-model', object: 'model', owned_by: 'mock' }]);
  });

  it('a streamThenFail step without fail fails a non-streamed call as a connection error', async () => {
    const { llm, adapter } = setup();
    adapter.enqueue({ streamThenFail: 2 });
    const err = await llm
      .chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).attempts).toEqual([
      expect.objectContaining({ target: 'mock/m', reason: 'connection' }),
    ]);
  });

  it('a streamThenFail step fails an embed call too, with its fail kind (default connection), as it fails a chat', async () => {
    const { llm, adapter } = setup();
    adapter.enqueue({ streamThenFail: 2 }, { streamThenFail: 1, fail: 'auth' });
    const err = await llm.embed({ model: 'mana/x', input: 'a' }).catch((e) => e);
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).attempts).toEqual([
      expect.objectContaining({ target: 'mock/m', reason: 'connection' }),
    ]);
    await expect(llm.embed({ model: 'mana/x', input: 'a' })).rejects.toBeInstanceOf(ProviderAuthError);
  });

  it('a streamThenFail step without reply streams n filler pieces, then interrupts with a connection error', async () => {
    const { llm, adapter } = setup();
    adapter.enqueue({ streamThenFail: 3 });
    const pieces: string[] = [];
    let err: unknown;
    try {
      for await (const c of llm.stream({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] })) {
        const text = c.choices[0]?.delta.content;
        if (text) pieces.push(text);
      }
    } catch (e) {
      err = e;
    }
    expect(pieces).toHaveLength(3);
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).cause).toBeInstanceOf(ProviderConnectionError);
    expect((err as StreamInterruptedError).partial.content).toBe(pieces.join(''));
  });
});
