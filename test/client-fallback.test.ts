import { afterEach, describe, expect, it } from 'vitest';
import {
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
} from '../src/index.js';
import type { MockBehavior } from '../src/testing/index.js';
import {
  closeAll,
  collect,
  coolingTargets,
  type ErrorClass,
  type HarnessOptions,
  harness,
  KEY,
  refusedUrl,
  rejection,
  USER,
  waitFor,
} from './helpers/client.js';
import { hangingUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const CHAT = { model: 'mana/x', messages: USER };

/** Chain `a/m1 → b/m2`, both OpenAI-compatible mocks; `b` always answers "from b". */
async function twoProviders(options: HarnessOptions = {}) {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    options,
  });
  h.up.b?.setDefault({ reply: 'from b' });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('falls through to the next entry and counts against health', () => {
  const rows: { name: string; behavior: MockBehavior; reason: string; type: ErrorClass; status?: number }[] =
    [
      {
        name: 'connection reset',
        behavior: { reset: true },
        reason: 'connection',
        type: ProviderConnectionError,
      },
      {
        name: 'HTTP 500',
        behavior: { status: 500 },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 500,
      },
      {
        name: 'HTTP 503',
        behavior: { status: 503 },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 503,
      },
      {
        // A redirect is never followed (a POST cannot be replayed blindly); it is the upstream's answer, not a
        // sign that the caller's request is wrong.
        name: 'HTTP 301 (a redirect: a base URL moved, a proxy asking for a login)',
        behavior: { status: 301, headers: { location: 'https://elsewhere.invalid/v1' } },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 301,
      },
      {
        // 300 is the first status past 2xx: never read as a reply.
        name: 'HTTP 300',
        behavior: { status: 300 },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 300,
      },
      {
        name: 'HTTP 302',
        behavior: { status: 302, headers: { location: '/login' } },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 302,
      },
      {
        name: 'a malformed reply',
        behavior: { malformed: true },
        reason: 'bad-response',
        type: ProviderResponseError,
      },
      {
        name: 'an in-band server error inside a 200',
        behavior: { inBandError: 'server' },
        reason: 'http-error',
        type: ProviderHTTPError,
        status: 502,
      },
      {
        name: 'an in-band rate limit without a retry hint',
        behavior: { inBandError: 'rate-limit' },
        reason: 'rate-limited',
        type: ProviderRateLimitError,
        status: 429,
      },
      {
        name: 'HTTP 429 without a retry hint',
        behavior: { status: 429 },
        reason: 'rate-limited',
        type: ProviderRateLimitError,
        status: 429,
      },
    ];
  for (const row of rows) {
    it(`${row.name}`, async () => {
      const { llm, a, b } = await twoProviders();
      a.enqueue(row.behavior);
      const res = await llm.chat(CHAT);
      expect(res.model).toBe('b/m2');
      expect(res.choices[0]?.message.content).toBe('from b');
      const [first, second] = res.routing.attempts;
      expect(first).toMatchObject({ target: 'a/m1', reason: row.reason });
      expect(first?.error).toBeInstanceOf(row.type);
      expect(first?.status).toBe(row.status);
      expect(second).toMatchObject({ target: 'b/m2', reason: 'ok' });
      expect(a.count('chat')).toBe(1);
      expect(b.count('chat')).toBe(1);
      expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 1, healthy: true });
      expect(coolingTargets(llm)).toEqual([]);
    });
  }

  // Never a vector paired with the wrong input: each a bad response, the next entry serves.
  const MISALIGNED: [string, unknown[]][] = [
    ['too few', [{ index: 0, embedding: [1] }]],
    [
      'a repeated index',
      [
        { index: 1, embedding: [1] },
        { index: 1, embedding: [2] },
      ],
    ],
    [
      'an index out of range',
      [
        { index: 0, embedding: [1] },
        { index: 2, embedding: [2] },
      ],
    ],
    [
      'indexes that are text',
      [
        { index: '1', embedding: [1] },
        { index: '0', embedding: [2] },
      ],
    ],
    [
      'base64 of 6 bytes',
      [
        { index: 0, embedding: 'AAAAAAAA' },
        { index: 1, embedding: [2] },
      ],
    ],
  ];
  for (const [name, data] of MISALIGNED) {
    it(`embeddings with ${name}`, async () => {
      const { llm, a } = await twoProviders();
      a.enqueue({ status: 200, body: JSON.stringify({ object: 'list', data, model: 'm1' }) });
      const res = await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'bad-response' });
      expect(res.data.map((d) => d.index)).toEqual([0, 1]);
      expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 1, healthy: true });
    });
  }

  // Account problems that these providers answer with a 400: the provider's outage like a 402, not the caller's
  // request (the same request succeeds at the next entry).
  const ACCOUNT_400: [string, 'anthropic' | 'google', string, unknown][] = [
    [
      'Anthropic, out of credits',
      'anthropic',
      'claude-sonnet-4-5',
      {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message:
            'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
        },
      },
    ],
    [
      'Anthropic, over its spend limit',
      'anthropic',
      'claude-sonnet-4-5',
      {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message:
            'You have reached your specified API usage limits. You will regain access on 2026-04-01 at 00:00 UTC.',
        },
      },
    ],
    [
      'Gemini, free tier not available in the region (FAILED_PRECONDITION)',
      'google',
      'gemini-2.0-flash',
      {
        error: {
          code: 400,
          message:
            'Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.',
          status: 'FAILED_PRECONDITION',
        },
      },
    ],
  ];
  for (const [name, protocol, model, body] of ACCOUNT_400) {
    it(`${name}: a 400 that is the provider's outage like a 402, not the caller's request`, async () => {
      const h = await harness({
        upstreams: { a: protocol, b: 'openai' },
        aliases: { 'mana/x': [`a/${model}`, 'b/m2'] },
      });
      h.up.a?.setDefault({ status: 400, body: JSON.stringify(body) });
      h.up.b?.setDefault({ reply: 'from b' });
      const res = await h.llm.chat(CHAT);
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toMatchObject({
        target: `a/${model}`,
        reason: 'http-error',
        status: 400,
      });
      expect(res.routing.attempts[0]?.error).toMatchObject({ httpStatus: 502, retryable: true });
      expect(h.llm.health().providers.a).toMatchObject({ consecutiveFailures: 1 });
      // Another 400 is still the caller's.
      h.up.a?.setDefault({
        status: 400,
        body: JSON.stringify({ error: { type: 'invalid_request_error', message: 'max_tokens: too big' } }),
      });
      expect(await rejection(h.llm.chat(CHAT))).toMatchObject({ name: 'ProviderHTTPError', httpStatus: 400 });
    });
  }

  it('connection refused', async () => {
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: await refusedUrl() } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    const res = await h.llm.chat(CHAT);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'connection' });
    expect(res.routing.attempts[0]?.error).toBeInstanceOf(ProviderConnectionError);
    expect(h.llm.health().providers.a).toMatchObject({ consecutiveFailures: 1, lastError: 'ECONNREFUSED' });
  });

  it('no answer within the provider timeout (fake clock)', async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: { a: { timeoutMs: 5000 } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    h.up.a?.enqueue({ hang: true });
    const call = h.llm.chat(CHAT);
    await waitFor(() => h.up.a?.count('chat') === 1, 'request at a');
    await h.clock.advanceAsync(4999);
    expect(h.up.b?.count('chat')).toBe(0);
    await h.clock.advanceAsync(1);
    const res = await call;
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'timeout', durationMs: 5000 });
    expect(res.routing.attempts[0]?.error).toBeInstanceOf(ProviderTimeoutError);
    expect(h.llm.health().providers.a?.consecutiveFailures).toBe(1);
  });

  it('embeddings fall through the same way', async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'ollama' },
      aliases: { 'mana/e': ['a/e1', 'b/e2'] },
    });
    h.up.a?.enqueue({ status: 502 });
    h.up.b?.setDefault({ dimensions: 3 });
    const res = await h.llm.embed({ model: 'mana/e', input: ['x', 'y'] });
    expect(res.model).toBe('b/e2');
    expect(res.data.map((d) => d.embedding.length)).toEqual([3, 3]);
    expect(res.routing).toMatchObject({ requested: 'mana/e', alias: 'mana/e', resolved: 'b/e2' });
    expect(res.routing.attempts.map((x) => x.reason)).toEqual(['http-error', 'ok']);
  });
});

describe('HTTP 429 with a retry hint', () => {
  it('cools only the target until the hint, and the provider stays closed', async () => {
    const { llm, clock, a, b } = await twoProviders();
    a.enqueue({ status: 429, headers: { 'retry-after': '7' } });
    const until = clock.now() + 7000;
    const res = await llm.chat(CHAT);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'rate-limited', status: 429 });
    expect(coolingTargets(llm)).toEqual([{ target: 'a/m1', until }]);
    expect(llm.health().providers.a).toMatchObject({
      healthy: true,
      state: 'closed',
      consecutiveFailures: 0,
    });
    expect(llm.resolve('mana/x').candidates[0]).toMatchObject({ target: 'a/m1', state: 'cooling', until });
    // Another model at the same provider is not cooling.
    expect(llm.resolve('a/other').candidates[0]?.state).toBe('ready');

    const again = await llm.chat(CHAT);
    expect(again.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'cooling' });
    expect(a.count('chat')).toBe(1);
    expect(b.count('chat')).toBe(2);

    await clock.advanceAsync(7000);
    expect(coolingTargets(llm)).toEqual([]);
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    expect((await llm.chat(CHAT)).model).toBe('a/m1');
  });

  it('reads retry-after-ms as well', async () => {
    const { llm, clock, a } = await twoProviders();
    a.enqueue({ status: 429, headers: { 'retry-after-ms': '1500' } });
    await llm.chat(CHAT);
    expect(coolingTargets(llm)).toEqual([{ target: 'a/m1', until: clock.now() + 1500 }]);
  });

  it('a zero hint is a hint: no failure is counted and the target is callable again at once', async () => {
    const { llm, a } = await twoProviders({ health: { failureThreshold: 1 } });
    a.enqueue({ status: 429, headers: { 'retry-after-ms': '0' } });
    const res = await llm.chat(CHAT);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]?.error).toMatchObject({ retryAfterMs: 0 });
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect((await llm.chat(CHAT)).model).toBe('a/m1');
  });

  it('reads an HTTP date in any of its three forms as GMT, whatever the local time zone', async () => {
    const { llm, a, clock } = await twoProviders();
    // A minute from the client's now (its clock is what a date is read against), on whole seconds as HTTP dates are.
    const at = new Date(Math.ceil(clock.now() / 1000) * 1000 + 60_000);
    const [day, date, month, year, time] = at.toUTCString().replace(',', '').split(' ') as string[];
    const forms = [
      at.toUTCString(), // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
      `${day}day, ${date}-${month}-${year?.slice(2)} ${time} GMT`, // RFC 850 (Sunday: day names vary, all parse)
      `${day} ${month} ${String(at.getUTCDate()).padStart(2)} ${time} ${year}`, // asctime: no zone, always GMT
    ];
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo'; // UTC+9: a date read as local time would lie 9 hours in the past
    try {
      for (const [i, form] of forms.entries()) {
        a.enqueue({ status: 429, headers: { 'retry-after': form } });
        // Another model each time: the first 429 cools its target.
        const model = `a/m${i}`;
        const err = (await rejection(llm.chat({ model, messages: USER }))) as NoHealthyProviderError;
        const hint = (err.attempts[0]?.error as { retryAfterMs?: number } | undefined)?.retryAfterMs;
        expect({ form, near: hint !== undefined && hint > 50_000 && hint <= 61_000 }).toEqual({
          form,
          near: true,
        });
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('HTTP 404 for the model', () => {
  it('falls through as model-not-found without any health penalty', async () => {
    const { llm, a } = await twoProviders();
    a.enqueue({ status: 404 }, { status: 404 }, { status: 404 });
    for (let i = 0; i < 3; i++) {
      const res = await llm.chat(CHAT);
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toMatchObject({
        target: 'a/m1',
        reason: 'model-not-found',
        status: 404,
      });
    }
    expect(a.count('chat')).toBe(3);
    expect(llm.health().providers.a).toMatchObject({
      healthy: true,
      consecutiveFailures: 0,
      lastError: null,
    });
  });

  // Groq retires models with a 400 (code model_decommissioned): an alias naming one must go on to its next entry.
  it.each([
    [
      'model_decommissioned',
      'The model `llama3-70b-8192` has been decommissioned and is no longer supported. Please refer to https://console.groq.com/docs/deprecations for a recommendation on which model to use instead.',
    ],
    ['model_not_found', 'The model `m1` does not exist or you do not have access to it.'],
  ])('a 400 with code %s is the same: model-not-found, no health penalty', async (code, message) => {
    const { llm, a } = await twoProviders();
    a.setDefault({
      status: 400,
      body: JSON.stringify({ error: { message, type: 'invalid_request_error', code } }),
    });
    for (let i = 0; i < 3; i++) {
      const res = await llm.chat(CHAT);
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toMatchObject({
        target: 'a/m1',
        reason: 'model-not-found',
        status: 404,
      });
    }
    expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, lastError: null });
  });
});

describe('a model that lacks a feature the request needs, said by the upstream', () => {
  // Ollama cannot know in advance which of its models handle tools; it answers a 400 when one does not.
  const WITH_TOOLS = {
    ...CHAT,
    tools: [{ type: 'function' as const, function: { name: 'now', parameters: { type: 'object' } } }],
  };
  const NO_TOOLS = {
    status: 400,
    body: JSON.stringify({ error: 'registry.ollama.ai/library/gemma3:4b does not support tools' }),
  };

  it("Ollama's 400 'does not support tools' skips the entry like a capability it lacks: no health penalty", async () => {
    const h = await harness({
      upstreams: { a: 'ollama', b: 'openai' },
      aliases: { 'mana/x': ['a/gemma3:4b', 'b/m2'] },
    });
    h.up.a?.setDefault(NO_TOOLS);
    h.up.b?.setDefault({ reply: 'from b' });
    for (let i = 0; i < 3; i++) {
      const res = await h.llm.chat(WITH_TOOLS);
      expect(res.model).toBe('b/m2');
      expect(res.routing.attempts[0]).toMatchObject({ target: 'a/gemma3:4b', reason: 'capability' });
    }
    expect(h.llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, lastError: null });
    // A direct model throws ProviderCapabilityError, as for a capability known in advance.
    const err = await rejection(h.llm.chat({ ...WITH_TOOLS, model: 'a/gemma3:4b' }));
    expect(err).toBeInstanceOf(ProviderCapabilityError);
    expect(err).toMatchObject({ httpStatus: 400, capability: 'tools' });
  });

  it("vLLM's 400 without --enable-auto-tool-choice is a capability the server lacks: skipped, no health penalty", async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/qwen', 'b/m2'] },
    });
    h.up.a?.setDefault({
      status: 400,
      body: JSON.stringify({
        object: 'error',
        message: '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
        type: 'BadRequestError',
        param: null,
        code: 400,
      }),
    });
    h.up.b?.setDefault({ reply: 'from b' });
    const res = await h.llm.chat(WITH_TOOLS);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/qwen', reason: 'capability' });
    expect(h.llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, lastError: null });
    const err = await rejection(h.llm.chat({ ...WITH_TOOLS, model: 'a/qwen' }));
    expect(err).toBeInstanceOf(ProviderCapabilityError);
    expect(err).toMatchObject({ httpStatus: 400, capability: 'tools' });
  });
});

describe('errors that are the caller’s own propagate and leave health alone', () => {
  const rows: { name: string; behavior: MockBehavior; type: ErrorClass; httpStatus: number }[] = [
    { name: 'HTTP 401', behavior: { status: 401 }, type: ProviderAuthError, httpStatus: 502 },
    { name: 'HTTP 403', behavior: { status: 403 }, type: ProviderAuthError, httpStatus: 502 },
    {
      name: 'an in-band auth error',
      behavior: { inBandError: 'auth' },
      type: ProviderAuthError,
      httpStatus: 502,
    },
    { name: 'HTTP 400', behavior: { status: 400 }, type: ProviderHTTPError, httpStatus: 400 },
    { name: 'HTTP 422', behavior: { status: 422 }, type: ProviderHTTPError, httpStatus: 422 },
    {
      name: 'an in-band invalid-request error',
      behavior: { inBandError: 'invalid' },
      type: ProviderHTTPError,
      httpStatus: 400,
    },
    { name: 'a safety block', behavior: { blocked: true }, type: ProviderBlockedError, httpStatus: 422 },
  ];
  for (const row of rows) {
    it(`${row.name}`, async () => {
      const { llm, a, b } = await twoProviders();
      a.enqueue(row.behavior);
      const before = llm.health();
      const err = await rejection(llm.chat(CHAT));
      expect(err).toBeInstanceOf(row.type);
      expect(err).toMatchObject({ provider: 'a', model: 'm1', httpStatus: row.httpStatus });
      expect(b.count('chat')).toBe(0);
      expect(llm.health()).toEqual(before);
    });
  }

  for (const protocol of ['openai', 'ollama', 'google', 'anthropic'] as const) {
    it(`${protocol}: a safety block propagates from chat and stream alike`, async () => {
      const h = await harness({
        upstreams: { a: protocol, b: 'openai' },
        aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      });
      h.up.a?.setDefault({ blocked: true });
      const err = await rejection(h.llm.chat(CHAT));
      const streamed = await rejection(collect(h.llm.stream(CHAT)));
      for (const e of [err, streamed]) {
        expect(e).toBeInstanceOf(ProviderBlockedError);
        expect(e).toMatchObject({ httpStatus: 422, reason: expect.any(String) });
      }
      expect(h.up.b?.count()).toBe(0);
      expect(h.llm.health().providers.a?.consecutiveFailures).toBe(0);
    });
  }

  // OpenRouter's documented answer to a prompt its moderation flagged: HTTP 403 with the reasons in the metadata.
  const FLAGGED = {
    status: 403,
    body: JSON.stringify({
      error: {
        code: 403,
        message:
          'meta-llama/llama-guard requires moderation on OpenRouter. Your input was flagged for "harassment".',
        metadata: {
          reasons: ['harassment'],
          flagged_input: 'you are…',
          provider_name: 'OpenAI',
          model_slug: 'openai/gpt-4o',
        },
      },
    }),
  };

  it("OpenRouter's 403 for a flagged prompt is a safety block, not a wrong key: it propagates and never opens the breaker, even with fallbackOnAuthError", async () => {
    for (const fallbackOnAuthError of [false, true]) {
      const { llm, a, b } = await twoProviders({ fallbackOnAuthError });
      a.setDefault(FLAGGED);
      for (let i = 0; i < 3; i++) {
        const err = await rejection(llm.chat(CHAT));
        expect(err).toBeInstanceOf(ProviderBlockedError);
        expect(err).toMatchObject({ httpStatus: 422, status: 403, reason: 'harassment' });
      }
      expect(b.count('chat')).toBe(0);
      expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
      await closeAll();
    }
  });

  it('a 401 falls through and opens the breaker with fallbackOnAuthError', async () => {
    const { llm, a, b, events } = await twoProviders({ fallbackOnAuthError: true });
    a.enqueue({ status: 401 });
    const res = await llm.chat(CHAT);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'auth', status: 401 });
    expect(llm.health().providers.a).toMatchObject({ healthy: false, state: 'open' });
    expect(events.of('health')).toEqual([
      expect.objectContaining({ provider: 'a', healthy: false, state: 'open' }),
    ]);
    const next = await llm.chat(CHAT);
    expect(next.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'unhealthy' });
    expect(a.count('chat')).toBe(1);
    expect(b.count('chat')).toBe(2);
  });
});

describe('the caller’s abort', () => {
  it('rethrows signal.reason, does not fall back, leaves health alone and closes the upstream socket', async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    const ac = new AbortController();
    const call = h.llm.chat(CHAT, { signal: ac.signal });
    await waitFor(() => hang.received === 1, 'request at a');
    expect(hang.closedByClient).toBe(0);
    const reason = new Error('user went away');
    ac.abort(reason);
    expect(await rejection(call)).toBe(reason);
    expect(h.up.b?.count('chat')).toBe(0);
    expect(h.llm.health().providers.a).toMatchObject({
      consecutiveFailures: 0,
      lastError: null,
      state: 'closed',
    });
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('an abort that lands between two attempts stops the walk', async () => {
    const { llm, a, b } = await twoProviders();
    a.enqueue({ status: 500 });
    const ac = new AbortController();
    const reason = new Error('aborted while falling back');
    llm.on('fallback', () => ac.abort(reason));
    expect(await rejection(llm.chat(CHAT, { signal: ac.signal }))).toBe(reason);
    expect(a.count('chat')).toBe(1);
    expect(b.count('chat')).toBe(0);
  });

  it('an abort between two attempts starts no attempt at the next entry: only the failed one is recorded', async () => {
    const { llm, a, b, events } = await twoProviders();
    a.enqueue({ status: 500 });
    const ac = new AbortController();
    const reason = new Error('aborted while falling back');
    llm.on('fallback', () => ac.abort(reason));
    expect(await rejection(llm.chat(CHAT, { signal: ac.signal }))).toBe(reason);
    expect(events.of('failure')).toEqual([
      expect.objectContaining({
        attempts: [expect.objectContaining({ target: 'a/m1', reason: 'http-error' })],
      }),
    ]);
    expect(a.count('chat') + b.count()).toBe(1);
  });

  it('an already-aborted signal wins over resolving the model: its reason, not UnknownAliasError', async () => {
    const { llm } = await twoProviders();
    const reason = new Error('gave up before calling');
    const err = await rejection(
      llm.chat({ model: 'mana/nope', messages: USER }, { signal: AbortSignal.abort(reason) }),
    );
    expect(err).toBe(reason);
  });

  it('an already-aborted signal rejects before anything is called, and before any event (docs/choices.md)', async () => {
    const { llm, a, events } = await twoProviders();
    const reason = new DOMException('stop', 'AbortError');
    expect(await rejection(llm.chat(CHAT, { signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(await rejection(llm.stream(CHAT, { signal: AbortSignal.abort(reason) }).next())).toBe(reason);
    expect(
      await rejection(llm.embed({ model: 'a/e', input: 'x' }, { signal: AbortSignal.abort(reason) })),
    ).toBe(reason);
    expect(a.count()).toBe(0);
    expect(events.all).toEqual([]);
  });
});

describe('a direct provider/model', () => {
  it('has no fallback: a fallback-row failure ends in NoHealthyProviderError with it as cause', async () => {
    const { llm, a, b } = await twoProviders();
    a.enqueue({ status: 500 });
    const err = await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const e = err as NoHealthyProviderError;
    expect(e.httpStatus).toBe(503);
    expect(e.requested).toBe('a/m1');
    expect(e.cause).toBeInstanceOf(ProviderHTTPError);
    expect(e.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'http-error', status: 500 }),
    ]);
    expect(b.count()).toBe(0);
  });
});
