import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import {
  createManaLLM,
  InvalidRequestError,
  NoHealthyProviderError,
  type ProviderAdapter,
  toServerSentEvents,
} from '../src/index.js';
import { createRedisHealthStore } from '../src/redis/index.js';
import { createFakeClock, type MockUpstream } from '../src/testing/index.js';
import {
  closeAll,
  harness,
  KEY,
  refusedUrl,
  rejection,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** An OpenAI-compatible upstream holding every request until the test answers it. */
async function holding() {
  const held: ServerResponse[] = [];
  const up = await rawUpstream((_body, res) => void held.push(res));
  return { url: up.url, held, received: () => up.received };
}

function client(url: string) {
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: { a: { type: 'openai', baseUrl: url, apiKey: KEY } },
      health: { probes: false },
    }),
  );
}

describe('a caller abort reason with no string form', () => {
  it('is rethrown as is, with a failure listener attached', async () => {
    const up = await holding();
    const llm = client(up.url);
    const failures: unknown[] = [];
    llm.on('failure', (e) => void failures.push(e));
    for (const reason of [Object.create(null), Object.assign(new Error('x'), { message: Symbol('s') })]) {
      const ac = new AbortController();
      const call = llm.chat({ model: 'a/m', messages: USER }, { signal: ac.signal });
      await waitFor(() => up.held.length > 0, 'the request at the upstream');
      up.held.length = 0;
      ac.abort(reason);
      expect(await rejection(call)).toBe(reason);
    }
    expect(failures).toHaveLength(2);
  });
});

describe('a listener that throws a value with no string form', () => {
  it('does not reach the call', async () => {
    const up = await holding();
    const llm = client(up.url);
    llm.on('request', () => {
      throw Object.create(null);
    });
    const call = llm.chat({ model: 'a/m', messages: USER });
    await waitFor(() => up.held.length === 1, 'the request at the upstream');
    const res = up.held.shift() as ServerResponse;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      }),
    );
    expect((await call).choices[0]?.message.content).toBe('hi');
  });
});

describe('a custom adapter that throws a value with no string form', () => {
  it('fails its attempt as bad-response, and models() reports it', async () => {
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(Object.create(null)),
      stream: () => {
        throw Object.create(null);
      },
      embed: () => Promise.reject(Object.create(null)),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.reject(Object.create(null)),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts[0]?.reason).toBe('bad-response');
    const models = await llm.models();
    expect(models.errors).toEqual([{ provider: 'mine', error: '(a value with no text form)' }]);
  });
});

describe('a huge model string with no provider', () => {
  it('is cut to 200 characters in the InvalidRequestError message', async () => {
    const up = await holding();
    const llm = client(up.url);
    const model = `m${'x'.repeat(100_000)}`;
    const err = (await rejection(llm.chat({ model, messages: USER }))) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain('names no provider');
    expect(err.message.length).toBeLessThan(400);
  });
});

/** An OpenAI-compatible upstream whose chat calls fail with a 500 and whose model list the test holds or answers. */
async function probedUpstream() {
  const heldProbes: ServerResponse[] = [];
  const state = { holdProbes: false, chats: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/models')) {
        if (state.holdProbes) heldProbes.push(res);
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
        return;
      }
      state.chats++;
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  track({
    close: async () => {
      for (const r of heldProbes) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return { url: `http://127.0.0.1:${port}/v1`, heldProbes, state };
}

describe('a probe that runs while the breaker is half-open', () => {
  it('is the trial: calls skip the provider until it answers', async () => {
    const a = await probedUpstream();
    const b = await upstream('openai');
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'] } } },
        providers: {
          a: { type: 'openai', baseUrl: a.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: b.url, apiKey: KEY, probe: false },
        },
        clock,
        health: { failureThreshold: 1, cooldownMs: 1_000, recoveryProbeMs: 5_000, probeIntervalMs: 600_000 },
      }),
    );
    const probes: unknown[] = [];
    llm.on('probe', (p) => void probes.push(p));
    clock.advance(0);
    await waitFor(() => probes.length === 1, 'the first probe');
    // a's 500 opens its breaker; b serves.
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(a.state.chats).toBe(1);
    expect(llm.health().providers.a?.state).toBe('open');
    // The cool-down runs out, then the recovery probe starts and is held: a is half-open, the probe its trial.
    a.state.holdProbes = true;
    clock.advance(6_000);
    await waitFor(() => a.heldProbes.length === 1, 'the recovery probe at a');
    expect(llm.health().providers.a?.state).toBe('half-open');
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing?.attempts[0]).toMatchObject({ target: 'a/m', reason: 'unhealthy' });
    expect(a.state.chats).toBe(1);
  });
});

describe('target cool-downs in the in-memory health store', () => {
  it('do not pile up: expired ones are dropped as new ones come (ever-new model names, each a 429)', async () => {
    const up = await rawUpstream((_body, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"error":{"message":"slow down"}}');
    });
    const clock = createFakeClock();
    const store = createMemoryHealthStore(clock);
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        clock,
        health: { probes: false, store },
      }),
    );
    for (let i = 0; i < 300; i++) {
      await rejection(llm.chat({ model: `a/m${i}`, messages: USER }));
      clock.advance(2_000);
    }
    expect(store.listTargetCooldowns().length).toBeLessThanOrEqual(64);
  });
});

describe('an attempt that is late while its breaker is half-open', () => {
  it('lets go at once when the breaker opens again (its trial failed), not at its own timeout', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { maxConcurrentAfterFailure: 10, cooldownMs: 1_000 } },
    });
    const a = up.a as MockUpstream;
    const req = { model: 'mana/x', messages: USER };
    a.enqueue({ hang: true });
    const waiting = llm.chat(req);
    await waitFor(() => a.count('chat') === 1, 'the call waiting at a');
    // Two calls fail (failureThreshold 2): a's breaker opens while the first call still waits, not late yet.
    a.enqueue({ status: 500 }, { status: 500 });
    await llm.chat(req);
    await llm.chat(req);
    expect(llm.health().providers.a?.state).toBe('open');
    // 5 s later the waiting call is late, but the breaker is half-open by then (1 s cool-down): it goes on waiting.
    await clock.advanceAsync(5_000);
    expect(llm.health().providers.a?.state).toBe('half-open');
    // The trial fails: the breaker opens again, and the late call lets go at once.
    a.enqueue({ status: 500 });
    await llm.chat(req);
    expect(llm.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(0);
    const res = await Promise.race([waiting, new Promise((r) => setTimeout(() => r('still waiting'), 300))]);
    expect(res).toMatchObject({ model: 'b/m2' });
    expect((res as Awaited<typeof waiting>).routing.attempts[0]).toMatchObject({
      target: 'a/m1',
      reason: 'breaker-open',
      durationMs: 5_000,
    });
  });
});

describe('a caller who aborts while the response cache is looked up', () => {
  it('gets the abort reason, and no adapter call is started', async () => {
    let chats = 0;
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => {
        chats++;
        return new Promise(() => undefined);
      },
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    let answerLookup: (v: undefined) => void = () => undefined;
    const store = {
      getResponse: () => new Promise<undefined>((resolve) => (answerLookup = resolve)),
      setResponse: () => undefined,
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
        cache: { store },
      }),
    );
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { cache: true, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 10));
    const reason = new Error('caller gave up');
    ac.abort(reason);
    answerLookup(undefined);
    expect(await rejection(call)).toBe(reason);
    expect(chats).toBe(0);
  });
});

describe('a custom adapter whose probe rejects with a value with no string form', () => {
  it('is a failed probe (no unhandled rejection)', async () => {
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.reject(Object.create(null)),
      models: () => Promise.resolve([]),
    };
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        clock,
      }),
    );
    const probes: { ok: boolean; error?: string }[] = [];
    llm.on('probe', (p) => void probes.push(p));
    clock.advance(0);
    await waitFor(() => probes.length === 1, 'the probe result');
    expect(probes[0]).toMatchObject({ ok: false, error: 'probe-error: (a value with no text form)' });
  });
});

describe('toServerSentEvents over a stream whose caller aborted with a value with no string form', () => {
  it('ends with an error frame and [DONE], never throwing', async () => {
    const up = await holding();
    const llm = client(up.url);
    const ac = new AbortController();
    const out: string[] = [];
    const done = (async () => {
      for await (const f of toServerSentEvents(
        llm.stream({ model: 'a/m', messages: USER }, { signal: ac.signal }),
      ))
        out.push(f);
    })();
    await waitFor(() => up.held.length === 1, 'the request at the upstream');
    ac.abort(Object.create(null));
    await done;
    expect(out).toEqual([
      `data: ${JSON.stringify({ error: { message: '(a value with no text form)', type: 'internal_error' } })}\n\n`,
      'data: [DONE]\n\n',
    ]);
  });
});

describe("the Redis health store's mirror of target cool-downs", () => {
  it('drops expired ones as this process adds new ones (ever-new model names, each a 429)', async () => {
    // No Redis listens there: the mirror alone is at work.
    const { port } = new URL(await refusedUrl());
    const store = track(createRedisHealthStore({ url: `redis://127.0.0.1:${port}` }));
    const soon = Date.now() + 20;
    for (let i = 0; i < 10_000; i++) store.setTargetCooldown(`a/m${i}`, soon);
    await new Promise((r) => setTimeout(r, 40));
    store.setTargetCooldown('a/last', Date.now() + 60_000);
    expect(store.listTargetCooldowns()).toEqual([{ target: 'a/last', until: expect.any(Number) }]);
  });
});
