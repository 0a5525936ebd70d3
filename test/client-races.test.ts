import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatRequest,
  ClosedError,
  createManaLLM,
  InvalidRequestError,
  type ProviderAdapter,
  ProviderHTTPError,
  type ProviderOptions,
} from '../src/index.js';
import { openaiCodec } from '../src/testing/index.js';
import {
  closeAll,
  harness,
  KEY,
  localServer,
  rejection,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { nextCallHedges } from './helpers/hedge.js';
import { rawUpstream } from './helpers/raw-upstream.js';

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

/** An image server on 127.0.0.1 that never answers, counting requests. */
async function hangingImageServer(): Promise<{ url: string; readonly hits: number }> {
  let hits = 0;
  const port = await localServer(() => void hits++);
  return {
    url: `http://127.0.0.1:${port}/cat.png`,
    get hits() {
      return hits;
    },
  };
}

describe('a hedge that never started because its call ended while it got ready', () => {
  it("gives its budget token back: the caller's abort during the hedge's image fetch costs no later hedge", async () => {
    const img = await hangingImageServer();
    // `a` passes image URLs on and holds every request; `o` (Ollama) must fetch the images first.
    const a = await rawUpstream(() => undefined);
    const { llm, clock, up, events } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      // One token, never refilled: a hedge whose token is lost leaves no other.
      options: { images: { fetch: 'all', timeoutMs: 5_000 }, hedging: { budgetMax: 1, budgetRatio: 0 } },
    });
    const ac = new AbortController();
    const withImage: ChatRequest = {
      model: 'mana/v',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.url } }] }],
    };
    const first = llm.chat(withImage, { signal: ac.signal });
    await waitFor(() => a.received === 1, 'the first call at a');
    await clock.advanceAsync(300);
    await waitFor(() => img.hits === 1, "the hedge's image fetch");
    const reason = new Error('caller gave up');
    ac.abort(reason);
    expect(await rejection(first)).toBe(reason);
    expect(events.of('hedge')).toHaveLength(0);
    expect(up.o?.count()).toBe(0);

    // The next slow call hedges: the token was never spent on a hedge.
    await nextCallHedges(llm, a, clock, events);
  });
});

describe('a hedge due in the same turn as the caller gives up', () => {
  it('starts nothing, gives its token back, and lets go of the first attempt (its place at the provider too)', async () => {
    // `a` holds every request, one at a time; `b` answers at once.
    const a = await rawUpstream(() => undefined);
    const { llm, clock, up, events } = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY, maxConcurrent: 1 } },
      aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } } },
      // One token, never refilled: a hedge whose token is lost leaves no other.
      options: { hedging: { budgetMax: 1, budgetRatio: 0 } },
    });
    const ac = new AbortController();
    const first = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.received === 1, 'the first call at a');
    const reason = new Error('caller gave up');
    clock.advance(300);
    ac.abort(reason);
    expect(await rejection(first)).toBe(reason);
    expect(events.of('hedge')).toHaveLength(0);
    expect(up.b?.count()).toBe(0);

    // The next slow call is sent to a (not saturated) and hedges (the token is back).
    const second = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => a.received === 2, 'the second call at a');
    await clock.advanceAsync(300);
    await waitFor(() => events.of('hedge').length === 1, "the second call's hedge");
    expect((await second).model).toBe('b/m');
  });
});

describe("a hedged call whose first entry fails while the hedge's entry fetches the call's images", () => {
  it("with the caller's own mistake (a 400): rejects with it at once, not after the image fetch with its error", async () => {
    const img = await hangingImageServer();
    let held: ServerResponse | undefined;
    const a = await rawUpstream((_text, res) => {
      held = res;
    });
    const { llm, clock, up, events } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      options: { images: { fetch: 'all', timeoutMs: 5_000 } },
    });
    let outcome: unknown;
    llm
      .chat({
        model: 'mana/v',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.url } }] }],
      })
      .then(
        (r) => {
          outcome = r;
        },
        (err: unknown) => {
          outcome = err;
        },
      );
    await waitFor(() => a.received === 1, 'the call at a');
    await clock.advanceAsync(300);
    await waitFor(() => img.hits === 1, "the hedge's image fetch");
    held
      ?.writeHead(400, { 'content-type': 'application/json' })
      .end('{"error":{"message":"temperature is out of range"}}');
    // The image fetch's own timeout (5 s on the call's clock) never runs out here.
    await waitFor(() => outcome !== undefined, "a's error");
    expect(outcome).toBeInstanceOf(ProviderHTTPError);
    expect(outcome).toMatchObject({ status: 400 });
    expect(up.o?.count()).toBe(0);
    expect(events.of('hedge')).toHaveLength(0);
    expect(events.count('failure')).toBe(1);
  });
});

describe('close() called again while the first close() is still closing', () => {
  it('resolves only once everything is closed, as the first does', async () => {
    let closeAdapter: () => void = () => undefined;
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
      // Its connections take a while to close.
      close: () => new Promise<void>((resolve) => (closeAdapter = resolve)),
    };
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
      providers: { mine: { type: 'custom', adapter } },
      health: { probes: false },
    });
    const settled: string[] = [];
    const first = llm.close().then(() => settled.push('first'));
    const second = llm.close().then(() => settled.push('second'));
    await new Promise((r) => setImmediate(r));
    expect(settled).toEqual([]);
    closeAdapter();
    await Promise.all([first, second]);
    expect(settled).toEqual(['first', 'second']);
  });
});

describe("a hedge whose entry cannot have the call's images", () => {
  for (const first of ['answers', 'fails'] as const) {
    it(`is not started: the first entry, which passes the URL on, ${first === 'answers' ? 'still answers' : 'then fails: the image is the error, as without a hedge'}`, async () => {
      let held: { model: string; res: ServerResponse } | undefined;
      const a = await rawUpstream((text, res) => {
        held = { model: (JSON.parse(text) as { model: string }).model, res };
      });
      const { llm, clock, up, events } = await harness({
        upstreams: { o: 'ollama' },
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
        // Nothing is fetched on this server: only an entry that passes URLs on can serve an image by URL.
        options: { images: { fetch: 'none' } },
      });
      let outcome: unknown;
      llm
        .chat({
          model: 'mana/v',
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }],
            },
          ],
        })
        .then(
          (r) => {
            outcome = r;
          },
          (err: unknown) => {
            outcome = err;
          },
        );
      await waitFor(() => a.received === 1, 'the call at a');
      await clock.advanceAsync(300);
      await new Promise((r) => setImmediate(r));
      if (first === 'answers')
        held?.res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(openaiCodec.chat({ reply: 'a cat' }, held.model)));
      else
        held?.res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
      await waitFor(() => outcome !== undefined, "a's answer");
      if (first === 'answers')
        expect(outcome).toMatchObject({ model: 'a/m', choices: [{ message: { content: 'a cat' } }] });
      else expect(outcome).toBeInstanceOf(InvalidRequestError);
      expect(up.o?.count()).toBe(0);
      expect(events.of('hedge')).toHaveLength(0);
    });
  }
});

describe("a first entry that settles in the same turn as the hedge's entry starts after its images", () => {
  const completion = {
    id: 'c1',
    object: 'chat.completion' as const,
    created: 1,
    model: 'c/m',
    choices: [
      { index: 0, message: { role: 'assistant' as const, content: 'hi' }, finish_reason: 'stop' as const },
    ],
  };
  for (const first of ['answers', 'fails'] as const) {
    it(`${first}: the cancelled hedge's abort is handled, and nothing of the call changes after it settled`, async () => {
      let settle: (() => void) | undefined;
      const mine = {
        capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
        chat: () =>
          new Promise((resolve, reject) => {
            settle = () =>
              first === 'answers' ? resolve(completion) : reject(new InvalidRequestError('bad request'));
          }),
        stream: async function* () {},
        embed: async () => undefined,
        probe: async () => ({ ok: true }),
        models: async () => [],
      } as unknown as ProviderAdapter;
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        // `o` (Ollama) needs the image's bytes: a data: URL, in at once when the hedge starts.
        const { llm, clock, events } = await harness({
          upstreams: { o: 'ollama' },
          // One call at a time at o: a cancelled hedge that kept its place would leave o saturated.
          providers: { c: { type: 'custom', adapter: mine }, o: { maxConcurrent: 1 } as ProviderOptions },
          aliases: { 'mana/v': { chain: ['c/m', 'o/llava'], hedge: { afterMs: 300 } } },
        });
        let outcome: unknown;
        let atEnd: { attempts: string; events: number } | undefined;
        llm
          .chat({
            model: 'mana/v',
            messages: [
              {
                role: 'user',
                content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }],
              },
            ],
          })
          .then(
            (r) => {
              outcome = r;
            },
            (err: unknown) => {
              outcome = err;
            },
          )
          .finally(() => {
            const { attempts } = (outcome as { routing?: { attempts: unknown } }).routing ?? {};
            atEnd = { attempts: JSON.stringify(attempts), events: events.all.length };
          });
        await waitFor(() => settle !== undefined, 'the call at c');
        // The first entry settles, and in the same turn the hedge's delay runs out.
        settle?.();
        clock.advance(300);
        await waitFor(() => atEnd !== undefined, 'the call to settle');
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        if (first === 'answers') {
          expect(outcome).toMatchObject({ model: 'c/m' });
          expect(JSON.stringify((outcome as { routing: { attempts: unknown } }).routing.attempts)).toBe(
            atEnd?.attempts,
          );
        } else expect(outcome).toBeInstanceOf(InvalidRequestError);
        expect(events.all.length).toBe(atEnd?.events);
        expect(unhandled).toEqual([]);
        expect((await llm.chat({ model: 'o/llava', messages: USER })).model).toBe('o/llava');
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  }
});
