import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM, type ManaLLMEvents } from '../src/index.js';
import { closeAll, collect, harness, rejection, USER } from './helpers/client.js';

afterEach(closeAll);

const ALIASES = {
  aliases: {
    'mana/x': { chain: ['a/m1', 'b/m2'] },
    'mana/c': { chain: ['a/m1', 'b/m2'], cache: true },
    'mana/e': { chain: ['a/e1'], cache: true },
  },
};

async function setup(
  cache: { ttlMs?: number; maxEntries?: number; maxBytes?: number } | false = { ttlMs: 1_000 },
) {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    options: { aliases: ALIASES, ...(cache ? { cache: { store: 'memory' as const, ...cache } } : {}) },
  });
  const hits: ManaLLMEvents['cache'][] = [];
  h.llm.on('cache', (e) => hits.push(e));
  return { ...h, a: h.up.a!, b: h.up.b!, cacheEvents: hits };
}

describe('the response cache', () => {
  it('serves a repeated alias call with cache: true from the cache, skipping the chain', async () => {
    const { llm, a, cacheEvents, events } = await setup();
    const first = await llm.chat({ model: 'mana/c', messages: USER });
    const second = await llm.chat({ model: 'mana/c', messages: USER });
    expect(a.count('chat')).toBe(1);
    expect(second.choices).toEqual(first.choices);
    expect(second.model).toBe('a/m1');
    expect(second.routing).toEqual({
      requested: 'mana/c',
      alias: 'mana/c',
      resolved: 'a/m1',
      attempts: [],
      cached: true,
    });
    expect(first.routing.cached).toBeUndefined();
    expect(cacheEvents.map((e) => e.hit)).toEqual([false, true]);
    expect(cacheEvents[1]).toMatchObject({ kind: 'chat', requested: 'mana/c', id: '2' });
    expect(cacheEvents[0]!.key).toBe(cacheEvents[1]!.key);
    // A hit is not an upstream call: no `response` event for it.
    expect(events.of('response')).toHaveLength(1);
  });

  it('uses the cache only for calls that ask for it, or aliases with cache: true', async () => {
    const { llm, a } = await setup();
    await llm.chat({ model: 'mana/x', messages: USER });
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(a.count('chat')).toBe(2);
    await llm.chat({ model: 'mana/x', messages: USER }, { cache: true });
    const hit = await llm.chat({ model: 'mana/x', messages: USER }, { cache: true });
    expect(hit.routing.cached).toBe(true);
    expect(a.count('chat')).toBe(3);
    // A call can opt out of an alias's cache.
    await llm.chat({ model: 'mana/c', messages: USER }, { cache: false });
    expect(a.count('chat')).toBe(4);
    // Direct models too, keyed by the resolved provider/model.
    await llm.chat({ model: 'b/m2', messages: USER }, { cache: true });
    expect((await llm.chat({ model: 'b/m2', messages: USER }, { cache: true })).routing).toEqual({
      requested: 'b/m2',
      resolved: 'b/m2',
      attempts: [],
      cached: true,
    });
  });

  it('keys an alias call on the alias name: another alias or the direct model with the same chain is a miss', async () => {
    const { llm, a } = await setup();
    await llm.chat({ model: 'mana/c', messages: USER });
    await llm.chat({ model: 'mana/x', messages: USER }, { cache: true });
    await llm.chat({ model: 'a/m1', messages: USER }, { cache: true });
    expect(a.count('chat')).toBe(3);
    expect((await llm.chat({ model: 'mana/x', messages: USER }, { cache: true })).routing.cached).toBe(true);
  });

  it('keys on the request content: a different message or setting is a miss', async () => {
    const { llm, a } = await setup();
    await llm.chat({ model: 'mana/c', messages: USER, temperature: 0 });
    await llm.chat({ model: 'mana/c', messages: USER, temperature: 1 });
    await llm.chat({ model: 'mana/c', messages: [{ role: 'user', content: 'Other' }], temperature: 0 });
    await llm.chat({ temperature: 0, messages: USER, model: 'mana/c' });
    expect(a.count('chat')).toBe(3);
  });

  it('expires entries after ttlMs on the injected clock', async () => {
    const { llm, a, clock } = await setup({ ttlMs: 1_000 });
    await llm.chat({ model: 'mana/c', messages: USER });
    clock.advance(999);
    await llm.chat({ model: 'mana/c', messages: USER });
    expect(a.count('chat')).toBe(1);
    clock.advance(1);
    await llm.chat({ model: 'mana/c', messages: USER });
    expect(a.count('chat')).toBe(2);
  });

  it('holds at most maxEntries answers', async () => {
    const { llm, a } = await setup({ ttlMs: 60_000, maxEntries: 1 });
    await llm.chat({ model: 'mana/c', messages: [{ role: 'user', content: '1' }] });
    await llm.chat({ model: 'mana/c', messages: [{ role: 'user', content: '2' }] });
    await llm.chat({ model: 'mana/c', messages: [{ role: 'user', content: '1' }] });
    expect(a.count('chat')).toBe(3);
  });

  it('holds at most maxBytes of answers (their stored text), dropping the least recently used', async () => {
    // Each answer's stored text is a little over 3,000 characters: two do not fit in 5,000.
    const { llm, a } = await setup({ ttlMs: 60_000, maxBytes: 5_000 });
    a.setDefault({ reply: 'x'.repeat(3_000) });
    const ask = (content: string) => llm.chat({ model: 'mana/c', messages: [{ role: 'user', content }] });
    await ask('1');
    expect((await ask('1')).routing.cached).toBe(true);
    await ask('2');
    expect((await ask('2')).routing.cached).toBe(true);
    expect((await ask('1')).routing.cached).toBeUndefined();
    expect(a.count('chat')).toBe(3);
    // An answer larger than the whole budget is not kept, and does not push out the others.
    a.setDefault({ reply: 'y'.repeat(6_000) });
    await ask('3');
    expect((await ask('3')).routing.cached).toBeUndefined();
    expect((await ask('1')).routing.cached).toBe(true);
    expect(a.count('chat')).toBe(5);
  });

  it('never caches an error: the next call goes upstream again', async () => {
    const { llm, a, b } = await setup();
    a.setDefault({ status: 500 });
    b.setDefault({ status: 400 });
    expect(await rejection(llm.chat({ model: 'mana/c', messages: USER }))).toMatchObject({ status: 400 });
    b.setDefault({ reply: 'ok' });
    const served = await llm.chat({ model: 'mana/c', messages: USER });
    expect(served.routing.cached).toBeUndefined();
    expect(served.choices[0]!.message.content).toBe('ok');
    expect(b.count('chat')).toBe(2);
    expect((await llm.chat({ model: 'mana/c', messages: USER })).routing.cached).toBe(true);
  });

  it('caches embeddings too, and leaves streams alone', async () => {
    const { llm, a } = await setup();
    const first = await llm.embed({ model: 'mana/e', input: 'hello' });
    const second = await llm.embed({ model: 'mana/e', input: ['hello'] });
    expect(a.count('embed')).toBe(1);
    expect(second.data).toEqual(first.data);
    expect(second.routing.cached).toBe(true);
    await collect(llm.stream({ model: 'mana/c', messages: USER }, { cache: true }));
    await collect(llm.stream({ model: 'mana/c', messages: USER }, { cache: true }));
    expect(a.count('stream')).toBe(2);
  });

  it('a stored value of the wrong shape for the call (corrupt, or planted in a shared store) is a miss', async () => {
    const planted: Record<string, string> = {
      chat: JSON.stringify({ v: 1, resolved: 'a/m1', response: { object: 'list', data: [] } }),
      embed: JSON.stringify({ v: 1, resolved: 'a/e1', response: { choices: 'x' } }),
    };
    let kind = 'chat';
    const store = { getResponse: () => planted[kind], setResponse: () => undefined };
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      options: { aliases: ALIASES, cache: { store } },
    });
    const res = await h.llm.chat({ model: 'mana/c', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hello!');
    expect(res.routing.cached).toBeUndefined();
    kind = 'embed';
    const emb = await h.llm.embed({ model: 'mana/e', input: 'a' });
    expect(emb.data).toHaveLength(1);
    expect(emb.routing.cached).toBeUndefined();
  });

  it('a cached answer is a copy: changing one does not change the next', async () => {
    const { llm } = await setup();
    await llm.chat({ model: 'mana/c', messages: USER });
    const hit = await llm.chat({ model: 'mana/c', messages: USER });
    hit.choices[0]!.message.content = 'changed';
    const again = await llm.chat({ model: 'mana/c', messages: USER });
    expect(again.choices[0]!.message.content).toBe('Hello!');
  });

  it('without a cache option, a call asking for cache: true is a ConfigError naming it, sent nowhere', async () => {
    const { llm, a } = await setup(false);
    const before = llm.health();
    for (const call of [
      () => llm.chat({ model: 'mana/x', messages: USER }, { cache: true }),
      () => llm.embed({ model: 'mana/e', input: 'a' }, { cache: true }),
    ]) {
      const err = (await rejection(call())) as ConfigError;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.code).toBe('CONFIG');
      expect(err.issues).toEqual([{ path: 'cache', message: expect.stringContaining('cache option') }]);
    }
    expect(a.requests).toHaveLength(0);
    expect(llm.health()).toEqual(before);
    // An alias with cache: true on a client without a cache is served uncached.
    await llm.chat({ model: 'mana/c', messages: USER });
    await llm.chat({ model: 'mana/c', messages: USER });
    expect(a.count('chat')).toBe(2);
  });

  it('rejects a malformed cache option', () => {
    const base = { aliases: ALIASES, providers: { ollama: {} } };
    const err = (() => {
      try {
        createManaLLM({ ...base, cache: { store: 'disk' as never, ttlMs: -1, maxEntries: 0 } });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.issues.map((i) => i.path).sort()).toEqual(['cache.maxEntries', 'cache.store', 'cache.ttlMs']);
  });

  it('rejects a cache store missing setResponse (it would fail every store, silently)', () => {
    const store = { getResponse: () => Promise.resolve(undefined) };
    let err: unknown;
    try {
      createManaLLM({ aliases: ALIASES, providers: { ollama: {} }, cache: { store: store as never } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['cache.store']);
  });
});

describe('the response cache key of a direct model', () => {
  it('is the resolved provider/model: a bare model on the default provider and its full name share answers', async () => {
    const h = await harness({
      upstreams: { a: 'openai' },
      options: { defaultProvider: 'a', cache: { store: 'memory' as const } },
    });
    await h.llm.chat({ model: 'm1', messages: USER }, { cache: true });
    const hit = await h.llm.chat({ model: 'a/m1', messages: USER }, { cache: true });
    expect(hit.routing.cached).toBe(true);
    expect(h.up.a?.count('chat')).toBe(1);
  });
});
