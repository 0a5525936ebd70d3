// createMockProvider edges: the model list, and a partial-stream step given to a non-streamed call.
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, type ManaLLM, NoHealthyProviderError } from '../../src/index.js';
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
});
