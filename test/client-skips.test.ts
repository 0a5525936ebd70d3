import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatRequest,
  InvalidRequestError,
  NoHealthyProviderError,
  type ProviderAdapter,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderHTTPError,
} from '../src/index.js';
import { closeAll, collect, harness, KEY, rejection, USER, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** A custom provider that can do plain text only, and fails the test if it is ever called. */
function textOnly(): ProviderAdapter & { calls: number } {
  const self = {
    calls: 0,
    capabilities: () => ({ tools: false, vision: false, jsonSchema: false, embeddings: false }),
    chat: () => {
      self.calls++;
      return Promise.reject(new Error('must not be called'));
    },
    stream: () => {
      self.calls++;
      throw new Error('must not be called');
    },
    embed: () => Promise.reject(new Error('must not be called')),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
  return self;
}

describe('entries skipped before any call', () => {
  it('unconfigured: a chain entry naming a provider that is not configured', async () => {
    const { llm } = await harness({ upstreams: { b: 'openai' }, aliases: { 'mana/x': ['ghost/m', 'b/m2'] } });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toEqual({ target: 'ghost/m', reason: 'unconfigured' });
    expect(llm.resolve('mana/x').candidates[0]).toMatchObject({ target: 'ghost/m', state: 'unconfigured' });
  });

  it('unhealthy: an open breaker is skipped and its provider receives nothing', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    up.a?.setDefault({ status: 500 });
    await llm.chat({ model: 'mana/x', messages: USER });
    await llm.chat({ model: 'mana/x', messages: USER });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'unhealthy' });
    expect(up.a?.count('chat')).toBe(2);
    expect(llm.resolve('mana/x').candidates[0]).toEqual({
      target: 'a/m1',
      provider: 'a',
      model: 'm1',
      state: 'unhealthy',
      until: clock.now() + 60_000,
      latency: { chat: null, stream: null, embed: null },
    });
  });

  it('saturated: a provider at maxConcurrent is skipped instead of queued', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: { a: { maxConcurrent: 1 } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    up.a?.enqueue({ hang: true });
    const ac = new AbortController();
    const hanging = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => up.a?.count('chat') === 1, 'hanging request at a');
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('saturated');

    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'saturated' });
    expect(up.a?.count('chat')).toBe(1);

    ac.abort();
    await rejection(hanging);
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('a/m1');
  });

  it('saturated: a served chat or embed gives its place at a maxConcurrent provider back', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: { a: { maxConcurrent: 1 } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    for (let i = 0; i < 2; i++) {
      expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('a/m1');
      expect((await llm.embed({ model: 'mana/x', input: 'x' })).model).toBe('a/m1');
    }
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    expect(up.b?.count()).toBe(0);
  });

  describe('capability', () => {
    it('json_schema is never sent to anthropic: the entry is skipped', async () => {
      const { llm, up } = await harness({
        upstreams: { claude: 'anthropic', b: 'openai' },
        aliases: { 'mana/x': ['claude/sonnet', 'b/m2'] },
      });
      const req: ChatRequest = {
        model: 'mana/x',
        messages: USER,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      };
      expect(llm.resolve('mana/x', req).candidates[0]?.state).toBe('capability');
      const res = await llm.chat(req);
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toEqual({ target: 'claude/sonnet', reason: 'capability' });
      expect(up.claude?.count()).toBe(0);
      // A plain request still goes to anthropic.
      expect(llm.resolve('mana/x', { messages: USER }).candidates[0]?.state).toBe('ready');
      expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('claude/sonnet');
    });

    it('embeddings are never sent to anthropic', async () => {
      const { llm, up } = await harness({
        upstreams: { claude: 'anthropic', b: 'openai' },
        aliases: { 'mana/e': ['claude/sonnet', 'b/emb'] },
      });
      const res = await llm.embed({ model: 'mana/e', input: 'x' });
      expect(res.model).toBe('b/emb');
      expect(res.routing.attempts[0]).toEqual({ target: 'claude/sonnet', reason: 'capability' });
      expect(up.claude?.count()).toBe(0);
    });

    it('tools and images skip an entry that cannot do them', async () => {
      const custom = textOnly();
      const { llm } = await harness({
        upstreams: { b: 'openai' },
        providers: { plain: { type: 'custom', adapter: custom } },
        aliases: { 'mana/x': ['plain/m', 'b/m2'] },
      });
      const tools: ChatRequest = {
        model: 'mana/x',
        messages: USER,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      };
      const vision: ChatRequest = {
        model: 'mana/x',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PIXEL } }] }],
      };
      const json: ChatRequest = { model: 'mana/x', messages: USER, response_format: { type: 'json_object' } };
      for (const req of [tools, vision, json]) {
        const res = await llm.chat(req);
        expect(res.routing.attempts[0]).toEqual({ target: 'plain/m', reason: 'capability' });
        expect(res.model).toBe('b/m2');
      }
      expect(custom.calls).toBe(0);
      // An empty tool list and a plain-text response format need nothing the entry lacks.
      for (const req of [{ tools: [] }, { response_format: { type: 'text' as const } }])
        expect(llm.resolve('mana/x', { messages: USER, ...req }).candidates[0]?.state).toBe('ready');
    });

    it('a direct model that cannot serve the request throws ProviderCapabilityError without calling it', async () => {
      const { llm, up } = await harness({ upstreams: { claude: 'anthropic' } });
      const err = await rejection(
        llm.chat({ model: 'claude/sonnet', messages: USER, response_format: { type: 'json_object' } }),
      );
      expect(err).toBeInstanceOf(ProviderCapabilityError);
      expect(err).toMatchObject({ provider: 'claude', model: 'sonnet', httpStatus: 400 });
      expect(up.claude?.count()).toBe(0);
      const embed = await rejection(llm.embed({ model: 'claude/sonnet', input: 'x' }));
      expect(embed).toBeInstanceOf(ProviderCapabilityError);
    });
  });

  it('dimensions: an embedding alias skips a member whose vectors have another length', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'ollama' },
      aliases: { 'mana/e': { chain: ['a/small', 'b/right'], dimensions: 3 } },
    });
    up.a?.setDefault({ dimensions: 4 });
    up.b?.setDefault({ dimensions: 3 });
    const res = await llm.embed({ model: 'mana/e', input: ['one', 'two'] });
    expect(res.model).toBe('b/right');
    expect(res.data.every((d) => d.embedding.length === 3)).toBe(true);
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/small', reason: 'dimensions' });
    expect(up.a?.count('embed')).toBe(1);
    expect(llm.health().providers.a).toMatchObject({ healthy: true, consecutiveFailures: 0 });
  });
  it('dimensions: a caller asking an alias with dimensions for another length is refused before any I/O', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'ollama' },
      aliases: { 'mana/e': { chain: ['a/small', 'b/right'], dimensions: 3 } },
    });
    // Providers that honour the request's length answer 8: every member would be skipped (NoHealthyProviderError).
    up.a?.setDefault({ dimensions: 8 });
    up.b?.setDefault({ dimensions: 8 });
    const err = (await rejection(
      llm.embed({ model: 'mana/e', input: 'x', dimensions: 8 }),
    )) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.issues).toEqual([{ path: 'dimensions', message: expect.stringContaining('3') }]);
    expect(up.a?.count()).toBe(0);
    expect(up.b?.count()).toBe(0);
    // The alias's own length is a request like any other.
    up.a?.setDefault({ dimensions: 3 });
    const res = await llm.embed({ model: 'mana/e', input: 'x', dimensions: 3 });
    expect(res.model).toBe('a/small');
  });
  // Such an answer is malformed, with or without dimensions (docs/choices.md), as a built-in adapter's would be.
  it('dimensions: a custom adapter answering items without a vector is a bad response, not a TypeError', async () => {
    const adapter: ProviderAdapter = {
      ...textOnly(),
      capabilities: () => ({ tools: false, vision: false, jsonSchema: false, embeddings: true }),
      embed: () => Promise.resolve({ object: 'list', data: [null, {}], model: 'm', usage: {} } as never),
    };
    const { llm, up } = await harness({
      upstreams: { b: 'ollama' },
      providers: { mine: { type: 'custom', adapter } },
      aliases: { 'mana/e': { chain: ['mine/m', 'b/right'], dimensions: 3 } },
    });
    up.b?.setDefault({ dimensions: 3 });
    const res = await llm.embed({ model: 'mana/e', input: ['one', 'two'] });
    expect(res.model).toBe('b/right');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'mine/m', reason: 'bad-response' });
  });
});

describe('when nothing can serve', () => {
  it('calls nothing if health skipped every entry, and says when to retry', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai', c: 'openai' },
      providers: { c: { maxConcurrent: 1 } },
      aliases: { 'mana/x': ['ghost/m', 'a/m1', 'b/m2', 'c/m3'] },
    });
    // a: breaker open for 60 s; b/m2: cooling for 30 s; c: saturated by a hanging call.
    up.a?.setDefault({ status: 500 });
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    up.b?.enqueue({ status: 429, headers: { 'retry-after': '30' } });
    await rejection(llm.chat({ model: 'b/m2', messages: USER }));
    up.c?.enqueue({ hang: true });
    const ac = new AbortController();
    const hanging = llm.chat({ model: 'c/m3', messages: USER }, { signal: ac.signal });
    await waitFor(() => up.c?.count('chat') === 1, 'hanging request at c');
    const before = [up.a, up.b, up.c].map((u) => u?.count());

    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const e = err as NoHealthyProviderError;
    expect(e.httpStatus).toBe(503);
    expect(e.requested).toBe('mana/x');
    expect(e.attempts).toEqual([
      { target: 'ghost/m', reason: 'unconfigured' },
      { target: 'a/m1', reason: 'unhealthy' },
      { target: 'b/m2', reason: 'cooling' },
      { target: 'c/m3', reason: 'saturated' },
    ]);
    expect(e.retryAfterMs).toBe(30_000);
    expect(e.cause).toBeUndefined();
    expect([up.a, up.b, up.c].map((u) => u?.count())).toEqual(before);

    await clock.advanceAsync(10_000);
    const later = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(later.retryAfterMs).toBe(20_000);
    ac.abort();
    await rejection(hanging);
  });

  it('a stream whose entries are all skipped rejects before any I/O; resolve() and the events give each reason', async () => {
    const { llm, clock, up, events } = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': ['ghost/m', 'a/m1'] },
    });
    up.a?.setDefault({ status: 500 });
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    const until = llm.health().providers.a?.unhealthyUntil as number;
    expect(until).toBeGreaterThan(clock.now());
    const before = up.a?.count();
    events.all.length = 0;
    const err = (await rejection(
      collect(llm.stream({ model: 'mana/x', messages: USER })),
    )) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts).toEqual([
      { target: 'ghost/m', reason: 'unconfigured' },
      { target: 'a/m1', reason: 'unhealthy' },
    ]);
    expect(err.retryAfterMs).toBe(until - clock.now());
    expect(up.a?.count()).toBe(before);
    expect(events.of('fallback')).toMatchObject([
      { kind: 'stream', from: 'ghost/m', to: 'a/m1', reason: 'unconfigured' },
      { kind: 'stream', from: 'a/m1', to: null, reason: 'unhealthy' },
    ]);
    expect(events.of('failure')).toMatchObject([{ kind: 'stream', requested: 'mana/x', error: err }]);
    expect(llm.resolve('mana/x').candidates).toMatchObject([
      { target: 'ghost/m', state: 'unconfigured' },
      { target: 'a/m1', state: 'unhealthy', until },
    ]);
  });

  it('says to retry when a cooling entry is usable again: not before its open breaker turns half-open', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai' },
      options: { health: { cooldownMs: 60_000 } },
    });
    // a/m1 cools for 1 s (a 429), then a's breaker opens for 60 s (a/m2 fails twice).
    up.a?.enqueue({ status: 429, headers: { 'retry-after': '1' } }, { status: 500 }, { status: 500 });
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await rejection(llm.chat({ model: 'a/m2', messages: USER }));
    await rejection(llm.chat({ model: 'a/m2', messages: USER }));
    const err = (await rejection(llm.chat({ model: 'a/m1', messages: USER }))) as NoHealthyProviderError;
    expect(err.attempts).toEqual([{ target: 'a/m1', reason: 'cooling' }]);
    expect(err.retryAfterMs).toBe(60_000);
    expect(llm.resolve('a/m1').candidates[0]).toMatchObject({
      state: 'cooling',
      until: clock.now() + 60_000,
    });
    // Once the 429's hint has run out, the breaker alone decides.
    await clock.advanceAsync(1_000);
    const later = (await rejection(llm.chat({ model: 'a/m1', messages: USER }))) as NoHealthyProviderError;
    expect(later.attempts).toEqual([{ target: 'a/m1', reason: 'unhealthy' }]);
    expect(later.retryAfterMs).toBe(59_000);
  });

  it('says to retry when the breaker that opened while a 429 was on its way ends, not when the hint does', async () => {
    const held: ServerResponse[] = [];
    const raw = await rawUpstream((text, res) => {
      if ((JSON.parse(text) as { model: string }).model === 'm1') held.push(res);
      else res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}');
    });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
      options: { health: { cooldownMs: 60_000 } },
    });
    const first = rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await waitFor(() => held.length === 1, 'a/m1 held');
    // a's breaker opens for 60 s (a/m2 fails twice) while a/m1 waits; then a/m1 answers 429 with a 1 s hint.
    await rejection(llm.chat({ model: 'a/m2', messages: USER }));
    await rejection(llm.chat({ model: 'a/m2', messages: USER }));
    held[0]?.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{}');
    const err = (await first) as NoHealthyProviderError;
    expect(err.attempts).toMatchObject([{ target: 'a/m1', reason: 'rate-limited', status: 429 }]);
    expect(err.retryAfterMs).toBe(60_000);
  });

  it('lists every attempt in chain order, with the last error as cause', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'ollama', c: 'google' },
      aliases: { 'mana/x': ['a/m1', 'b/m2', 'c/m3'] },
    });
    up.a?.enqueue({ status: 429, headers: { 'retry-after': '5' } });
    up.b?.enqueue({ reset: true });
    up.c?.enqueue({ status: 503 });
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
      ['a/m1', 'rate-limited', 429],
      ['b/m2', 'connection', undefined],
      ['c/m3', 'http-error', 503],
    ]);
    expect(err.attempts.every((a) => typeof a.durationMs === 'number')).toBe(true);
    expect(err.attempts[1]?.error).toBeInstanceOf(ProviderConnectionError);
    expect(err.cause).toBeInstanceOf(ProviderHTTPError);
    expect(err.cause).toBe(err.attempts[2]?.error);
    expect(err.retryAfterMs).toBe(5000);
    expect(err.retryable).toBe(true);
  });
});
