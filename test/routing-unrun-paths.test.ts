import { afterEach, describe, expect, it } from 'vitest';
import { type ProviderAdapter, ProviderConnectionError, ProviderResponseError } from '../src/index.js';
import { closeAll, collect, harness, USER } from './helpers/client.js';

afterEach(closeAll);

/** A custom adapter whose calls throw at once instead of returning a rejected promise. */
function throwsAtOnce(err: () => unknown): ProviderAdapter & { calls: number } {
  const self = {
    calls: 0,
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => {
      self.calls++;
      throw err();
    },
    stream: () => {
      self.calls++;
      throw err();
    },
    embed: () => {
      self.calls++;
      throw err();
    },
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
  return self;
}

describe('a custom adapter that throws instead of rejecting', () => {
  it('fails its chat attempt like a rejection: a plain error is a malformed reply and the next entry answers', async () => {
    const custom = throwsAtOnce(() => new Error('boom'));
    const { llm, up } = await harness({
      upstreams: { b: 'openai' },
      providers: { c: { type: 'custom', adapter: custom } },
      aliases: { 'mana/x': ['c/m', 'b/m2'] },
    });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.model).toBe('b/m2');
    expect(custom.calls).toBe(1);
    expect(up.b?.count('chat')).toBe(1);
    expect(res.routing.attempts[0]).toMatchObject({ target: 'c/m', reason: 'bad-response' });
    expect(res.routing.attempts[0]?.error).toBeInstanceOf(ProviderResponseError);
  });

  it('fails its stream attempt before any chunk, so the stream falls through to the next entry', async () => {
    const custom = throwsAtOnce(() => new ProviderConnectionError('c down', { provider: 'c', model: 'm' }));
    const { llm, up, events } = await harness({
      upstreams: { b: 'openai' },
      providers: { c: { type: 'custom', adapter: custom } },
      aliases: { 'mana/x': ['c/m', 'b/m2'] },
    });
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.at(-1)?.model).toBe('b/m2');
    expect(custom.calls).toBe(1);
    expect(up.b?.count('stream')).toBe(1);
    expect(events.of('fallback')).toMatchObject([{ from: 'c/m', to: 'b/m2', reason: 'connection' }]);
  });

  it('fails its embed attempt the same way', async () => {
    const custom = throwsAtOnce(() => new Error('boom'));
    const { llm } = await harness({
      upstreams: { b: 'openai' },
      providers: { c: { type: 'custom', adapter: custom } },
      aliases: { 'mana/e': ['c/m', 'b/e2'] },
    });
    const res = await llm.embed({ model: 'mana/e', input: 'x' });
    expect(res.model).toBe('b/e2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'c/m', reason: 'bad-response' });
  });
});
