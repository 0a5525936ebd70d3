import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../src/index.js';
import { closeAll, harness, KEY, rejection, USER, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** A client whose cache store holds one planted value for every key (as anyone who can write to a shared Redis could). */
async function planted(response: unknown, aliases: Record<string, unknown> = {}) {
  let value = JSON.stringify({ v: 1, resolved: 'a/m1', response });
  const store = { getResponse: () => value, setResponse: () => undefined };
  const h = await harness({
    upstreams: { a: 'openai' },
    options: {
      aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true }, ...aliases } },
      cache: { store },
    },
  });
  return {
    ...h,
    plant: (r: unknown) => {
      value = JSON.stringify({ v: 1, resolved: 'a/m1', response: r });
    },
  };
}

describe('a stored chat answer that is not one (planted in a shared store) is a miss, not a crash in the caller', () => {
  const bad: [string, unknown][] = [
    ['a null choice', { choices: [null] }],
    ['a choice without a message', { choices: [{ finish_reason: 'stop' }] }],
    ['a message that is a text', { choices: [{ message: 'hi', finish_reason: 'stop' }] }],
    ['no choice at all', { choices: [] }],
    ['content of the wrong type', { choices: [{ message: { content: { x: 1 } }, finish_reason: 'stop' }] }],
    ['tool calls that are not calls', { choices: [{ message: { tool_calls: [1] }, finish_reason: 'stop' }] }],
    ['no finish reason', { choices: [{ message: { content: 'x' }, finish_reason: null }] }],
  ];
  for (const [what, response] of bad)
    it(what, async () => {
      const { llm, up } = await planted(response);
      const res = await llm.chat({ model: 'mana/c', messages: USER });
      expect(res.routing.cached).toBeUndefined();
      expect(res.choices[0]?.message.content).toBe('Hello!');
      expect(up.a?.count('chat')).toBe(1);
    });

  it('a well-formed stored answer is still a hit', async () => {
    const { llm, up } = await planted({
      choices: [{ index: 0, message: { role: 'assistant', content: 'from cache' }, finish_reason: 'length' }],
    });
    const res = await llm.chat({ model: 'mana/c', messages: USER });
    expect(res.routing.cached).toBe(true);
    expect(res.choices[0]?.message.content).toBe('from cache');
    expect(up.a?.count('chat')).toBe(0);
  });
});

describe('a stored embeddings answer that is not one is a miss', () => {
  const bad: [string, unknown][] = [
    ['a list of numbers', { data: [1, 2] }],
    ['an item without a vector', { data: [{ index: 0 }] }],
    ['an empty vector', { data: [{ index: 0, embedding: [] }] }],
    ['a vector of texts', { data: [{ index: 0, embedding: ['a', 'b'] }] }],
    ['vectors of different lengths', { data: [{ embedding: [1, 2] }, { embedding: [1] }] }],
  ];
  for (const [what, response] of bad)
    it(what, async () => {
      const { llm, up } = await planted(response, { 'mana/e': { chain: ['a/e1'], cache: true } });
      const res = await llm.embed({ model: 'mana/e', input: 'a' });
      expect(res.routing.cached).toBeUndefined();
      expect(res.data[0]?.embedding.length).toBeGreaterThan(0);
      expect(up.a?.count('embed')).toBe(1);
    });

  it('a number too big for a float (1e999, parsed as Infinity) in a vector', async () => {
    // JSON.stringify cannot write Infinity: the text as a shared Redis could hold it.
    const text = JSON.stringify({
      v: 1,
      resolved: 'a/e1',
      response: { data: [{ index: 0, embedding: [1] }] },
    });
    const store = { getResponse: () => text.replace('[1]', '[1e999]'), setResponse: () => undefined };
    const h = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/e': { chain: ['a/e1'], cache: true } } }, cache: { store } },
    });
    const res = await h.llm.embed({ model: 'mana/e', input: 'a' });
    expect(res.routing.cached).toBeUndefined();
    expect(res.data[0]?.embedding.every(Number.isFinite)).toBe(true);
  });

  it("an alias's dimensions: a stored vector of another length is a miss (another process's alias, an old chain)", async () => {
    const { llm, up } = await planted(
      { data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }] },
      { 'mana/e': { chain: ['a/e1'], cache: true, dimensions: 4 } },
    );
    up.a?.setDefault({ dimensions: 4 });
    const res = await llm.embed({ model: 'mana/e', input: 'a' });
    expect(res.routing.cached).toBeUndefined();
    expect(res.data[0]?.embedding).toHaveLength(4);
    expect(up.a?.count('embed')).toBe(1);
  });
});

describe('a stored answer with an own __proto__ key', () => {
  it('is handed out without it, as an upstream reply is', async () => {
    const text = JSON.stringify({
      v: 1,
      resolved: 'a/m1',
      response: { choices: [{ message: { content: 'x', role: 'assistant' }, finish_reason: 'stop' }] },
    }).replace('"content"', '"__proto__":{"polluted":true},"content"');
    const store = { getResponse: () => text, setResponse: () => undefined };
    const h = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    const res = await h.llm.chat({ model: 'mana/c', messages: USER });
    expect(res.routing.cached).toBe(true);
    const message = res.choices[0]!.message;
    expect(Object.keys(message)).not.toContain('__proto__');
    expect(Object.assign({}, message)).not.toHaveProperty('polluted');
  });
});

describe('a cache store that never answers (a custom store whose backend hangs)', () => {
  async function hung() {
    let reads = 0;
    const store = {
      getResponse: () => {
        reads++;
        return new Promise<string | undefined>(() => {});
      },
      setResponse: () => undefined,
    };
    const h = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    return { ...h, reads: () => reads };
  }

  it("the caller's abort rejects the call with its reason at once", async () => {
    const { llm, reads } = await hung();
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/c', messages: USER }, { signal: ac.signal });
    await waitFor(() => reads() === 1, 'the cache read');
    const reason = new Error('caller gave up');
    ac.abort(reason);
    expect(await rejection(call)).toBe(reason);
  });

  it('the call ends at its timeoutMs as one whose budget ran out, not waiting forever', async () => {
    const { llm, reads, clock } = await hung();
    const call = llm.chat({ model: 'mana/c', messages: USER }, { timeoutMs: 1_000 });
    await waitFor(() => reads() === 1, 'the cache read');
    const failed = rejection(call);
    await clock.advanceAsync(1_000);
    expect(await failed).toMatchObject({
      code: 'NO_HEALTHY_PROVIDER',
      attempts: [{ target: 'a/m1', reason: 'deadline' }],
    });
  });

  it('close() settles the call with CLOSED before it returns', async () => {
    const { llm, reads } = await hung();
    let settled: unknown;
    const call = llm.chat({ model: 'mana/c', messages: USER }).catch((err: unknown) => {
      settled = err;
    });
    await waitFor(() => reads() === 1, 'the cache read');
    await llm.close();
    await Promise.resolve();
    await call;
    expect(settled).toBeInstanceOf(ClosedError);
  });
});

describe('an answer cut short (a choice without a finish reason)', () => {
  it('is served but not written to the store (it would never be read back)', async () => {
    const reply = {
      choices: [{ index: 0, message: { role: 'assistant', content: 'half' }, finish_reason: null }],
    };
    const raw = await rawUpstream(
      (_, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply)),
    );
    const sets: string[] = [];
    const store = { getResponse: () => undefined, setResponse: (_k: string, v: string) => void sets.push(v) };
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    const res = await llm.chat({ model: 'mana/c', messages: USER });
    expect(res.choices[0]?.message.content).toBe('half');
    expect(sets).toEqual([]);
  });
});

describe('the cache key of a request holding a value with toJSON (a Date in a field passed through)', () => {
  it('follows what the value sends: another date is another key, an equal one the same', async () => {
    const { llm, events } = await rawStore(() => undefined as unknown as string);
    for (const at of [1, 2, 1]) {
      const request = { model: 'mana/c', messages: USER, metadata: { at: new Date(at) } };
      await llm.chat(request as Parameters<typeof llm.chat>[0]);
    }
    const [one, two, again] = events.of('cache').map((e) => e.key);
    expect(two).not.toBe(one);
    expect(again).toBe(one);
  });
});

describe('a cache store that answers later (a promise)', () => {
  it("leaves no timer on the client's clock and no listener on the caller's signal once it answered", async () => {
    const text = JSON.stringify({ v: 1, resolved: 'a/m1', response: STOP });
    const h = await rawStore(() => Promise.resolve(text) as unknown as string);
    const before = h.clock.pending();
    const ac = new AbortController();
    const res = await h.llm.chat(
      { model: 'mana/c', messages: USER },
      { signal: ac.signal, timeoutMs: 60_000 },
    );
    expect(res.routing.cached).toBe(true);
    expect(h.clock.pending()).toBe(before);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('a caller that aborts mid-call, before the cache read starts', () => {
  it("ends the call with the caller's reason at once, not when the store answers", async () => {
    const store = { getResponse: () => new Promise<string>(() => {}), setResponse: () => undefined };
    const { llm, up } = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    // The 'request' listener runs after the call's entry check and before the store is asked.
    llm.on('request', () => ac.abort(reason));
    const call = rejection(llm.chat({ model: 'mana/c', messages: USER }, { signal: ac.signal }));
    // Nothing but the abort can settle it: the store never answers and the fake clock does not move.
    const first = await Promise.race([call, new Promise((r) => setImmediate(() => r('still waiting')))]);
    expect(first).toBe(reason);
    expect(up.a?.count()).toBe(0);
  });
});

describe('a stored answer whose usage holds no counts', () => {
  it('is a miss: a caller summing tokens never gets a text or a negative count', async () => {
    const choices = [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }];
    const { llm, plant, up } = await planted({ choices, usage: { prompt_tokens: 'lots', total_tokens: 3 } });
    expect((await llm.chat({ model: 'mana/c', messages: USER })).routing.cached).toBeUndefined();
    plant({ choices, usage: { prompt_tokens: 1, completion_tokens: -1, total_tokens: 1 } });
    expect((await llm.chat({ model: 'mana/c', messages: USER })).routing.cached).toBeUndefined();
    expect(up.a?.count('chat')).toBe(2);
    plant({ choices, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    expect((await llm.chat({ model: 'mana/c', messages: USER })).routing.cached).toBe(true);
  });
});

describe('a stored answer read back just as the call ends', () => {
  it('is reported as a miss, so the call ends with exactly one of cache (hit), response, failure', async () => {
    const stored = JSON.stringify({
      v: 1,
      resolved: 'a/m1',
      response: { choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }] },
    });
    let answer = (_: string) => {};
    const store = {
      getResponse: () => new Promise<string>((resolve) => (answer = resolve)),
      setResponse: () => undefined,
    };
    const { llm, events } = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    const ac = new AbortController();
    const call = rejection(llm.chat({ model: 'mana/c', messages: USER }, { signal: ac.signal }));
    await Promise.resolve();
    // The store answers, and the caller gives up before the call has looked at the answer.
    answer(stored);
    await Promise.resolve();
    const reason = new Error('caller gave up');
    ac.abort(reason);
    expect(await call).toBe(reason);
    const ends = events.all.filter((e) => ['cache', 'response', 'failure', 'cancel'].includes(e.name));
    const terminal = ends.filter((e) => e.name !== 'cache' || (e.payload as { hit: boolean }).hit);
    expect(terminal.map((e) => e.name)).toHaveLength(1);
  });
});

describe('a cache store that answers with something other than a text (a custom store gone wrong)', () => {
  for (const [what, got] of [
    ['a number', () => 42],
    ['a promise of an object', () => Promise.resolve({ v: 1 })],
    [
      'a thenable whose then() throws',
      () => ({
        // biome-ignore lint/suspicious/noThenProperty: a store's hand-made promise-like
        then() {
          throw new Error('broken then');
        },
      }),
    ],
    [
      'an object whose then getter throws',
      () => ({
        // biome-ignore lint/suspicious/noThenProperty: a store's hand-made promise-like
        get then() {
          throw new Error('broken then getter');
        },
      }),
    ],
  ] as const)
    it(`${what} is a miss, not a failed call`, async () => {
      const store = { getResponse: got as unknown as () => string, setResponse: () => undefined };
      const h = await harness({
        upstreams: { a: 'openai' },
        options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
      });
      const res = await h.llm.chat({ model: 'mana/c', messages: USER });
      expect(res.choices[0]?.message.content).toBe('Hello!');
    });
});

/** A client whose cache store answers `text` for every key, and records what it is asked to store and close. */
async function rawStore(text: () => string, options: Record<string, unknown> = {}) {
  const sets: string[] = [];
  let closed = 0;
  const store = {
    getResponse: () => text(),
    setResponse: (_k: string, v: string) => void sets.push(v),
    close: async () => void closed++,
  };
  const h = await harness({
    upstreams: { a: 'openai' },
    options: {
      aliases: {
        aliases: { 'mana/c': { chain: ['a/m1'], cache: true }, 'mana/e': { chain: ['a/e1'], cache: true } },
      },
      cache: { store },
      ...options,
    },
  });
  return { ...h, sets, closed: () => closed };
}

const STOP = {
  choices: [{ index: 0, message: { role: 'assistant', content: 'ééé from cache' }, finish_reason: 'stop' }],
};

describe('the stored wrapper and its reply cap', () => {
  const wrappers: [string, unknown][] = [
    ['another version', { v: 2, resolved: 'a/m1', response: STOP }],
    ['a resolved that is not a text', { v: 1, resolved: 7, response: STOP }],
    [
      'an empty finish reason',
      { v: 1, resolved: 'a/m1', response: { choices: [{ message: { content: 'x' }, finish_reason: '' }] } },
    ],
  ];
  for (const [what, stored] of wrappers)
    it(`${what} is a miss`, async () => {
      const { llm, up } = await rawStore(() => JSON.stringify(stored));
      const res = await llm.chat({ model: 'mana/c', messages: USER });
      expect(res.routing.cached).toBeUndefined();
      expect(up.a?.count('chat')).toBe(1);
    });

  it('a stored text of exactly the cap in UTF-8 bytes is a hit; one byte over (fewer characters than the cap) is a miss', async () => {
    const text = JSON.stringify({ v: 1, resolved: 'a/m1', response: STOP });
    const bytes = Buffer.byteLength(text);
    expect(text.length).toBeLessThan(bytes - 1);
    const at = await rawStore(() => text, { limits: { maxResponseBytes: bytes } });
    expect((await at.llm.chat({ model: 'mana/c', messages: USER })).routing.cached).toBe(true);
    // The miss goes upstream, whose reply is over this tiny cap too: only the lookup matters here.
    const over = await rawStore(() => text, { limits: { maxResponseBytes: bytes - 1 } });
    await over.llm.chat({ model: 'mana/c', messages: USER }).catch(() => undefined);
    expect(over.events.of('cache').map((e) => e.hit)).toEqual([false]);
  });

  it('an answer whose stored text is over the cap is not written (it could never be read); one at the cap is', async () => {
    const miss = () => undefined as unknown as string;
    const probe = await rawStore(miss);
    await probe.llm.chat({ model: 'mana/c', messages: USER });
    const bytes = Buffer.byteLength(probe.sets[0] ?? '');
    expect(bytes).toBeGreaterThan(0);
    // The wrapper makes the stored text longer than the upstream's reply, which stays within the cap.
    const at = await rawStore(miss, { limits: { maxResponseBytes: bytes } });
    await at.llm.chat({ model: 'mana/c', messages: USER });
    expect(at.sets.map((t) => Buffer.byteLength(t))).toEqual([bytes]);
    const over = await rawStore(miss, { limits: { maxResponseBytes: bytes - 1 } });
    const res = await over.llm.chat({ model: 'mana/c', messages: USER });
    expect(res.routing.cached).toBeUndefined();
    expect(over.sets).toEqual([]);
  });

  it('embeddings are held to limits.maxEmbeddingResponseBytes, not the chat cap', async () => {
    const text = JSON.stringify({
      v: 1,
      resolved: 'a/e1',
      response: { data: [{ index: 0, embedding: [0.5, 0.25] }] },
    });
    const { llm } = await rawStore(() => text, {
      limits: { maxResponseBytes: 10, maxEmbeddingResponseBytes: Buffer.byteLength(text) },
    });
    const res = await llm.embed({ model: 'mana/e', input: 'a' });
    expect(res.routing.cached).toBe(true);
    expect(res.data[0]?.embedding).toEqual([0.5, 0.25]);
  });

  it('a hit read back after close() (a store answering as the client closes) is not served: the call is CLOSED', async () => {
    const text = JSON.stringify({ v: 1, resolved: 'a/m1', response: STOP });
    let llm: Awaited<ReturnType<typeof rawStore>>['llm'] | undefined;
    const h = await rawStore(() => {
      void llm?.close();
      return text;
    });
    llm = h.llm;
    expect(await rejection(h.llm.chat({ model: 'mana/c', messages: USER }))).toBeInstanceOf(ClosedError);
    expect(h.events.of('cache').map((e) => e.hit)).toEqual([false]);
  });

  it('close() closes the cache store', async () => {
    const { llm, closed } = await rawStore(() => '');
    await llm.close();
    expect(closed()).toBe(1);
  });
});

describe("the cache store's setResponse", () => {
  async function withStore(setResponse: (key: string, value: string, ttlMs: number) => unknown) {
    const store = { getResponse: () => undefined, setResponse };
    return harness({
      upstreams: { a: 'openai' },
      options: {
        aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } },
        cache: { store: store as never, ttlMs: 12_345 },
      },
    });
  }

  it('is given the stored answer for cache.ttlMs', async () => {
    const sets: [string, number][] = [];
    const { llm } = await withStore((_k, v, ttlMs) => void sets.push([v, ttlMs]));
    await llm.chat({ model: 'mana/c', messages: USER });
    expect(sets).toHaveLength(1);
    expect(JSON.parse(sets[0]![0])).toMatchObject({ v: 1, resolved: 'a/m1' });
    expect(sets[0]![1]).toBe(12_345);
  });

  for (const [what, setResponse] of [
    [
      'throwing',
      () => {
        throw new Error('store down');
      },
    ],
    ['rejecting', () => Promise.reject(new Error('store down'))],
  ] as const)
    it(`${what} is ignored: the call is served and no rejection is left unhandled`, async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const { llm } = await withStore(setResponse);
        const res = await llm.chat({ model: 'mana/c', messages: USER });
        expect(res.choices[0]?.message.content).toBe('Hello!');
        // Node reports an unhandled rejection once the microtasks ran out, before the next setImmediate.
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
});
