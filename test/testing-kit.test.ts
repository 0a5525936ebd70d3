// The example test of README "Testing your own fallback logic": no sockets, no keys, fake time.
import { describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError, StreamInterruptedError } from '../src/index.js';
import {
  createFakeClock,
  createMockProvider,
  type MockBehavior,
  type MockFailure,
  type MockStep,
  startMockUpstream,
} from '../src/testing/index.js';

function setup() {
  const clock = createFakeClock();
  const local = createMockProvider({ provider: 'local' });
  const cloud = createMockProvider({ provider: 'cloud' });
  const llm = createManaLLM({
    aliases: { aliases: { 'mana/fast-text': { chain: ['local/small', 'cloud/big'] } } },
    providers: { local: { type: 'custom', adapter: local }, cloud: { type: 'custom', adapter: cloud } },
    health: { probes: false, cooldownMs: 10_000 },
    clock,
  });
  return { clock, local, cloud, llm };
}

const messages = [{ role: 'user' as const, content: 'hi' }];

describe('mana-llm/testing', () => {
  it('runs the docs script: one failure leaves the breaker closed, two open it, the cooldown makes it half-open', async () => {
    // docs/testing.md "A scripted outage, on fake time", with the default health options.
    const clock = createFakeClock();
    const local = createMockProvider({ provider: 'local' });
    const cloud = createMockProvider({ provider: 'cloud' });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/fast-text': { chain: ['local/small', 'cloud/big'] } } },
      providers: { local: { type: 'custom', adapter: local }, cloud: { type: 'custom', adapter: cloud } },
      health: { probes: false },
      clock,
    });
    const ask = () => llm.chat({ model: 'mana/fast-text', messages: [{ role: 'user', content: 'hi' }] });
    local.setDefault({ fail: 'connection' });
    expect((await ask()).model).toBe('cloud/big');
    expect(llm.health().providers.local?.state).toBe('closed');
    expect((await ask()).model).toBe('cloud/big');
    expect(llm.health().providers.local?.state).toBe('open');
    clock.advance(60_000);
    expect(llm.health().providers.local?.state).toBe('half-open');
    local.setDefault({ reply: 'back' });
    expect((await ask()).model).toBe('local/small');
    expect(llm.health().providers.local?.state).toBe('closed');
    await llm.close();
  });

  it('scripts a local outage: fallback, breaker open, recovery after the cooldown', async () => {
    const { clock, local, cloud, llm } = setup();
    local.setDefault({ fail: 'connection' });
    cloud.setDefault({ reply: 'from the cloud' });
    expect((await llm.chat({ model: 'mana/fast-text', messages })).model).toBe('cloud/big');
    expect((await llm.chat({ model: 'mana/fast-text', messages })).model).toBe('cloud/big');
    expect(llm.health().providers.local?.state).toBe('open');
    await llm.chat({ model: 'mana/fast-text', messages });
    expect(local.calls.filter((c) => c.kind === 'chat')).toHaveLength(2); // skipped while open
    local.setDefault({ reply: 'local again' });
    clock.advance(10_000);
    const res = await llm.chat({ model: 'mana/fast-text', messages });
    expect(res.model).toBe('local/small');
    expect(llm.health().providers.local?.state).toBe('closed');
    await llm.close();
  });

  it('throws every class of the taxonomy; caller errors propagate, outages fall through', async () => {
    const { local, cloud, llm } = setup();
    local.enqueue({ fail: 'bad-request' });
    await expect(llm.chat({ model: 'mana/fast-text', messages })).rejects.toMatchObject({
      code: 'PROVIDER_HTTP',
      httpStatus: 400,
    });
    expect(cloud.calls).toHaveLength(0);
    local.enqueue({ fail: 'rate-limit', retryAfterMs: 5000 });
    cloud.enqueue({ fail: 'server-error' });
    const err = await llm.chat({ model: 'mana/fast-text', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((a: { reason: string }) => a.reason)).toEqual(['rate-limited', 'http-error']);
    expect(llm.health().targets).toEqual([expect.objectContaining({ target: 'local/small' })]);
    await llm.close();
  });

  it('streams N chunks then fails: the stream is interrupted, never continued by another model', async () => {
    const { local, cloud, llm } = setup();
    local.enqueue({ streamThenFail: 2, reply: 'abcdefgh' });
    let text = '';
    const err = await (async () => {
      for await (const c of llm.stream({ model: 'mana/fast-text', messages }))
        text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(err.partial.content).toBe('abcdefgh');
    expect(text).toBe('abcdefgh');
    expect(cloud.calls).toHaveLength(0);
    await llm.close();
  });

  it('a stalled provider is abandoned at half the budget on the fake clock and the backup answers', async () => {
    const { clock, local, cloud, llm } = setup();
    local.enqueue({ stall: true });
    cloud.setDefault({ reply: 'rescued' });
    const pending = llm.chat({ model: 'mana/fast-text', messages }, { timeoutMs: 1000 });
    await clock.advanceAsync(499);
    expect(cloud.calls).toHaveLength(0);
    await clock.advanceAsync(1);
    const res = await pending;
    expect(res.choices[0]?.message.content).toBe('rescued');
    expect(res.routing.attempts.map((a) => a.reason)).toEqual(['timeout', 'ok']);
    expect(cloud.calls).toHaveLength(1);
    await llm.close();
  });

  it("a caller changing the mock provider's capabilities object does not change its routing", async () => {
    const { local, llm } = setup();
    const caps = local.capabilities('small') as { vision: boolean };
    try {
      caps.vision = false;
    } catch {
      // A frozen object refuses the write in strict mode: that is the point.
    }
    const image = [
      {
        role: 'user' as const,
        content: [{ type: 'image_url' as const, image_url: { url: 'data:image/png;base64,AAAA' } }],
      },
    ];
    expect(llm.resolve('mana/fast-text', { messages: image }).candidates[0]?.state).toBe('ready');
    expect(local.capabilities('small').vision).toBe(true);
    await llm.close();
  });

  it('optional fields given as undefined are absent (a helper forwarding its own optional settings type-checks)', async () => {
    // Must type-check under exactOptionalPropertyTypes, as the main API's optional fields do.
    const given: { provider?: string | undefined; chunks?: number | undefined; port?: number | undefined } =
      {};
    const mock = createMockProvider({
      provider: given.provider,
      capabilities: undefined,
      dimensions: undefined,
    });
    const steps: MockStep[] = [
      { reply: 'abc', chunks: given.chunks },
      { fail: 'rate-limit', retryAfterMs: undefined },
      { streamThenFail: 1, fail: undefined, reply: undefined },
    ];
    mock.enqueue(...steps);
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mock/m'] } } },
      providers: { mock: { type: 'custom', adapter: mock } },
      health: { probes: false },
    });
    expect((await llm.chat({ model: 'mock/m', messages })).choices[0]?.message.content).toBe('abc');
    await llm.close();
    const behaviors: MockBehavior[] = [
      { reply: 'x', chunks: given.chunks, finish: undefined, usage: undefined },
      { toolCall: { id: undefined, name: 'f', arguments: '{}' } },
      { status: 500, body: undefined, headers: undefined },
      { inBandError: 'server', after: undefined },
    ];
    const up = await startMockUpstream('openai', behaviors[0], { port: given.port });
    up.enqueue(...behaviors);
    await up.close();
  });
});

describe('createMockProvider failures', () => {
  it('each failure kind reaches the caller as its documented class and status', async () => {
    const kinds: MockFailure[] = [
      'connection',
      'timeout',
      'server-error',
      'rate-limit',
      'auth',
      'bad-request',
      'model-not-found',
      'blocked',
      'bad-response',
    ];
    const seen: Record<string, unknown> = {};
    for (const fail of kinds) {
      const { local, llm } = setup();
      local.enqueue({ fail });
      const res = await llm.chat({ model: 'mana/fast-text', messages }).catch((e) => e);
      // An outage falls through to the backup (its attempt is recorded); a caller's problem is thrown as it is.
      const first = 'routing' in res ? res.routing.attempts[0] : undefined;
      seen[fail] = first ? [first.reason, first.status] : [res.code, res.status];
      await llm.close();
    }
    expect(seen).toEqual({
      connection: ['connection', undefined],
      timeout: ['timeout', undefined],
      'server-error': ['http-error', 500],
      'rate-limit': ['rate-limited', 429],
      auth: ['PROVIDER_AUTH', 401],
      'bad-request': ['PROVIDER_HTTP', 400],
      'model-not-found': ['model-not-found', 404],
      blocked: ['PROVIDER_BLOCKED', undefined],
      'bad-response': ['bad-response', undefined],
    });
  });
});

describe('createMockProvider scripting', () => {
  it('streams `chunks` pieces then a stop finish; a partial stream and a chat fail with the scripted kind', async () => {
    const { local, llm } = setup();
    local.enqueue({ reply: 'abcdef', chunks: 2 });
    const chunks = [];
    for await (const c of llm.stream({ model: 'local/small', messages })) chunks.push(c.choices[0]);
    expect(chunks.map((c) => c?.delta.content).filter(Boolean)).toEqual(['abc', 'def']);
    expect(chunks.at(-1)?.finish_reason).toBe('stop');
    local.enqueue({ streamThenFail: 1, fail: 'auth' });
    const err = await (async () => {
      for await (const _ of llm.stream({ model: 'local/small', messages }));
    })().catch((e) => e);
    expect(err.cause?.code ?? err.error?.code ?? err.code).toBe('PROVIDER_AUTH');
    local.enqueue({ streamThenFail: 1, fail: 'auth' });
    await expect(llm.chat({ model: 'local/small', messages })).rejects.toMatchObject({
      code: 'PROVIDER_AUTH',
    });
    await llm.close();
  });

  it('probe answers setAlive and is recorded; capabilities given are kept', async () => {
    const mock = createMockProvider({ capabilities: { vision: false } });
    expect(mock.capabilities('m').vision).toBe(false);
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/m': { chain: ['mock/m'] } } },
      providers: { mock: { type: 'custom', adapter: mock } },
      health: { probes: false },
    });
    mock.enqueue({ reply: 'abc' });
    expect((await llm.chat({ model: 'mock/m', messages })).usage).toMatchObject({ completion_tokens: 3 });
    await llm.close();
    mock.calls.length = 0;
    const ctx = { signal: new AbortController().signal };
    expect(mock.capabilities('m').tools).toBe(true);
    expect(await mock.probe(ctx)).toEqual({ ok: true });
    mock.setAlive(false);
    expect(await mock.probe(ctx)).toMatchObject({ ok: false });
    expect(mock.calls).toEqual([
      { kind: 'probe', model: '' },
      { kind: 'probe', model: '' },
    ]);
  });
});

describe('startMockUpstream tool calls', () => {
  it('a tool call whose arguments are not JSON is answered with that text on every protocol (was a hung request)', async () => {
    const toolCall = { name: 'lookup', arguments: '{"q": "cut' };
    const asks = {
      google: ['/models/m:generateContent', (j: any) => j.candidates[0].content.parts[0].functionCall.args],
      anthropic: ['/messages', (j: any) => j.content[0].input],
      ollama: ['/api/chat', (j: any) => j.message.tool_calls[0].function.arguments],
    } as const;
    for (const [protocol, [path, args]] of Object.entries(asks)) {
      const upstream = await startMockUpstream(protocol as keyof typeof asks, { toolCall });
      try {
        const res = await fetch(`${upstream.url}${path}`, {
          method: 'POST',
          body: JSON.stringify({ model: 'm', stream: false }),
          signal: AbortSignal.timeout(2_000),
        });
        expect(res.status).toBe(200);
        expect(args(await res.json())).toBe(toolCall.arguments);
      } finally {
        await upstream.close();
      }
    }
  });
});

describe('startMockUpstream finish', () => {
  it("a reply scripted with finish: 'length' ends with 'length' on every protocol, streamed or not", async () => {
    for (const type of ['openai', 'ollama', 'google', 'anthropic'] as const) {
      const upstream = await startMockUpstream(type, { reply: 'cut short', finish: 'length' });
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/t': { chain: ['p/m'] } } },
        providers: { p: { type, baseUrl: upstream.url, apiKey: 'k' } },
        health: { probes: false },
      });
      try {
        const res = await llm.chat({ model: 'mana/t', messages });
        expect(res.choices[0]?.finish_reason, type).toBe('length');
        const finishes: unknown[] = [];
        for await (const c of llm.stream({ model: 'mana/t', messages }))
          if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason);
        expect(finishes, type).toEqual(['length']);
      } finally {
        await llm.close();
        await upstream.close();
      }
    }
  });
});

describe('createMockProvider embeddings', () => {
  it('are vectors of length 4 by default, of `dimensions` when given', async () => {
    const { llm } = setup();
    const res = await llm.embed({ model: 'local/small', input: ['a', 'b'] });
    expect(res.data.map((d) => d.embedding.length)).toEqual([4, 4]);
    const wide = createMockProvider({ provider: 'w', dimensions: 7 });
    const llm2 = createManaLLM({
      aliases: { aliases: { 'mana/e': { chain: ['w/e'] } } },
      providers: { w: { type: 'custom', adapter: wide } },
      health: { probes: false },
    });
    try {
      const r2 = await llm2.embed({ model: 'mana/e', input: 'a' });
      expect(r2.data[0]?.embedding).toHaveLength(7);
    } finally {
      await llm2.close();
      await llm.close();
    }
  });

  it('an embed call takes a step from the queue and is recorded: a scripted failure fails it', async () => {
    const { local, llm } = setup();
    local.enqueue({ fail: 'connection' });
    const res = await llm.embed({ model: 'mana/fast-text', input: 'a' });
    expect(res.model).toBe('cloud/big');
    expect(local.calls).toEqual([{ kind: 'embed', model: 'small' }]);
    await llm.close();
  });
});

describe('the fake clock', () => {
  it('never moves backwards: advance and advanceAsync with a negative ms are advance(0)', async () => {
    const clock = createFakeClock(1_000);
    const seen: number[] = [];
    clock.setTimer(0, () => seen.push(clock.now()));
    clock.advance(-500);
    expect(clock.now()).toBe(1_000);
    clock.setTimer(0, () => seen.push(clock.now()));
    await clock.advanceAsync(-500);
    expect(clock.now()).toBe(1_000);
    expect(seen).toEqual([1_000, 1_000]);
  });

  it('treats a negative timer delay as 0: it fires after a 0 ms timer scheduled before it, as setTimeout does', () => {
    const clock = createFakeClock(1_000);
    const seen: string[] = [];
    clock.setTimer(0, () => seen.push('zero'));
    clock.setTimer(-5, () => seen.push('negative'));
    clock.advance(0);
    expect(seen).toEqual(['zero', 'negative']);
  });
});

describe('createMockProvider called with an aborted signal', () => {
  it('throws the abort reason instead of answering, for chat and embed', async () => {
    const mock = createMockProvider();
    const reason = new Error('caller gave up');
    const ctx = { signal: AbortSignal.abort(reason) };
    await expect(mock.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, ctx)).rejects.toBe(
      reason,
    );
    await expect(mock.embed({ model: 'm', input: ['a'] }, ctx)).rejects.toBe(reason);
  });
});
