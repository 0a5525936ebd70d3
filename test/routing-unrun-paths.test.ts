import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatChunk,
  ClosedError,
  createManaLLM,
  InvalidRequestError,
  type ProviderAdapter,
  ProviderConnectionError,
  ProviderResponseError,
  StreamInterruptedError,
} from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, collect, harness, KEY, recordEvents, rejection, USER, waitFor } from './helpers/client.js';
import { heldUpstream } from './helpers/held-upstream.js';

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

describe('a committed stream whose idle timeout fires as the client closes', () => {
  it('fails with ClosedError, counting nothing against the provider', async () => {
    const up = await heldUpstream();
    const clock = createFakeClock();
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
      clock,
      health: { probes: false, failureThreshold: 1 },
      timeouts: { idleMs: 1_000 },
    });
    const events = recordEvents(llm);
    const it = llm.stream({ model: 'mana/x', messages: USER });
    const first = it.next();
    await waitFor(() => up.held === 1, 'the stream request');
    up.startStream();
    expect((await first).done).toBe(false);
    // Hand out what the first read brought, up to the read that waits on the upstream.
    let second = it.next();
    for (;;) {
      const waiting = Symbol('waiting');
      const got = await Promise.race([second, new Promise((r) => setTimeout(() => r(waiting), 30))]);
      if (got === waiting) break;
      second = it.next();
    }
    // The idle timer fires and the client closes in the same turn, before the stream sees its read fail.
    clock.advance(1_000);
    const closing = llm.close();
    await expect(second).rejects.toBeInstanceOf(ClosedError);
    await closing;
    expect(events.of('failure')[0]?.error).toBeInstanceOf(ClosedError);
    expect(events.count('health')).toBe(0);
  });
});

describe('an attempt that times out as the client closes', () => {
  it('fails the call with ClosedError, recording nothing against the provider', async () => {
    const up = await heldUpstream();
    const clock = createFakeClock();
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY, timeoutMs: 1_000 } },
      clock,
      health: { probes: false, failureThreshold: 1 },
    });
    const events = recordEvents(llm);
    const call = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => up.held === 1, 'the chat request');
    // The attempt's timer fires and the client closes in the same turn, before the walk sees the attempt fail.
    clock.advance(1_000);
    const closing = llm.close();
    await expect(call).rejects.toBeInstanceOf(ClosedError);
    await closing;
    expect(events.count('health')).toBe(0);
    expect(events.count('fallback')).toBe(0);
  });
});

describe("a custom adapter's streamed choice without a delta", () => {
  it('is passed on, and the partial answer of a later interruption is the text around it', async () => {
    const chunk = (choice: Record<string, unknown>): ChatChunk => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'mine/m',
      choices: [{ index: 0, finish_reason: null, ...choice }] as ChatChunk['choices'],
    });
    const custom = throwsAtOnce(() => new Error('unused'));
    custom.stream = async function* () {
      yield chunk({ delta: { content: 'Hel' } });
      yield chunk({});
      yield chunk({ delta: { content: 'lo' } });
      throw new ProviderConnectionError('reset', { provider: 'mine', model: 'm' });
    };
    const { llm } = await harness({
      upstreams: {},
      providers: { mine: { type: 'custom', adapter: custom } },
      aliases: { 'mana/x': ['mine/m'] },
    });
    const got: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) got.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial.content).toBe('Hello');
    expect(got.map((c) => c.choices[0]?.delta?.content)).toEqual(['Hel', undefined, 'lo']);
  });
});

describe('a request field whose getter throws', () => {
  it("is the caller's InvalidRequestError at its path, with the thrown value as cause (none when it threw undefined)", async () => {
    const { llm, up } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const boom = new Error('boom');
    for (const thrown of [boom, undefined]) {
      const request = {
        model: 'mana/x',
        messages: USER,
        get metadata(): never {
          throw thrown;
        },
      };
      const err = (await rejection(llm.chat(request))) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues).toEqual([
        { path: 'request.metadata', message: expect.stringMatching(/^cannot be read/) },
      ]);
      expect(err.cause).toBe(thrown);
      expect('cause' in err).toBe(thrown !== undefined);
    }
    expect(up.a?.count('chat')).toBe(0);
  });
});
