import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, rejection, testImages } from '../../test/helpers/adapter-kit.js';
import { systemClock } from '../clock.js';
import { ProviderHTTPError, ProviderRateLimitError, ProviderResponseError } from '../errors.js';
import { DEFAULT_LIMITS } from '../options.js';
import { openaiCodec } from '../testing/codecs/openai.js';
import { type MockUpstream, startMockServer } from '../testing/mock-server.js';
import type { ChatChunk } from '../types.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest, ProviderAdapter } from './adapter.js';
import { createOpenAIAdapter } from './openai.js';

const KEY = 'sk-test-SECRET123456';
const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let mock: MockUpstream;
let http: Http;
let adapter: ProviderAdapter;
const extra: Server[] = [];

const ctx = () => ({ signal: new AbortController().signal });
const req = (more: Partial<AdapterChatRequest> = {}): AdapterChatRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hi' }],
  ...more,
});
const make = (apiKey?: string, headers: Record<string, string> = {}) =>
  createOpenAIAdapter({
    config: { id: 'groq', baseUrl: mock.url, headers, ...(apiKey ? { apiKey } : {}) },
    http,
    clock: systemClock,
    images: testImages(),
  });

/** A recorded-style SSE body: a `data:` frame per object, strings as raw lines, then `[DONE]` unless `done` is false. */
function sse(items: unknown[], { eol = '\n', done = true } = {}): string {
  const blocks = items.map((f) => `${typeof f === 'string' ? f : `data: ${JSON.stringify(f)}`}${eol}${eol}`);
  return blocks.join('') + (done ? `data: [DONE]${eol}${eol}` : '');
}
const frame = (delta: unknown, finish: string | null = null, more: object = {}) => ({
  id: 'gen-1',
  object: 'chat.completion.chunk',
  created: 1_720_000_000,
  model: 'upstream-name',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...more,
});
const streamReply = (body: string) => ({
  status: 200,
  body,
  headers: { 'content-type': 'text/event-stream' },
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  extra.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  mock = await startMockServer(openaiCodec);
  http = createHttp({ connectMs: 2000, limits: DEFAULT_LIMITS });
  adapter = make(KEY, { 'X-Title': 'mana-test' });
});
afterEach(async () => {
  await http.close();
  await mock.close();
  for (const s of extra.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('request mapping', () => {
  const full = req({
    temperature: 0.2,
    max_tokens: 64,
    top_p: 0.9,
    frequency_penalty: 0.1,
    presence_penalty: 0.3,
    stop: ['END'],
    seed: 7,
    user: 'u-1',
    response_format: { type: 'json_object' },
    tool_choice: 'auto',
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    stream_options: { include_usage: true },
    // A JS caller may add fields the types do not know; they reach the upstream untouched.
    ...({ logit_bias: { '50256': -100 }, parallel_tool_calls: false } as object),
  });

  it('chat passes every field through, without stream_options, with stream: false', async () => {
    await adapter.chat(full, ctx());
    const { stream_options: _, ...rest } = full;
    expect(mock.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(mock.requests[0]?.body).toEqual({ ...rest, stream: false });
  });

  it('stream passes every field through with stream: true', async () => {
    await collect(adapter.stream(full, ctx()));
    expect(mock.requests[0]?.body).toEqual({ ...full, stream: true });
  });

  it('stream sends stream_options only when the caller asked', async () => {
    await collect(adapter.stream(req(), ctx()));
    expect(mock.requests[0]?.body).toEqual({ ...req(), stream: true });
  });

  it('sends the bearer key and the configured headers', async () => {
    await adapter.chat(req(), ctx());
    expect(mock.requests[0]?.headers).toMatchObject({
      authorization: `Bearer ${KEY}`,
      'x-title': 'mana-test',
      'content-type': 'application/json',
    });
  });

  it('sends no authorization header without a key', async () => {
    adapter = make();
    await adapter.chat(req(), ctx());
    await adapter.probe(ctx());
    for (const r of mock.requests) expect(r.headers.authorization).toBeUndefined();
  });

  it('passes json_schema response_format unchanged', async () => {
    const response_format = {
      type: 'json_schema' as const,
      json_schema: { name: 'city', strict: true, schema: { type: 'object', required: ['name'] } },
    };
    await adapter.chat(req({ response_format }), ctx());
    await collect(adapter.stream(req({ response_format }), ctx()));
    for (const r of mock.requests)
      expect((r.body as { response_format: unknown }).response_format).toEqual(response_format);
  });

  it('passes images through as URLs and never fetches them itself', async () => {
    let fetched = 0;
    const origin = await listen((_q, s) => {
      fetched++;
      s.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from(PIXEL.split(',')[1] ?? '', 'base64'));
    });
    const messages: AdapterChatRequest['messages'] = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image_url', image_url: { url: PIXEL } },
          { type: 'image_url', image_url: { url: `${origin}/cat.png`, detail: 'low' } },
        ],
      },
    ];
    await adapter.chat(req({ messages }), ctx());
    expect(mock.requests[0]?.body).toMatchObject({ messages });
    expect(fetched).toBe(0);
  });
});

describe('tools round trip', () => {
  const call = { id: 'call_abc', name: 'get_weather', arguments: '{"city":"Paris"}' };
  const history: AdapterChatRequest['messages'] = [
    { role: 'user', content: 'Weather in Paris?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } },
      ],
    },
    { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' },
  ];

  it('sends tools, tool_choice and tool messages unchanged and returns the tool call', async () => {
    mock.enqueue({ toolCall: call });
    const tool_choice = { type: 'function' as const, function: { name: call.name } };
    const res = await adapter.chat(req({ messages: history, tool_choice }), ctx());
    expect(mock.requests[0]?.body).toMatchObject({ messages: history, tool_choice });
    expect(res.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        tool_calls: [
          { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } },
        ],
      },
    });
  });

  it('streams tool-call fragments with their index and argument pieces', async () => {
    mock.enqueue({ toolCall: call });
    const chunks = await collect(adapter.stream(req(), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: call.id,
      type: 'function',
      function: { name: call.name, arguments: '' },
    });
    expect(deltas.slice(1).every((d) => d.index === 0 && d.id === undefined)).toBe(true);
    expect(deltas.map((d) => d.function?.arguments).join('')).toBe(call.arguments);
  });

  it('fills a missing tool-call index from its position', async () => {
    mock.enqueue(
      streamReply(
        sse([
          frame({ tool_calls: [{ id: 'a', type: 'function', function: { name: 'x', arguments: '{}' } }] }),
          frame({
            tool_calls: [{ index: 1, id: 'b', type: 'function', function: { name: 'y', arguments: '{}' } }],
          }),
          frame({}, 'tool_calls'),
        ]),
      ),
    );
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.index)).toEqual([0, 1]);
  });
});

describe('vendor stream dialects', () => {
  it('OpenRouter: comments, CRLF, reasoning deltas and usage', async () => {
    const body = sse(
      [
        ': OPENROUTER PROCESSING',
        frame({ role: 'assistant', content: '', reasoning: null }),
        frame({ content: '', reasoning: 'Thinking…' }),
        ': OPENROUTER PROCESSING',
        frame({ content: 'Hi ' }),
        frame({ content: 'there' }),
        frame({ content: '' }, 'stop'),
        frame({}, null, { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
      ],
      { eol: '\r\n' },
    );
    mock.enqueue(streamReply(body), streamReply(body));
    const chunks = await collect(adapter.stream(req({ stream_options: { include_usage: true } }), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi there');
    // Without include_usage the usage-only frame is not passed on (no `choices: []` chunk to trip over).
    const plain = await collect(adapter.stream(req(), ctx()));
    expect(plain.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks[1]?.choices[0]?.delta).toEqual({ content: '', reasoning_content: 'Thinking…' });
    expect(chunks.every((c) => c.id === 'gen-1' && c.model === 'groq/gpt-4o-mini')).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('DeepSeek reasoning_content passes through; multi-line data frames are joined', async () => {
    const json = JSON.stringify(frame({ content: 'B' }), null, 1).split('\n');
    const body = `${sse([frame({ reasoning_content: 'A' })], { done: false })}${json.map((l) => `data: ${l}\n`).join('')}\n${sse([frame({}, 'stop')])}`;
    mock.enqueue(streamReply(body));
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { reasoning_content: 'A' },
      { content: 'B' },
      {},
    ]);
  });

  it('keeps one id per stream even when frames carry different or no ids', async () => {
    mock.enqueue(
      streamReply(
        sse([
          { ...frame({ content: 'a' }), id: undefined },
          { ...frame({ content: 'b' }), id: 'other' },
          frame({}, 'stop'),
        ]),
      ),
    );
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.id).toMatch(/^chatcmpl-/);
  });

  it('skips frames without choices or usage (Azure prompt_filter_results)', async () => {
    mock.enqueue(
      streamReply(
        sse([{ ...frame({}), choices: [], prompt_filter_results: [] }, frame({ content: 'ok' }, 'stop')]),
      ),
    );
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content)).toEqual(['ok']);
  });

  it('a finish reason without [DONE], or [DONE] without a finish reason, is a clean end', async () => {
    mock.enqueue(streamReply(sse([frame({ content: 'a' }, 'stop')], { done: false })));
    expect(await collect(adapter.stream(req(), ctx()))).toHaveLength(1);
    mock.enqueue(streamReply(sse([frame({ content: 'a' })])));
    expect(await collect(adapter.stream(req(), ctx()))).toHaveLength(1);
  });

  it.each([
    [
      'vLLM object:error frame',
      { object: 'error', message: 'bad', type: 'BadRequestError', param: null, code: 400 },
      ProviderHTTPError,
      400,
    ],
    [
      'OpenAI error frame',
      { error: { message: 'oops', type: 'server_error', param: null, code: null } },
      ProviderHTTPError,
      503,
    ],
    [
      'OpenRouter finish_reason error',
      frame({ content: '' }, 'error', { error: { code: 502, message: 'Provider disconnected' } }),
      ProviderHTTPError,
      502,
    ],
    [
      'OpenRouter rate limit frame',
      { error: { code: 429, message: 'Rate limit exceeded' } },
      ProviderRateLimitError,
      429,
    ],
    ['finish_reason error without details', frame({}, 'error'), ProviderResponseError, undefined],
  ])('%s mid-stream → classified', async (_n, bad, type, status) => {
    mock.enqueue(streamReply(sse([frame({ content: 'partial' }), bad])));
    const seen: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of adapter.stream(req(), ctx())) seen.push(c);
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(err).toBeInstanceOf(type);
    expect((err as ProviderHTTPError).status).toBe(status);
  });

  it('hands the router whole reads: the same chunks as stream(), the first content chunk at once', async () => {
    const body = sse([
      frame({ role: 'assistant', content: '' }),
      frame({ content: 'a' }),
      frame({ content: 'b' }),
      frame({}, 'stop'),
    ]);
    mock.enqueue(streamReply(body), streamReply(body));
    const flat = await collect(adapter.stream(req(), ctx()));
    const batches: ChatChunk[][] = [];
    expect(adapter.streamBatches).toBeTypeOf('function');
    for await (const b of adapter.streamBatches?.(req(), ctx()) ?? []) batches.push(b);
    expect(batches.flat()).toEqual(flat);
    expect(flat).toHaveLength(4);
    // The body arrives in one read: the role and first text chunks go out before the rest is parsed.
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
  });

  it('an `event: error` SSE event is an in-band error', async () => {
    mock.enqueue(streamReply(`event: error\ndata: {"message":"overloaded","type":"server_error"}\n\n`));
    expect(await rejection(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderHTTPError);
  });

  it.each([
    ['a frame without choices', sse([{ id: 'x', object: 'chat.completion.chunk' }])],
    ['a choice without delta', sse([{ id: 'x', choices: [{ index: 0, finish_reason: null }] }])],
    ['a non-object frame', sse(['data: 42'])],
  ])('%s → ProviderResponseError', async (_n, body) => {
    mock.enqueue(streamReply(body));
    expect(await rejection(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });

  it('breaking out early closes the upstream socket', async () => {
    let closed = false;
    const origin = await listen((q, s) => {
      q.resume();
      s.on('close', () => (closed = true));
      s.writeHead(200, { 'content-type': 'text/event-stream' });
      s.write(sse([frame({ content: 'one' }), frame({ content: 'two' })], { done: false }));
    });
    adapter = createOpenAIAdapter({
      config: { id: 'v', baseUrl: `${origin}/v1`, headers: {} },
      http,
      clock: systemClock,
      images: testImages(),
    });
    for await (const c of adapter.stream(req(), ctx())) if (c.choices[0]?.delta.content) break;
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 5));
    expect(closed).toBe(true);
  });
});

describe('JSON replies', () => {
  const json = (body: unknown) => ({ status: 200, body: JSON.stringify(body) });

  it.each([
    ['missing choices', { id: 'x', object: 'chat.completion' }],
    ['empty choices', { id: 'x', choices: [] }],
    ['a choice without message', { id: 'x', choices: [{ index: 0, finish_reason: 'stop' }] }],
    ['not an object', 'hello'],
  ])('%s → ProviderResponseError', async (_n, body) => {
    mock.enqueue(json(body));
    expect(await rejection(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it('a vLLM error body in a 200 is classified by its code', async () => {
    mock.enqueue(json({ object: 'error', message: 'context too long', type: 'BadRequestError', code: 400 }));
    const err = await rejection(adapter.chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err).toMatchObject({ status: 400, retryable: false });
  });

  it('message.reasoning becomes reasoning_content; vendor extras are tolerated', async () => {
    mock.enqueue(
      json({
        id: 'gen-9',
        provider: 'DeepInfra',
        system_fingerprint: 'fp',
        choices: [
          { index: 0, message: { role: 'assistant', content: '4', reasoning: '2+2' }, finish_reason: 'stop' },
        ],
      }),
    );
    const res = await adapter.chat(req(), ctx());
    expect(res).toMatchObject({ id: 'gen-9', object: 'chat.completion', model: 'groq/gpt-4o-mini' });
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: '4', reasoning_content: '2+2' });
    expect(res.created).toEqual(expect.any(Number));
  });

  it('a key echoed in an error body never reaches the error', async () => {
    mock.enqueue({
      status: 401,
      body: `{"error":{"message":"Incorrect API key provided: ${KEY}","code":"invalid_api_key"}}`,
    });
    const err = await rejection(adapter.chat(req(), ctx()));
    expect(err.message).toContain('HTTP 401');
    expect(`${err.message} ${JSON.stringify(err)}`).not.toContain(KEY);
  });
});

describe('embeddings and models', () => {
  it('embed sends model, inputs and dimensions and returns vectors in index order', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify({
        object: 'list',
        data: [
          { object: 'embedding', index: 1, embedding: [0, 1] },
          { object: 'embedding', index: 0, embedding: [1, 0] },
        ],
      }),
    });
    const res = await adapter.embed(
      { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 2 },
      ctx(),
    );
    expect(mock.requests[0]).toMatchObject({
      path: '/v1/embeddings',
      body: { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 2 },
    });
    expect(res).toEqual({
      object: 'list',
      model: 'groq/text-embedding-3-small',
      data: [
        { object: 'embedding', index: 0, embedding: [1, 0] },
        { object: 'embedding', index: 1, embedding: [0, 1] },
      ],
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
  });

  it('embed with fewer vectors than inputs → ProviderResponseError', async () => {
    mock.enqueue({ status: 200, body: '{"data":[{"index":0,"embedding":[1]}]}' });
    const err = await rejection(adapter.embed({ model: 'e', input: ['a', 'b'] }, ctx()));
    expect(err).toBeInstanceOf(ProviderResponseError);
  });

  it('models reads ids from GET /models; a list without data → ProviderResponseError', async () => {
    mock.enqueue({ models: ['llama-3.1-8b-instant', 'whisper-large-v3'] });
    expect(await adapter.models(ctx())).toEqual(['llama-3.1-8b-instant', 'whisper-large-v3']);
    expect(mock.requests[0]).toMatchObject({ method: 'GET', path: '/v1/models' });
    mock.enqueue({ status: 200, body: '{"models":[]}' });
    expect(await rejection(adapter.models(ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it('probe: a 404 still means alive, without an error to record', async () => {
    mock.enqueue({ status: 404 });
    expect(await adapter.probe(ctx())).toEqual({ ok: true });
  });
});
