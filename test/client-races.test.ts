import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, createManaLLM } from '../src/index.js';
import { closeAll, KEY, rejection, track, USER, upstream } from './helpers/client.js';

afterEach(closeAll);

/** A cache store whose reads wait until the test lets them answer (a slow shared cache). */
function heldStore() {
  const saved = new Map<string, string>();
  let hold = false;
  const waiting: (() => void)[] = [];
  return {
    store: {
      getResponse: (key: string) => {
        if (!hold) return saved.get(key);
        return new Promise<string | undefined>((resolve) => waiting.push(() => resolve(saved.get(key))));
      },
      setResponse: (key: string, value: string) => void saved.set(key, value),
    },
    holdReads: () => {
      hold = true;
    },
    get waiting() {
      return waiting.length;
    },
    answerReads: () => {
      for (const answer of waiting.splice(0)) answer();
    },
  };
}

async function cachedClient() {
  const a = await upstream('openai');
  const held = heldStore();
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      health: { probes: false },
      cache: { store: held.store },
    }),
  );
  // The first call is served upstream and stored; the next read of it waits on the store.
  await llm.chat({ model: 'mana/c', messages: USER });
  held.holdReads();
  return { a, llm, held };
}

describe('a cache hit that comes after the call ended', () => {
  it("after the caller's abort: the call rejects with the abort reason, not the cached answer", async () => {
    const { a, llm, held } = await cachedClient();
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/c', messages: USER }, { signal: ac.signal });
    await Promise.resolve();
    expect(held.waiting).toBe(1);
    const reason = new Error('caller gave up');
    ac.abort(reason);
    held.answerReads();
    expect(await rejection(call)).toBe(reason);
    expect(a.count('chat')).toBe(1);
  });

  it('after close() returned: the call rejects with CLOSED, not the cached answer', async () => {
    const { a, llm, held } = await cachedClient();
    const call = llm.chat({ model: 'mana/c', messages: USER });
    await Promise.resolve();
    expect(held.waiting).toBe(1);
    await llm.close();
    held.answerReads();
    expect(await rejection(call)).toBeInstanceOf(ClosedError);
    expect(a.count('chat')).toBe(1);
  });
});
