import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.js';
import {
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  type ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
} from '../src/errors.js';
import { DEFAULT_LIMITS } from '../src/options.js';
import type { AdapterChatRequest, ProviderAdapter } from '../src/providers/adapter.js';
import { type MockBehavior, type MockUpstream, startMockServer } from '../src/testing/mock-server.js';
import type { ChatChunk } from '../src/types.js';
import { createHttp, type Http, type HttpBody } from '../src/wire/http.js';
import { testImages } from './helpers/adapter-kit.js';
import { PROTOCOLS } from './helpers/protocols.js';

const KEY = 'sk-test-SECRET123456';
const ID = 'prov';
const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

type Op = 'chat' | 'stream' | 'embed';
const ALL: Op[] = ['chat', 'stream', 'embed'];
const CHAT: Op[] = ['chat', 'stream'];
const STREAM: Op[] = ['stream'];

/** How a failure must surface, identically for every protocol. `status: '5xx'` = any 5xx. */
interface Expected {
  type: abstract new (...args: never[]) => ProviderError;
  retryable: boolean;
  httpStatus: number;
  status?: number | '5xx';
  retryAfterMs?: number | undefined;
}

const upstream5xx = { type: ProviderHTTPError, retryable: true, httpStatus: 502 };
const rateLimited = { type: ProviderRateLimitError, retryable: true, httpStatus: 429, status: 429 };
const auth = { type: ProviderAuthError, retryable: false, httpStatus: 502 };
const response = { type: ProviderResponseError, retryable: true, httpStatus: 502 };
const connection = { type: ProviderConnectionError, retryable: true, httpStatus: 502 };

/** The fallback table of docs/fallback.md, row by row. */
const FAILURES: { name: string; b: MockBehavior; ops: Op[]; expect: Expected }[] = [
  { name: 'HTTP 500', b: { status: 500 }, ops: ALL, expect: { ...upstream5xx, status: 500 } },
  { name: 'HTTP 503', b: { status: 503 }, ops: ALL, expect: { ...upstream5xx, status: 503 } },
  {
    name: 'HTTP 429 + retry-after seconds',
    b: { status: 429, headers: { 'retry-after': '7' } },
    ops: ALL,
    expect: { ...rateLimited, retryAfterMs: 7000 },
  },
  {
    name: 'HTTP 429 + retry-after-ms',
    b: { status: 429, headers: { 'retry-after-ms': '1500' } },
    ops: ALL,
    expect: { ...rateLimited, retryAfterMs: 1500 },
  },
  {
    name: 'HTTP 429 without hint',
    b: { status: 429 },
    ops: ALL,
    expect: { ...rateLimited, retryAfterMs: undefined },
  },
  { name: 'HTTP 401', b: { status: 401 }, ops: ALL, expect: { ...auth, status: 401 } },
  { name: 'HTTP 403', b: { status: 403 }, ops: ALL, expect: { ...auth, status: 403 } },
  {
    name: 'HTTP 404 (model not found)',
    b: { status: 404 },
    ops: ALL,
    expect: { type: ProviderHTTPError, retryable: true, httpStatus: 404, status: 404 },
  },
  {
    name: 'HTTP 400',
    b: { status: 400 },
    ops: ALL,
    expect: { type: ProviderHTTPError, retryable: false, httpStatus: 400, status: 400 },
  },
  { name: 'in-band rate limit', b: { inBandError: 'rate-limit' }, ops: ALL, expect: rateLimited },
  {
    name: 'in-band server error',
    b: { inBandError: 'server' },
    ops: ALL,
    expect: { ...upstream5xx, status: '5xx' },
  },
  { name: 'in-band auth error', b: { inBandError: 'auth' }, ops: ALL, expect: { ...auth, status: 401 } },
  {
    name: 'in-band invalid request',
    b: { inBandError: 'invalid' },
    ops: ALL,
    expect: { type: ProviderHTTPError, retryable: false, httpStatus: 400, status: 400 },
  },
  {
    name: 'in-band rate limit mid-stream',
    b: { inBandError: 'rate-limit', after: 2 },
    ops: STREAM,
    expect: rateLimited,
  },
  {
    name: 'in-band server error mid-stream',
    b: { inBandError: 'server', after: 2 },
    ops: STREAM,
    expect: { ...upstream5xx, status: '5xx' },
  },
  {
    name: 'safety block',
    b: { blocked: true },
    ops: CHAT,
    expect: { type: ProviderBlockedError, retryable: false, httpStatus: 422 },
  },
  { name: 'malformed body / frame', b: { malformed: true }, ops: ALL, expect: response },
  { name: 'reset before headers', b: { reset: true }, ops: ALL, expect: connection },
  { name: 'socket destroyed mid-stream', b: { streamThenReset: 2 }, ops: STREAM, expect: connection },
  {
    name: 'stream ends without finish or end marker',
    b: { streamThenEnd: 2 },
    ops: STREAM,
    expect: response,
  },
];

/** Behaviours that never answer: each must reject with the signal's reason once the caller aborts. */
const STALLS: { name: string; b: MockBehavior; ops: Op[] }[] = [
  { name: 'no answer at all', b: { hang: true }, ops: ALL },
  { name: 'headers, then silence', b: { stallAfterHeaders: true }, ops: ALL },
];

async function collect(it: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const textOf = (chunks: ChatChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const hasContent = (c: ChatChunk) => Boolean(c.choices[0]?.delta.content);

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

function leaksNoKey(err: unknown): void {
  expect(String((err as Error).message)).not.toContain(KEY);
  expect(JSON.stringify(err)).not.toContain(KEY);
}

describe.each(PROTOCOLS)('adapter contract: $name', (p) => {
  let mock: MockUpstream;
  let http: Http;
  let bodies: HttpBody[];
  let destroyed: Set<HttpBody>;
  let adapter: ProviderAdapter;
  const model = `${ID}/${p.model}`;

  const make = (baseUrl: string): ProviderAdapter => {
    // Records every response body so the suite can check that abandoned streams are cancelled.
    const tracked: Http = {
      limits: http.limits,
      send: async (req) => {
        const res = await http.send(req);
        const { body } = res;
        bodies.push(body);
        const destroy = body.destroy.bind(body);
        body.destroy = (err?: Error) => {
          destroyed.add(body);
          return destroy(err);
        };
        return res;
      },
      close: () => http.close(),
    };
    return p.create({
      config: { id: ID, baseUrl, apiKey: KEY, headers: {} },
      http: tracked,
      clock: systemClock,
      images: testImages(),
    });
  };

  beforeEach(async () => {
    mock = await startMockServer(p.codec);
    http = createHttp({ connectMs: 2000, limits: DEFAULT_LIMITS });
    bodies = [];
    destroyed = new Set();
    adapter = make(mock.url);
  });
  afterEach(async () => {
    await http.close();
    await mock.close();
  });

  const ctx = (signal = new AbortController().signal) => ({ signal });
  const chatReq = (extra: Partial<AdapterChatRequest> = {}): AdapterChatRequest => ({
    model: p.model,
    messages: [{ role: 'user', content: 'Hi' }],
    ...extra,
  });
  const run = (op: Op, signal?: AbortSignal): Promise<unknown> =>
    op === 'chat'
      ? adapter.chat(chatReq(), ctx(signal))
      : op === 'stream'
        ? collect(adapter.stream(chatReq(), ctx(signal)))
        : adapter.embed({ model: p.model, input: ['a', 'b'] }, ctx(signal));
  const capable = (op: Op) => op !== 'embed' || p.capabilities.embeddings;

  async function expectFailure(promise: Promise<unknown>, e: Expected): Promise<void> {
    const err = (await promise.then(
      () => {
        throw new Error('expected a rejection');
      },
      (x: unknown) => x,
    )) as ProviderError & { retryAfterMs?: number };
    expect(err).toBeInstanceOf(e.type);
    expect({ retryable: err.retryable, httpStatus: err.httpStatus, provider: err.provider }).toEqual({
      retryable: e.retryable,
      httpStatus: e.httpStatus,
      provider: ID,
    });
    expect(err.message).toContain(ID);
    if (e.status === '5xx') expect(err.status).toBeGreaterThanOrEqual(500);
    else if (e.status !== undefined) expect(err.status).toBe(e.status);
    if ('retryAfterMs' in e) expect(err.retryAfterMs).toBe(e.retryAfterMs);
    leaksNoKey(err);
  }

  describe('failure classification', () => {
    const rows = FAILURES.flatMap((f) => f.ops.map((op) => ({ ...f, op, title: `${op}: ${f.name}` })));
    it.each(rows)('$title', async ({ op, b, expect: e }) => {
      if (!capable(op)) return;
      mock.enqueue(b);
      await expectFailure(run(op), e);
    });

    it.each(ALL)('%s: connection refused', async (op) => {
      if (!capable(op)) return;
      const url = mock.url;
      await mock.close();
      adapter = make(url);
      await expectFailure(run(op), connection);
    });

    const stalls = STALLS.flatMap((s) => s.ops.map((op) => ({ ...s, op, title: `${op}: ${s.name}` })));
    it.each(stalls)('$title → rejects with the abort reason', async ({ op, b }) => {
      if (!capable(op)) return;
      mock.enqueue(b);
      const ac = new AbortController();
      const reason = new Error('caller gave up');
      const pending = run(op, ac.signal);
      await until(() => mock.requests.length > 0);
      ac.abort(reason);
      await expect(pending).rejects.toBe(reason);
    });

    it('stream: stalls after content until aborted, then rejects with the reason', async () => {
      mock.enqueue({ streamThenStall: 2 });
      const ac = new AbortController();
      const it = adapter.stream(chatReq(), ctx(ac.signal))[Symbol.asyncIterator]();
      let content = 0;
      while (content < 2) {
        const r = await it.next();
        expect(r.done).toBe(false);
        if (!r.done && hasContent(r.value)) content++;
      }
      const next = it.next();
      const race = await Promise.race([
        next.then(
          () => 'settled',
          () => 'settled',
        ),
        pendingAfter(40),
      ]);
      expect(race).toBe('pending');
      const reason = new Error('caller gave up');
      ac.abort(reason);
      await expect(next).rejects.toBe(reason);
    });

    it('embed on a protocol without embeddings throws ProviderCapabilityError', async () => {
      if (p.capabilities.embeddings) return;
      await expect(run('embed')).rejects.toBeInstanceOf(ProviderCapabilityError);
    });
  });

  describe('answers', () => {
    it('reports its capabilities', () => {
      expect(adapter.capabilities(p.model)).toEqual({ tools: true, vision: true, ...p.capabilities });
    });

    it('a caller changing the capabilities it got does not change what the adapter reports', () => {
      const caps = adapter.capabilities(p.model) as { tools: boolean };
      try {
        caps.tools = false;
      } catch {
        // A frozen object refuses the write (strict mode): that is one way to keep it.
      }
      expect(adapter.capabilities(p.model)).toEqual({ tools: true, vision: true, ...p.capabilities });
    });

    it.each(['stop', 'length'] as const)('chat: text, usage and finish_reason %s', async (finish) => {
      mock.enqueue({ reply: 'Hello there, world!', finish, usage: { prompt: 11, completion: 13 } });
      const res = await adapter.chat(chatReq(), ctx());
      expect(res).toMatchObject({
        object: 'chat.completion',
        model,
        choices: [
          { index: 0, message: { role: 'assistant', content: 'Hello there, world!' }, finish_reason: finish },
        ],
        usage: { prompt_tokens: 11, completion_tokens: 13, total_tokens: 24 },
      });
      expect(res.id).toEqual(expect.any(String));
    });

    it.each(['stop', 'length'] as const)('stream: content, stable id, finish %s, usage', async (finish) => {
      const reply = 'The quick brown fox jumps over the lazy dog';
      mock.enqueue({ reply, chunks: 4, finish, usage: { prompt: 11, completion: 13 } });
      const chunks = await collect(
        adapter.stream(chatReq({ stream_options: { include_usage: true } }), ctx()),
      );
      expect(textOf(chunks)).toBe(reply);
      expect(chunks.filter(hasContent).length).toBeGreaterThanOrEqual(2);
      const id = chunks[0]?.id;
      expect(id).toEqual(expect.any(String));
      for (const c of chunks) expect(c).toMatchObject({ id, object: 'chat.completion.chunk', model });
      const fin = chunks.findIndex((c) => c.choices[0]?.finish_reason);
      expect(chunks[fin]?.choices[0]?.finish_reason).toBe(finish);
      expect(chunks.slice(fin + 1).some(hasContent)).toBe(false);
      expect(chunks.find((c) => c.usage)?.usage).toEqual({
        prompt_tokens: 11,
        completion_tokens: 13,
        total_tokens: 24,
      });
    });

    const call = { id: 'call_42', name: 'get_weather', arguments: '{"city":"Berlin","unit":"c"}' };
    const tools: AdapterChatRequest['tools'] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } },
        },
      },
    ];

    it('chat: tool call', async () => {
      mock.enqueue({ toolCall: call });
      const res = await adapter.chat(chatReq({ tools }), ctx());
      const c = res.choices[0];
      expect(c?.finish_reason).toBe('tool_calls');
      expect(c?.message.tool_calls).toHaveLength(1);
      const tc = c?.message.tool_calls?.[0];
      expect(tc).toMatchObject({ id: expect.any(String), type: 'function', function: { name: call.name } });
      expect(JSON.parse(tc?.function.arguments ?? '')).toEqual(JSON.parse(call.arguments));
    });

    it('stream: tool call fragments keep their index', async () => {
      mock.enqueue({ toolCall: call });
      const chunks = await collect(adapter.stream(chatReq({ tools }), ctx()));
      const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(deltas.length).toBeGreaterThan(0);
      for (const d of deltas) expect(d.index).toBe(0);
      expect(deltas.map((d) => d.function?.name ?? '').join('')).toBe(call.name);
      expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual(
        JSON.parse(call.arguments),
      );
      expect(chunks.at(-1)?.choices.length === 0 || chunks.some((c) => c.choices[0]?.finish_reason)).toBe(
        true,
      );
      expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('tool_calls');
    });

    it('chat: response_format json_schema when capable', async () => {
      mock.enqueue({ reply: '{"ok":true}' });
      const req = chatReq({
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'r', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } },
        },
      });
      if (!p.capabilities.jsonSchema) {
        await expect(adapter.chat(req, ctx())).rejects.toBeInstanceOf(ProviderCapabilityError);
        return;
      }
      expect((await adapter.chat(req, ctx())).choices[0]?.message.content).toBe('{"ok":true}');
    });

    it('chat: an image as data: URL', async () => {
      mock.enqueue({ reply: 'a pixel' });
      const res = await adapter.chat(
        chatReq({
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is this?' },
                { type: 'image_url', image_url: { url: PIXEL } },
              ],
            },
          ],
        }),
        ctx(),
      );
      expect(res.choices[0]?.message.content).toBe('a pixel');
    });

    it('slow byte-by-byte delivery gives the identical answer', async () => {
      const reply = 'Slow and steady — wins ✓';
      mock.enqueue({ reply }, { slow: reply }, { reply }, { slow: reply });
      const fast = await adapter.chat(chatReq(), ctx());
      const slow = await adapter.chat(chatReq(), ctx());
      expect(slow.choices[0]?.message).toEqual(fast.choices[0]?.message);
      expect(textOf(await collect(adapter.stream(chatReq(), ctx())))).toBe(reply);
      expect(textOf(await collect(adapter.stream(chatReq(), ctx())))).toBe(reply);
    });

    it('breaking out of a stream cancels the upstream request', async () => {
      mock.enqueue({ streamThenStall: 3 });
      for await (const c of adapter.stream(chatReq(), ctx())) if (hasContent(c)) break;
      expect(bodies).toHaveLength(1);
      expect(destroyed.has(bodies[0] as HttpBody)).toBe(true);
    });

    it('embed: one vector per input, in order', async () => {
      if (!p.capabilities.embeddings) return;
      mock.enqueue({ dimensions: 3 });
      const res = await adapter.embed({ model: p.model, input: ['alpha', 'beta'] }, ctx());
      expect(res).toMatchObject({ object: 'list', model });
      expect(res.data.map((d) => [d.index, d.embedding.length])).toEqual([
        [0, 3],
        [1, 3],
      ]);
      expect(res.data[0]?.embedding).not.toEqual(res.data[1]?.embedding);
    });

    it('models: the provider model names', async () => {
      mock.enqueue({ models: ['alpha', 'beta'] });
      expect(await adapter.models(ctx())).toEqual(['alpha', 'beta']);
    });

    it('probe: ok when the model list answers', async () => {
      expect(await adapter.probe(ctx())).toEqual({ ok: true });
    });

    it('probe: a 401 is alive, with the error recorded and no key in it', async () => {
      mock.enqueue({ status: 401, body: `{"error":{"message":"Incorrect API key provided: ${KEY}"}}` });
      const out = await adapter.probe(ctx());
      expect(out.ok).toBe(true);
      expect(out.error).toEqual(expect.stringContaining('401'));
      expect(out.error).not.toContain(KEY);
    });

    it('probe: a 5xx rejects with ProviderHTTPError', async () => {
      mock.enqueue({ status: 502 });
      await expectFailure(adapter.probe(ctx()), { ...upstream5xx, status: 502 });
    });

    it('probe: connection refused rejects with ProviderConnectionError', async () => {
      const url = mock.url;
      await mock.close();
      adapter = make(url);
      await expectFailure(adapter.probe(ctx()), connection);
    });
  });
});

function pendingAfter(ms: number): Promise<'pending'> {
  return new Promise((r) => setTimeout(() => r('pending'), ms));
}
