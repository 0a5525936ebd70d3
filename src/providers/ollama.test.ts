import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, rejectsWithout, testImages, text } from '../../test/helpers/adapter-kit.js';
import { systemClock } from '../clock.js';
import {
  InvalidRequestError,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderConnectionError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
} from '../errors.js';
import { DEFAULT_LIMITS } from '../options.js';
import { ollamaCodec } from '../testing/codecs/ollama.js';
import { type MockUpstream, startMockServer } from '../testing/mock-server.js';
import type { ChatChunk, ChatMessage } from '../types.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest, ProviderAdapter } from './adapter.js';
import { createOllamaAdapter } from './ollama.js';

const KEY = 'sk-test-SECRET123456';
/** Awaits a rejection and checks the key leaks nowhere in it. */
const failure = (p: Promise<unknown>) => rejectsWithout(p, KEY);
const MODEL = 'llama3.1:8b';
const hi: ChatMessage[] = [{ role: 'user', content: 'Hi' }];

let mock: MockUpstream;
let http: Http;
let adapter: ProviderAdapter;
const servers: Server[] = [];

function make(baseUrl: string, apiKey: string | null = KEY): ProviderAdapter {
  return createOllamaAdapter({
    config: { id: 'ollama', baseUrl, headers: { 'x-team': 'core' }, ...(apiKey ? { apiKey } : {}) },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

beforeEach(async () => {
  mock = await startMockServer(ollamaCodec);
  http = createHttp({ connectMs: 2000, limits: DEFAULT_LIMITS });
  adapter = make(mock.url);
});

afterEach(async () => {
  await http.close();
  await mock.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const ctx = (signal = new AbortController().signal) => ({ signal });
const req = (extra: Partial<AdapterChatRequest> = {}): AdapterChatRequest => ({
  model: MODEL,
  messages: hi,
  ...extra,
});

/** A tiny server for answers the shared mock does not produce (and for images). */
async function raw(handler: RequestListener): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const ndjson = (...lines: unknown[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
const body = (i = 0) => mock.requests[i]?.body as Record<string, any>;

describe('ollama chat', () => {
  it('returns the reply with usage, finish_reason and provider/model', async () => {
    mock.enqueue({ reply: 'Hello there', usage: { prompt: 3, completion: 4 } });
    const res = await adapter.chat(req(), ctx());
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe(`ollama/${MODEL}`);
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: 'Hello there' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(mock.requests[0]?.path).toBe('/api/chat');
    expect(body()).toEqual({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: false });
  });

  it('maps done_reason length to finish_reason length', async () => {
    mock.enqueue({ reply: 'cut', finish: 'length' });
    const res = await adapter.chat(req(), ctx());
    expect(res.choices[0]?.finish_reason).toBe('length');
  });

  it('maps sampling fields into options and stop string into a list', async () => {
    await adapter.chat(
      req({
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 64,
        stop: 'END',
        seed: 7,
        frequency_penalty: 0.5,
        presence_penalty: 0.25,
      }),
      ctx(),
    );
    expect(body().options).toEqual({
      temperature: 0.2,
      top_p: 0.9,
      num_predict: 64,
      stop: ['END'],
      seed: 7,
      frequency_penalty: 0.5,
      presence_penalty: 0.25,
    });
    await adapter.chat(req({ stop: ['a', 'b'] }), ctx());
    expect(body(1).options).toEqual({ stop: ['a', 'b'] });
  });

  it('sends configured headers, and a bearer token only when a key is configured', async () => {
    await adapter.chat(req(), ctx());
    expect(mock.requests[0]?.headers['x-team']).toBe('core');
    expect(mock.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    await make(mock.url, null).chat(req(), ctx());
    expect(mock.requests[1]?.headers.authorization).toBeUndefined();
  });

  it('joins text parts and sends system, developer (as system) and assistant content as strings', async () => {
    await adapter.chat(
      req({
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'one' },
              { type: 'text', text: 'two' },
            ],
          },
          { role: 'assistant', content: null },
          { role: 'developer', content: 'Be kind.' },
        ],
      }),
      ctx(),
    );
    expect(body().messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'one\ntwo' },
      { role: 'assistant', content: '' },
      { role: 'system', content: 'Be kind.' },
    ]);
  });

  it('maps thinking to reasoning_content and tolerates a missing prompt_eval_count', async () => {
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          model: MODEL,
          created_at: '2025-01-01T00:00:00Z',
          message: { role: 'assistant', content: '42', thinking: 'six times seven' },
          done: true,
          done_reason: 'stop',
          eval_count: 5,
        }),
      );
    });
    const res = await make(url).chat(req(), ctx());
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: '42',
      reasoning_content: 'six times seven',
    });
    expect(res.created).toBe(Date.parse('2025-01-01T00:00:00Z') / 1000);
    expect(res.usage).toEqual({ prompt_tokens: 0, completion_tokens: 5, total_tokens: 5 });
  });
});

describe('ollama stream', () => {
  it('streams the reply with one id, provider/model, a finish chunk and usage', async () => {
    mock.enqueue({ reply: 'Streaming works fine', chunks: 4, usage: { prompt: 2, completion: 6 } });
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(body().stream).toBe(true);
    expect(text(chunks)).toBe('Streaming works fine');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.model === `ollama/${MODEL}` && c.object === 'chat.completion.chunk')).toBe(
      true,
    );
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const last = chunks.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe('stop');
    expect(last?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
    expect(chunks.slice(0, -1).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
  });

  it('ends with a separate usage chunk when include_usage is asked for', async () => {
    const chunks = await collect(adapter.stream(req({ stream_options: { include_usage: true } }), ctx()));
    const [finish, usage] = chunks.slice(-2);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    expect(finish?.usage).toBeUndefined();
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });

  it('reports no usage (no usage-only chunk) when the done line has no counts', async () => {
    const base = { model: MODEL, created_at: '2025-01-01T00:00:00Z' };
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(
        ndjson(
          { ...base, message: { role: 'assistant', content: 'Hi' }, done: false },
          { ...base, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop' },
        ),
      );
    });
    const chunks = await collect(make(url).stream(req({ stream_options: { include_usage: true } }), ctx()));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
  });

  it('maps done_reason length in a stream', async () => {
    mock.enqueue({ reply: 'truncated by limit', finish: 'length' });
    const chunks = await collect(adapter.stream(req({ max_tokens: 3 }), ctx()));
    expect(body().options).toEqual({ num_predict: 3 });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('streams thinking, several tool calls across lines with their indexes, and upstream ids', async () => {
    const base = { model: MODEL, created_at: '2025-01-01T00:00:00Z' };
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(
        ndjson(
          { ...base, message: { role: 'assistant', content: '', thinking: 'Need tools' }, done: false },
          {
            ...base,
            message: {
              role: 'assistant',
              content: '',
              tool_calls: [{ function: { name: 'a', arguments: { x: 1 } } }],
            },
            done: false,
          },
          {
            ...base,
            message: {
              role: 'assistant',
              content: '',
              tool_calls: [{ id: 'call_up', function: { index: 1, name: 'b', arguments: {} } }],
            },
            done: false,
          },
          {
            ...base,
            message: { role: 'assistant', content: '' },
            done: true,
            done_reason: 'stop',
            eval_count: 9,
          },
        ),
      );
    });
    const chunks = await collect(make(url).stream(req(), ctx()));
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', reasoning_content: 'Need tools' });
    expect(chunks[1]?.choices[0]?.delta.tool_calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_[0-9a-f]{24}$/),
        type: 'function',
        function: { name: 'a', arguments: '{"x":1}' },
      },
    ]);
    expect(chunks[2]?.choices[0]?.delta.tool_calls).toEqual([
      { index: 1, id: 'call_up', type: 'function', function: { name: 'b', arguments: '{}' } },
    ]);
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks[3]?.usage).toEqual({ prompt_tokens: 0, completion_tokens: 9, total_tokens: 9 });
    expect(chunks[3]?.created).toBe(Date.parse('2025-01-01T00:00:00Z') / 1000);
  });

  it('ends cleanly with only a finish chunk when the model says nothing', async () => {
    mock.enqueue({ reply: '' });
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks[0]?.choices[0]?.delta.content).toBeUndefined();
  });
});

describe('ollama structured output', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

  it('sends format "json" for json_object, in chat and in stream', async () => {
    await adapter.chat(req({ response_format: { type: 'json_object' } }), ctx());
    await collect(adapter.stream(req({ response_format: { type: 'json_object' } }), ctx()));
    expect(body(0).format).toBe('json');
    expect(body(1).format).toBe('json');
    expect(body(1).stream).toBe(true);
  });

  it('sends the JSON schema itself as format, in chat and in stream', async () => {
    const rf = { type: 'json_schema' as const, json_schema: { name: 'place', schema } };
    await adapter.chat(req({ response_format: rf }), ctx());
    await collect(adapter.stream(req({ response_format: rf }), ctx()));
    expect(body(0).format).toEqual(schema);
    expect(body(1).format).toEqual(schema);
  });

  it('sends no format for text', async () => {
    await adapter.chat(req({ response_format: { type: 'text' } }), ctx());
    expect(body()).not.toHaveProperty('format');
  });
});

describe('ollama tools', () => {
  const weather = {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  };
  const other = { type: 'function' as const, function: { name: 'get_time' } };

  it('sends tools, assistant tool_calls with object arguments and tool results with tool_name', async () => {
    await adapter.chat(
      req({
        tools: [weather],
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_9',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'call_10', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_9', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'unknown', content: 'orphan' },
        ],
      }),
      ctx(),
    );
    expect(body().tools).toEqual([weather]);
    expect(body().messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
          { function: { name: 'get_time', arguments: {} } },
        ],
      },
      { role: 'tool', content: '{"temp":21}', tool_name: 'get_weather' },
      { role: 'tool', content: 'orphan' },
    ]);
  });

  it('keeps unparseable history arguments as the raw string for Ollama to judge', async () => {
    await adapter.chat(
      req({
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
          },
        ],
      }),
      ctx(),
    );
    expect(body().messages[0].tool_calls[0].function.arguments).toBe('{oops');
  });

  it('expresses tool_choice none by sending no tools and a named function by offering only it', async () => {
    await adapter.chat(req({ tools: [weather, other], tool_choice: 'none' }), ctx());
    expect(body(0)).not.toHaveProperty('tools');
    await adapter.chat(
      req({ tools: [weather, other], tool_choice: { type: 'function', function: { name: 'get_time' } } }),
      ctx(),
    );
    expect(body(1).tools).toEqual([other]);
  });

  it('returns a tool-call answer with a generated id and JSON-string arguments', async () => {
    mock.enqueue({ toolCall: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } });
    const res = await adapter.chat(req({ tools: [weather] }), ctx());
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(res.choices[0]?.message.content).toBeNull();
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call).toEqual({
      id: expect.stringMatching(/^call_[0-9a-f]{24}$/),
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' },
    });
    expect(JSON.parse(call?.function.arguments ?? '')).toEqual({ city: 'Paris', unit: 'c' });
  });

  it('streams a tool call as one delta with index, id, name and all arguments', async () => {
    mock.enqueue({ toolCall: { id: 'call_abc', name: 'get_weather', arguments: '{"city":"Oslo"}' } });
    const chunks = await collect(adapter.stream(req({ tools: [weather] }), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toEqual([
      {
        index: 0,
        id: 'call_abc',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('rejects a tool call without a function name as a malformed reply', async () => {
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          model: MODEL,
          message: { role: 'assistant', content: '', tool_calls: [{}] },
          done: true,
        }),
      );
    });
    expect(await failure(make(url).chat(req(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });
});

describe('ollama vision', () => {
  const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

  it('inlines a data: URL image as base64 in the message images', async () => {
    const b64 = PNG.toString('base64');
    await adapter.chat(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } },
            ],
          },
        ],
      }),
      ctx(),
    );
    expect(body().messages).toEqual([{ role: 'user', content: 'What is this?', images: [b64] }]);
  });

  it('fetches an http image and inlines its bytes, in streaming too', async () => {
    const img = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length }).end(PNG);
    });
    const message: ChatMessage = {
      role: 'user',
      content: [{ type: 'image_url', image_url: { url: `${img}/cat.png` } }],
    };
    await adapter.chat(req({ messages: [message] }), ctx());
    await collect(adapter.stream(req({ messages: [message] }), ctx()));
    expect(body(0).messages[0].images).toEqual([PNG.toString('base64')]);
    expect(body(1).messages[0].images).toEqual([PNG.toString('base64')]);
  });

  it('an image that cannot be fetched is the caller error, not silently dropped', async () => {
    const img = await raw((_q, s) => void s.writeHead(404).end());
    const err = await failure(
      adapter.chat(
        req({
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `${img}/x.png` } }] }],
        }),
        ctx(),
      ),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).not.toContain('404');
    expect(mock.count('chat')).toBe(0);
  });
});

describe('ollama embed, probe and models', () => {
  it('embeds every input in one request', async () => {
    mock.enqueue({ dimensions: 8 });
    const res = await adapter.embed({ model: 'nomic-embed-text', input: ['a', 'b', 'c'] }, ctx());
    expect(mock.count('embed')).toBe(1);
    expect(mock.requests[0]?.path).toBe('/api/embed');
    expect(body()).toEqual({ model: 'nomic-embed-text', input: ['a', 'b', 'c'] });
    expect(res.model).toBe('ollama/nomic-embed-text');
    expect(res.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 8],
      [1, 8],
      [2, 8],
    ]);
    expect(res.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
  });

  it('passes dimensions through', async () => {
    await adapter.embed({ model: 'e', input: ['a'], dimensions: 4 }, ctx());
    expect(body().dimensions).toBe(4);
  });

  it('rejects a reply whose vector count does not match the inputs', async () => {
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ embeddings: [[1, 2]] }));
    });
    const err = await failure(make(url).embed({ model: 'e', input: ['a', 'b'] }, ctx()));
    expect(err).toBeInstanceOf(ProviderResponseError);
  });

  it('probes /api/tags', async () => {
    expect(await adapter.probe(ctx())).toEqual({ ok: true });
    expect(mock.requests[0]?.method).toBe('GET');
    expect(mock.requests[0]?.path).toBe('/api/tags');
  });

  it('reports a probe answered 401 as alive with the error kept', async () => {
    mock.enqueue({ status: 401, body: '{"error":"unauthorized"}' });
    const out = await adapter.probe(ctx());
    expect(out.ok).toBe(true);
    expect(out.error).toContain('401');
    expect(JSON.stringify(out)).not.toContain(KEY);
  });

  it('rejects a probe answered 503', async () => {
    mock.enqueue({ status: 503 });
    expect(await failure(adapter.probe(ctx()))).toBeInstanceOf(ProviderHTTPError);
  });

  it('throws ProviderConnectionError when a probe finds nothing listening', async () => {
    await mock.close();
    expect(await failure(adapter.probe(ctx()))).toBeInstanceOf(ProviderConnectionError);
  });

  it('lists installed model names', async () => {
    mock.enqueue({ models: ['llama3.1:8b', 'qwen2.5:7b'] });
    expect(await adapter.models(ctx())).toEqual(['llama3.1:8b', 'qwen2.5:7b']);
  });
});

describe('ollama failures', () => {
  it('connection refused → ProviderConnectionError', async () => {
    await mock.close();
    const err = await failure(adapter.chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderConnectionError);
    expect(err.message).toContain('/api/chat');
  });

  it("an error names the path the request went to, the baseUrl's own path included", async () => {
    const url = mock.url;
    await mock.close();
    const proxied = make(`${url}/ollama`);
    expect((await failure(proxied.chat(req(), ctx()))).message).toContain('POST /ollama/api/chat');
    expect((await failure(proxied.models(ctx()))).message).toContain('GET /ollama/api/tags');
  });

  it('reset before headers → ProviderConnectionError, in chat and stream', async () => {
    mock.enqueue({ reset: true }, { reset: true });
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderConnectionError);
    expect(await failure(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('500 → retryable ProviderHTTPError', async () => {
    mock.enqueue({ status: 500, body: '{"error":"llama runner process has terminated"}' });
    const err = await failure(adapter.chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect(err.message).toContain('llama runner process has terminated');
  });

  it('429 with retry-after → ProviderRateLimitError with retryAfterMs', async () => {
    mock.enqueue({ status: 429, body: '{"error":"too many requests"}', headers: { 'retry-after': '3' } });
    const err = await failure(collect(adapter.stream(req(), ctx())));
    expect(err).toBeInstanceOf(ProviderRateLimitError);
    expect((err as ProviderRateLimitError).retryAfterMs).toBe(3000);
  });

  it('401 and 403 → ProviderAuthError', async () => {
    mock.enqueue({ status: 401, body: `{"error":"bad key ${KEY}"}` }, { status: 403 });
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderAuthError);
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderAuthError);
  });

  it('404 (model not pulled) → ProviderHTTPError status 404', async () => {
    mock.enqueue({ status: 404, body: '{"error":"model \\"nope\\" not found, try pulling it first"}' });
    const err = await failure(adapter.chat(req({ model: 'nope' }), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(404);
  });

  it('400 → ProviderHTTPError, not retryable', async () => {
    mock.enqueue({ status: 400, body: '{"error":"invalid options"}' });
    const err = await failure(adapter.chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(false);
    expect((err as ProviderHTTPError).httpStatus).toBe(400);
  });

  it('malformed body and malformed stream line → ProviderResponseError', async () => {
    mock.enqueue({ malformed: true }, { malformed: true });
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderResponseError);
    expect(await failure(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });

  it('an error with a status inside a 200 is classified by that status, never by its text', async () => {
    mock.enqueue({ inBandError: 'rate-limit' }, { inBandError: 'invalid' }, { inBandError: 'auth' });
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderRateLimitError);
    const invalid = await failure(adapter.chat(req(), ctx()));
    expect(invalid).toBeInstanceOf(ProviderHTTPError);
    expect((invalid as ProviderHTTPError).status).toBe(400);
    expect(await failure(adapter.embed({ model: 'e', input: ['a'] }, ctx()))).toBeInstanceOf(
      ProviderAuthError,
    );
  });

  it('a bare string error inside a 200 → ProviderResponseError, never content', async () => {
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' }).end('{"error":"model ran out of memory"}');
    });
    const err = await failure(make(url).chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toContain('model ran out of memory');
  });

  it('an error line mid-stream is thrown after the content before it', async () => {
    mock.enqueue({ inBandError: 'server', after: 2 });
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const c of adapter.stream(req(), ctx())) seen.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(503);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect(text(seen)).toBe('y'.repeat(8));
  });

  it('a gateway safety block in front of Ollama → ProviderBlockedError', async () => {
    mock.enqueue({ blocked: true });
    expect(await failure(adapter.chat(req(), ctx()))).toBeInstanceOf(ProviderBlockedError);
  });

  it('a stream ending without its done line throws instead of ending cleanly', async () => {
    mock.enqueue({ streamThenEnd: 2 });
    expect(await failure(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });

  it('a socket destroyed mid-stream → ProviderConnectionError', async () => {
    mock.enqueue({ streamThenReset: 2 });
    expect(await failure(collect(adapter.stream(req(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('byte-by-byte delivery gives the identical answer', async () => {
    const reply = 'Slow and steady — ünïcødé ✓';
    mock.enqueue({ slow: reply }, { slow: reply });
    expect((await adapter.chat(req(), ctx())).choices[0]?.message.content).toBe(reply);
    const chunks = await collect(adapter.stream(req(), ctx()));
    expect(text(chunks)).toBe(reply);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('abort via ctx.signal rejects with the signal reason, in chat and mid-stream', async () => {
    mock.enqueue({ hang: true }, { streamThenStall: 1 });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const pending = adapter.chat(req(), ctx(ac.signal));
    // Aborted once the upstream holds the request: earlier, the stream below would be the one to hang.
    const asked = mock.requests.length + 1;
    while (mock.requests.length < asked) await new Promise((r) => setTimeout(r, 5));
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);

    const ac2 = new AbortController();
    const it = adapter.stream(req(), ctx(ac2.signal))[Symbol.asyncIterator]();
    expect((await it.next()).value?.choices[0]?.delta.content).toBeTruthy();
    const next = it.next();
    ac2.abort(reason);
    await expect(next).rejects.toBe(reason);
  });

  it('breaking out of a stream early closes the upstream socket', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const url = await raw((_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' });
      s.write(ndjson({ model: MODEL, message: { role: 'assistant', content: 'first' }, done: false }));
      s.on('close', () => closed());
    });
    for await (const c of make(url).stream(req(), ctx())) {
      expect(c.choices[0]?.delta.content).toBe('first');
      break;
    }
    await gone;
  });
});
