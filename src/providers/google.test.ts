import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPortUrl, collect, rejectsWithout, testImages, text } from '../../test/helpers/adapter-kit.js';
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
import { googleCodec } from '../testing/codecs/google.js';
import { type MockUpstream, startMockServer } from '../testing/mock-server.js';
import type { ChatChunk } from '../types.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest, ProviderAdapter } from './adapter.js';
import { createGoogleAdapter } from './google.js';
import { toGeminiSchema } from './google-request.js';

const KEY = 'sk-test-SECRET123456';
/** Awaits a rejection and checks the key leaks nowhere in it. */
const failure = (p: Promise<unknown>) => rejectsWithout(p, KEY);
const MODEL = 'gemini-2.0-flash';
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let http: Http;
let mock: MockUpstream;
const extraServers: { close: () => Promise<void> }[] = [];

beforeEach(async () => {
  http = createHttp({ connectMs: 2000, limits: DEFAULT_LIMITS });
  mock = await startMockServer(googleCodec);
});

afterEach(async () => {
  await Promise.all(extraServers.splice(0).map((s) => s.close()));
  await mock.close();
  await http.close();
});

function adapter(baseUrl = mock.url): ProviderAdapter {
  return createGoogleAdapter({
    config: { id: 'google', baseUrl, apiKey: KEY, headers: { 'x-extra': 'yes' } },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

const ctx = () => ({ signal: new AbortController().signal });
const ask = (extra: Partial<AdapterChatRequest> = {}): AdapterChatRequest => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Hi' }],
  ...extra,
});

/** The body the mock upstream received for its last request. */
function lastBody(): Record<string, any> {
  return mock.requests.at(-1)?.body as Record<string, any>;
}

/** A tiny raw upstream for answers the shared mock does not script. */
async function rawServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  extraServers.push(handle);
  return handle;
}

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function candidate(parts: unknown[], finishReason?: string) {
  return { candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}) }] };
}

describe('google adapter: chat', () => {
  it('answers text with usage and stop, posting to models/{m}:generateContent', async () => {
    mock.enqueue({ reply: 'Hello there', usage: { prompt: 3, completion: 4 } });
    const res = await adapter().chat(ask(), ctx());
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe(`google/${MODEL}`);
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: 'Hello there' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    const req = mock.requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(lastBody().contents).toEqual([{ role: 'user', parts: [{ text: 'Hi' }] }]);
    expect(lastBody().generationConfig).toEqual({ candidateCount: 1 });
  });

  it('sends the key only in the x-goog-api-key header, never in the URL', async () => {
    const a = adapter();
    await a.chat(ask(), ctx());
    await collect(a.stream(ask(), ctx()));
    await a.embed({ model: 'text-embedding-004', input: ['a'] }, ctx());
    await a.probe(ctx());
    await a.models(ctx());
    expect(mock.requests).toHaveLength(5);
    for (const r of mock.requests) {
      expect(r.headers['x-goog-api-key']).toBe(KEY);
      expect(r.headers['x-extra']).toBe('yes');
      expect(r.path).not.toContain(KEY);
      expect(r.path).not.toMatch(/[?&]key=/);
      expect(r.headers.authorization).toBeUndefined();
    }
  });

  it('maps MAX_TOKENS to finish_reason length', async () => {
    mock.enqueue({ reply: 'cut', finish: 'length' });
    const res = await adapter().chat(ask({ max_tokens: 1 }), ctx());
    expect(res.choices[0]?.finish_reason).toBe('length');
  });

  it('joins system and developer messages into systemInstruction and maps assistant to model', async () => {
    await adapter().chat(
      {
        model: MODEL,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: [{ type: 'text', text: 'How are you?' }] },
        ],
      },
      ctx(),
    );
    expect(lastBody().systemInstruction).toEqual({ parts: [{ text: 'Be brief.\n\nAnswer in French.' }] });
    expect(lastBody().contents).toEqual([
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Hello!' }] },
      { role: 'user', parts: [{ text: 'How are you?' }] },
    ]);
  });

  it('maps sampling fields into generationConfig (penalties are dropped: current models refuse them)', async () => {
    await adapter().chat(
      ask({
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 100,
        stop: 'END',
        seed: 42,
        frequency_penalty: 0.5,
        presence_penalty: 0.25,
        user: 'u-1',
      }),
      ctx(),
    );
    expect(lastBody().generationConfig).toEqual({
      candidateCount: 1,
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 100,
      stopSequences: ['END'],
      seed: 42,
    });
    await adapter().chat(ask({ stop: ['a', 'b'] }), ctx());
    expect(lastBody().generationConfig.stopSequences).toEqual(['a', 'b']);
  });

  it('maps json_object to responseMimeType', async () => {
    await adapter().chat(ask({ response_format: { type: 'json_object' } }), ctx());
    expect(lastBody().generationConfig).toEqual({ candidateCount: 1, responseMimeType: 'application/json' });
  });

  it('maps json_schema to responseSchema with the keys Gemini rejects stripped at every depth', async () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', description: 'who' },
        additionalProperties: { type: 'string' },
        tags: { type: 'array', items: { type: 'object', additionalProperties: false, properties: {} } },
        kind: { type: 'string', enum: ['a', 'b'] },
      },
      required: ['name'],
    };
    await adapter().chat(
      ask({
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
      }),
      ctx(),
    );
    expect(lastBody().generationConfig).toEqual({
      candidateCount: 1,
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'who' },
          // a property that happens to be called additionalProperties is data, not a keyword
          additionalProperties: { type: 'string' },
          tags: { type: 'array', items: { type: 'object', properties: {} } },
          kind: { type: 'string', enum: ['a', 'b'] },
        },
        required: ['name'],
      },
    });
  });

  it('strips schemas without polluting prototypes', () => {
    const out = toGeminiSchema(JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys((out as { properties: object }).properties)).toEqual(['__proto__']);
  });

  it('keeps default, example and examples values as data (a key named like a rejected keyword stays)', () => {
    const data = { additionalProperties: 1, $id: 'x' };
    const schema = { type: 'object', default: data, example: data, examples: [data] };
    expect(toGeminiSchema(schema)).toEqual(schema);
  });

  it('maps tools to functionDeclarations and tool_choice to toolConfig', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
            additionalProperties: false,
          },
          strict: true,
        },
      },
      {
        type: 'function' as const,
        function: { name: 'now', parameters: { type: 'object', properties: {} } },
      },
    ];
    const a = adapter();
    await a.chat(ask({ tools, tool_choice: 'auto' }), ctx());
    expect(lastBody().tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
          { name: 'now' },
        ],
      },
    ]);
    expect(lastBody().toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    await a.chat(ask({ tools, tool_choice: 'none' }), ctx());
    expect(lastBody().toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    await a.chat(ask({ tools, tool_choice: 'required' }), ctx());
    expect(lastBody().toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    await a.chat(ask({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } }), ctx());
    expect(lastBody().toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    });
    await a.chat(ask({ tools }), ctx());
    expect(lastBody().toolConfig).toBeUndefined();
  });

  it('returns a functionCall as tool_calls with an id and JSON-string arguments', async () => {
    mock.enqueue({ toolCall: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    const res = await adapter().chat(ask(), ctx());
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.id).toMatch(/^call_\w+$/);
    expect(call?.type).toBe('function');
    expect(call?.function.name).toBe('get_weather');
    expect(JSON.parse(call?.function.arguments ?? '')).toEqual({ city: 'Paris' });
  });

  it('sends tool results as functionResponse parts named through tool_call_id, merged into one turn', async () => {
    await adapter().chat(
      {
        model: MODEL,
        messages: [
          { role: 'user', content: 'Weather in Paris and time?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'call_b', type: 'function', function: { name: 'now', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_b', content: '12:00' },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
          { role: 'user', content: 'Thanks' },
        ],
      },
      ctx(),
    );
    expect(lastBody().contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and time?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { id: 'call_a', name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { id: 'call_b', name: 'now', args: {} } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { id: 'call_b', name: 'now', response: { content: '12:00' } } },
          { functionResponse: { id: 'call_a', name: 'get_weather', response: { temp: 21 } } },
        ],
      },
      { role: 'user', parts: [{ text: 'Thanks' }] },
    ]);
  });

  it('replays blank arguments as {} and arguments that are not a JSON object wrapped in one', async () => {
    const call = (id: string, args: string) => ({
      id,
      type: 'function' as const,
      function: { name: 'f', arguments: args },
    });
    const messages: AdapterChatRequest['messages'] = [
      { role: 'user', content: 'Hi' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [call('a', '  '), call('b', '[1,2]'), call('c', 'x{')],
      },
    ];
    await adapter().chat(ask({ messages }), ctx());
    expect(lastBody().contents[1].parts.map((p: any) => p.functionCall.args)).toEqual([
      {},
      { value: [1, 2] },
      { value: 'x{' },
    ]);
  });

  it('inlines a data: URL image as inlineData', async () => {
    await adapter().chat(
      {
        model: MODEL,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
            ],
          },
        ],
      },
      ctx(),
    );
    expect(lastBody().contents[0].parts).toEqual([
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/png', data: PNG_BASE64 } },
    ]);
  });

  it('leaves out an empty text part of a user message (Gemini refuses an empty text parameter)', async () => {
    const image = { type: 'image_url' as const, image_url: { url: `data:image/png;base64,${PNG_BASE64}` } };
    await adapter().chat(
      { model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: '' }, image] }] },
      ctx(),
    );
    expect(lastBody().contents).toEqual([
      { role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: PNG_BASE64 } }] },
    ]);
  });

  it('leaves out an empty assistant turn (Gemini rejects a turn without parts)', async () => {
    const messages = [
      { role: 'user' as const, content: 'Hi' },
      { role: 'assistant' as const, content: '' },
      { role: 'user' as const, content: 'Again' },
    ];
    await adapter().chat({ model: MODEL, messages }, ctx());
    expect(lastBody().contents.map((c: { role: string }) => c.role)).toEqual(['user', 'user']);
  });

  it('fetches an http image and inlines its bytes', async () => {
    const img = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from(PNG_BASE64, 'base64'));
    });
    await adapter().chat(
      {
        model: MODEL,
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: `${img.url}/cat.png` } }] },
        ],
      },
      ctx(),
    );
    expect(lastBody().contents[0].parts).toEqual([
      { inlineData: { mimeType: 'image/png', data: PNG_BASE64 } },
    ]);
  });

  it('an image that cannot be had is the caller error (nothing sent)', async () => {
    const img = await rawServer((_req, res) => void res.writeHead(404).end());
    const err = await failure(
      adapter().chat(
        {
          model: MODEL,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: `${img.url}/x.png` } }] },
          ],
        },
        ctx(),
      ),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).not.toContain('404');
    expect(mock.count()).toBe(0);
  });

  it('prefixes models/ itself and URL-encodes the model name', async () => {
    const a = adapter();
    await a.chat({ ...ask(), model: 'models/gemini-2.0-flash-exp' }, ctx());
    expect(mock.requests.at(-1)?.path).toBe('/v1beta/models/gemini-2.0-flash-exp:generateContent');
    await a.chat({ ...ask(), model: 'odd name?#' }, ctx()).catch(() => undefined);
    expect(mock.requests.at(-1)?.path).toBe('/v1beta/models/odd%20name%3F%23:generateContent');
  });

  it('maps thought parts to reasoning_content', async () => {
    const up = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          ...candidate([{ text: 'Thinking…', thought: true }, { text: '42' }], 'STOP'),
          usageMetadata: {
            promptTokenCount: 2,
            candidatesTokenCount: 1,
            thoughtsTokenCount: 5,
            totalTokenCount: 8,
          },
        }),
      );
    });
    const res = await adapter(`${up.url}/v1beta`).chat(ask(), ctx());
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: '42',
      reasoning_content: 'Thinking…',
    });
    expect(res.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
  });
});

describe('google adapter: stream', () => {
  it('streams the reply with one id, the provider/model name, a finish chunk and usage', async () => {
    mock.enqueue({ reply: 'The quick brown fox', chunks: 4, usage: { prompt: 6, completion: 5 } });
    const chunks = await collect(adapter().stream(ask(), ctx()));
    expect(mock.requests[0]?.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    expect(text(chunks)).toBe('The quick brown fox');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(4);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.model).toBe(`google/${MODEL}`);
    }
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant' });
    const last = chunks.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe('stop');
    expect(last?.usage).toEqual({ prompt_tokens: 6, completion_tokens: 5, total_tokens: 11 });
    expect(chunks.slice(0, -1).every((c) => c.choices[0]?.finish_reason === null)).toBe(true);
  });

  it('streams length finishes', async () => {
    mock.enqueue({ reply: 'abc', finish: 'length' });
    const chunks = await collect(adapter().stream(ask(), ctx()));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('ends an empty answer cleanly with only a finish chunk', async () => {
    mock.enqueue({ reply: '' });
    const chunks = await collect(adapter().stream(ask(), ctx()));
    expect(text(chunks)).toBe('');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('streams a function call as a tool-call delta with index, id, name and arguments', async () => {
    mock.enqueue({ toolCall: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    const chunks = await collect(adapter().stream(ask({ tools: [] }), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas).toHaveLength(1);
    expect(deltas[0]?.index).toBe(0);
    expect(deltas[0]?.id).toMatch(/^call_/);
    expect(deltas[0]?.function?.name).toBe('get_weather');
    expect(JSON.parse(deltas[0]?.function?.arguments ?? '')).toEqual({ city: 'Paris' });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('numbers several streamed calls and keeps Gemini ids when given', async () => {
    const up = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(candidate([{ functionCall: { id: 'g1', name: 'a', args: { x: 1 } } }])));
      res.end(sse(candidate([{ functionCall: { name: 'b', args: {} } }], 'STOP')));
    });
    const chunks = await collect(adapter(`${up.url}/v1beta`).stream(ask(), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas.map((d) => [d.index, d.function?.name, d.function?.arguments])).toEqual([
      [0, 'a', '{"x":1}'],
      [1, 'b', '{}'],
    ]);
    expect(deltas[0]?.id).toBe('g1');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('yields no chunk for empty text or thought parts (a signature-only part)', async () => {
    const up = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(candidate([{ text: 'Hi' }])));
      res.write(
        sse(
          candidate([
            { text: '', thoughtSignature: 'sig' },
            { text: '', thought: true },
          ]),
        ),
      );
      res.end(sse(candidate([{ text: '' }], 'STOP')));
    });
    const chunks = await collect(adapter(`${up.url}/v1beta`).stream(ask(), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([{ role: 'assistant' }, { content: 'Hi' }, {}]);
  });

  it('throws when the stream ends without a finishReason', async () => {
    mock.enqueue({ streamThenEnd: 2 });
    const got: ChatChunk[] = [];
    const err = await failure(collect(adapter().stream(ask(), ctx()), got));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(text(got)).toBe('x'.repeat(8));
  });

  it('throws ProviderConnectionError when the socket dies mid-stream', async () => {
    mock.enqueue({ streamThenReset: 2 });
    const got: ChatChunk[] = [];
    const err = await failure(collect(adapter().stream(ask(), ctx()), got));
    expect(err).toBeInstanceOf(ProviderConnectionError);
    expect(text(got)).toBe('x'.repeat(8));
  });

  it('classifies an error frame mid-stream', async () => {
    mock.enqueue({ inBandError: 'server', after: 2 });
    const got: ChatChunk[] = [];
    const err = await failure(collect(adapter().stream(ask(), ctx()), got));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect(text(got)).toBe('y'.repeat(8));
    mock.enqueue({ inBandError: 'rate-limit', after: 0 });
    const rate = await failure(collect(adapter().stream(ask(), ctx())));
    expect(rate).toBeInstanceOf(ProviderRateLimitError);
    expect((rate as ProviderRateLimitError).retryAfterMs).toBe(12_000);
  });

  it('rejects a malformed stream frame with ProviderResponseError', async () => {
    mock.enqueue({ malformed: true });
    expect(await failure(collect(adapter().stream(ask(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });

  it('gives the identical answer when bytes arrive one at a time', async () => {
    mock.enqueue({ slow: 'Slowly but surely, ünïcode ✓' });
    const chunks = await collect(adapter().stream(ask(), ctx()));
    expect(text(chunks)).toBe('Slowly but surely, ünïcode ✓');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('closes the upstream request when the consumer breaks early', async () => {
    let closed!: () => void;
    const socketClosed = new Promise<void>((resolve) => (closed = resolve));
    const up = await rawServer((_req, res) => {
      res.on('close', () => closed());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(candidate([{ text: 'first' }])));
      res.write(sse(candidate([{ text: 'second' }])));
      // then silence: only the client going away ends this request
    });
    for await (const c of adapter(`${up.url}/v1beta`).stream(ask(), ctx())) {
      if (c.choices[0]?.delta.content) break;
    }
    await socketClosed;
  });

  it('rejects with the signal reason when aborted mid-stream', async () => {
    mock.enqueue({ streamThenStall: 1 });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const got: ChatChunk[] = [];
    const p = (async () => {
      for await (const c of adapter().stream(ask(), { signal: ac.signal })) {
        got.push(c);
        if (c.choices[0]?.delta.content) ac.abort(reason);
      }
    })();
    await expect(p).rejects.toBe(reason);
  });
});

describe('google adapter: safety blocks', () => {
  it('throws ProviderBlockedError for promptFeedback.blockReason (chat)', async () => {
    mock.enqueue({ blocked: true });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('SAFETY');
    expect((err as ProviderBlockedError).httpStatus).toBe(422);
  });

  it('throws ProviderBlockedError for promptFeedback.blockReason (stream)', async () => {
    mock.enqueue({ blocked: true });
    const got: ChatChunk[] = [];
    const err = await failure(collect(adapter().stream(ask(), ctx()), got));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('SAFETY');
    expect(text(got)).toBe('');
  });

  it('throws ProviderBlockedError for a SAFETY finish (chat)', async () => {
    mock.enqueue({ status: 200, body: JSON.stringify(candidate([], 'SAFETY')) });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('SAFETY');
  });

  it('throws ProviderBlockedError for a RECITATION finish after content was streamed', async () => {
    const up = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(candidate([{ text: 'Once upon' }])));
      res.end(sse(candidate([{ text: ' a time' }], 'RECITATION')));
    });
    const got: ChatChunk[] = [];
    const err = await failure(collect(adapter(`${up.url}/v1beta`).stream(ask(), ctx()), got));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('RECITATION');
    expect(text(got)).toBe('Once upon a time');
  });

  it.each([
    'SAFETY',
    'RECITATION',
    'BLOCKLIST',
    'PROHIBITED_CONTENT',
    'SPII',
    'IMAGE_SAFETY',
    'IMAGE_PROHIBITED_CONTENT',
    'IMAGE_RECITATION',
  ])('throws ProviderBlockedError for a %s finish (chat)', async (reason) => {
    mock.enqueue({ status: 200, body: JSON.stringify(candidate([{ text: 'x' }], reason)) });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe(reason);
  });

  it('treats other unfinished endings (OTHER, MALFORMED_FUNCTION_CALL) as a response error', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify(candidate([{ text: 'x' }], 'MALFORMED_FUNCTION_CALL')),
    });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });
});

describe('google adapter: embed, probe, models', () => {
  it('embeds all inputs in one batchEmbedContents call', async () => {
    mock.enqueue({ dimensions: 8 });
    const res = await adapter().embed({ model: 'text-embedding-004', input: ['alpha', 'beta'] }, ctx());
    expect(mock.requests[0]?.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
    expect(lastBody()).toEqual({
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'alpha' }] } },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'beta' }] } },
      ],
    });
    expect(res.object).toBe('list');
    expect(res.model).toBe('google/text-embedding-004');
    expect(res.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 8],
      [1, 8],
    ]);
    expect(res.data[0]?.embedding).not.toEqual(res.data[1]?.embedding);
  });

  it('passes dimensions as outputDimensionality', async () => {
    await adapter().embed({ model: 'text-embedding-004', input: ['a'], dimensions: 4 }, ctx());
    expect(lastBody().requests[0].outputDimensionality).toBe(4);
  });

  it('classifies an in-band error and a short embedding list', async () => {
    mock.enqueue({ inBandError: 'invalid' });
    const err = await failure(adapter().embed({ model: 'e', input: ['a'] }, ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(false);
    mock.enqueue({ status: 200, body: '{"embeddings":[]}' });
    expect(await failure(adapter().embed({ model: 'e', input: ['a'] }, ctx()))).toBeInstanceOf(
      ProviderResponseError,
    );
  });

  it('an empty vector is a malformed reply', async () => {
    mock.enqueue({ status: 200, body: '{"embeddings":[{"values":[]}]}' });
    expect(await failure(adapter().embed({ model: 'e', input: ['a'] }, ctx()))).toBeInstanceOf(
      ProviderResponseError,
    );
  });

  it('probes GET models', async () => {
    expect(await adapter().probe(ctx())).toEqual({ ok: true });
    expect(mock.requests[0]?.method).toBe('GET');
    expect(mock.requests[0]?.path).toMatch(/^\/v1beta\/models(\?|$)/);
  });

  it('reports a 401 probe as alive with the error kept', async () => {
    mock.enqueue({
      status: 401,
      body: JSON.stringify({
        error: { code: 401, message: 'API key not valid.', status: 'UNAUTHENTICATED' },
      }),
    });
    const out = await adapter().probe(ctx());
    expect(out.ok).toBe(true);
    expect(out.error).toContain('API key not valid');
    expect(out.error).not.toContain(KEY);
  });

  it('rejects a 5xx probe with ProviderHTTPError', async () => {
    mock.enqueue({ status: 500 });
    expect(await failure(adapter().probe(ctx()))).toBeInstanceOf(ProviderHTTPError);
  });

  it('throws ProviderConnectionError when the probe cannot connect', async () => {
    const err = await failure(adapter(await closedPortUrl('/v1beta')).probe(ctx()));
    expect(err).toBeInstanceOf(ProviderConnectionError);
  });

  it('lists models without the models/ prefix, following pages', async () => {
    mock.enqueue({ models: ['gemini-2.0-flash', 'text-embedding-004'] });
    expect(await adapter().models(ctx())).toEqual(['gemini-2.0-flash', 'text-embedding-004']);
    let calls = 0;
    const up = await rawServer((req, res) => {
      calls += 1;
      const page2 = req.url?.includes('pageToken=next%2F1');
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify(
          page2
            ? // an empty token ends the list, as a missing one does
              { models: [{ name: 'models/b' }], nextPageToken: '' }
            : { models: [{ name: 'models/a' }], nextPageToken: 'next/1' },
        ),
      );
    });
    expect(await adapter(`${up.url}/v1beta`).models(ctx())).toEqual(['a', 'b']);
    expect(calls).toBe(2);
  });

  it('reports all capabilities', () => {
    expect(adapter().capabilities(MODEL)).toEqual({
      tools: true,
      vision: true,
      jsonSchema: true,
      embeddings: true,
    });
  });
});

describe('google adapter: failures', () => {
  it('connection refused → ProviderConnectionError', async () => {
    const a = adapter(await closedPortUrl('/v1beta'));
    expect(await failure(a.chat(ask(), ctx()))).toBeInstanceOf(ProviderConnectionError);
    expect(await failure(collect(a.stream(ask(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('reset before headers → ProviderConnectionError', async () => {
    mock.enqueue({ reset: true });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderConnectionError);
  });

  it('500 → retryable ProviderHTTPError', async () => {
    mock.enqueue({ status: 500 });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect((err as Error).message).toContain(`google/${MODEL} POST /v1beta/models/${MODEL}:generateContent`);
  });

  it('429 with retry-after → ProviderRateLimitError with retryAfterMs', async () => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '3' } });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderRateLimitError);
    expect((err as ProviderRateLimitError).retryAfterMs).toBe(3000);
  });

  it('429 RESOURCE_EXHAUSTED with RetryInfo in the body → retryAfterMs 12000', async () => {
    const body = googleCodec.inBandError('rate-limit', false);
    mock.enqueue({ status: 429, body }, { status: 429, body });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderRateLimitError);
    expect((err as ProviderRateLimitError).retryAfterMs).toBe(12_000);
    const streamed = await failure(collect(adapter().stream(ask(), ctx())));
    expect((streamed as ProviderRateLimitError).retryAfterMs).toBe(12_000);
  });

  it('401 and 403 → ProviderAuthError', async () => {
    mock.enqueue({ status: 401 }, { status: 403 });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderAuthError);
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderAuthError);
  });

  it('Gemini wrong-key answer (400 API_KEY_INVALID) → ProviderAuthError, probe alive with the error', async () => {
    const body = JSON.stringify({
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
          },
          { '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `Invalid API key: ${KEY}` },
        ],
      },
    });
    mock.enqueue({ status: 400, body }, { status: 400, body });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderAuthError);
    expect((err as ProviderAuthError).status).toBe(400);
    const out = await adapter().probe(ctx());
    expect(out).toEqual({ ok: true, error: expect.stringContaining('API key not valid') });
    expect(out.error).not.toContain(KEY);
  });

  it('404 → ProviderHTTPError with status 404', async () => {
    mock.enqueue({
      status: 404,
      body: JSON.stringify({
        error: { code: 404, message: 'models/nope is not found', status: 'NOT_FOUND' },
      }),
    });
    const err = await failure(adapter().chat(ask({ model: 'nope' }), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(404);
  });

  it('400 → ProviderHTTPError, not retryable', async () => {
    mock.enqueue({ status: 400, body: googleCodec.inBandError('invalid', false) });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(false);
    expect((err as ProviderHTTPError).status).toBe(400);
  });

  it('malformed JSON body → ProviderResponseError', async () => {
    mock.enqueue({ malformed: true });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it.each([
    [
      'candidates not a list',
      { candidates: { 0: { content: { parts: [{ text: 'hi' }] }, finishReason: 'STOP' } } },
    ],
    ['a part that is not an object', { candidates: [{ content: { parts: ['hi'] }, finishReason: 'STOP' }] }],
    [
      'a part whose text is not a string',
      { candidates: [{ content: { parts: [{ text: 5 }] }, finishReason: 'STOP' }] },
    ],
  ])('%s → ProviderResponseError, in chat and in a stream', async (_what, reply) => {
    mock.enqueue({ status: 200, body: JSON.stringify(reply) });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
    const up = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(sse(reply));
    });
    const err = await failure(collect(adapter(`${up.url}/v1beta`).stream(ask(), ctx())));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).not.toContain('ended before finish');
  });

  it('a reply without candidates or blockReason → ProviderResponseError', async () => {
    mock.enqueue({ status: 200, body: '{"usageMetadata":{"promptTokenCount":1}}' });
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it('a candidate that is not an object, or a functionCall without a name, is a malformed reply', async () => {
    mock.enqueue(
      { status: 200, body: '{"candidates":[null]}' },
      { status: 200, body: JSON.stringify(candidate([{ functionCall: { args: {} } }], 'STOP')) },
    );
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it('classifies in-band errors in a 200 JSON body', async () => {
    mock.enqueue({ inBandError: 'rate-limit' }, { inBandError: 'auth' }, { inBandError: 'server' });
    const rate = await failure(adapter().chat(ask(), ctx()));
    expect(rate).toBeInstanceOf(ProviderRateLimitError);
    expect((rate as ProviderRateLimitError).retryAfterMs).toBe(12_000);
    expect(await failure(adapter().chat(ask(), ctx()))).toBeInstanceOf(ProviderAuthError);
    const server = await failure(adapter().chat(ask(), ctx()));
    expect(server).toBeInstanceOf(ProviderHTTPError);
    expect((server as ProviderHTTPError).retryable).toBe(true);
  });

  it('slow byte-by-byte JSON gives the identical answer', async () => {
    mock.enqueue({ slow: 'Byte by byte ✓' });
    const res = await adapter().chat(ask(), ctx());
    expect(res.choices[0]?.message.content).toBe('Byte by byte ✓');
  });

  it('abort via ctx.signal rejects with the signal reason', async () => {
    mock.enqueue({ hang: true }, { hang: true });
    const reason = new Error('deadline');
    const ac = new AbortController();
    const p = adapter().chat(ask(), { signal: ac.signal });
    setTimeout(() => ac.abort(reason), 20);
    await expect(p).rejects.toBe(reason);
    const ac2 = new AbortController();
    const s = collect(adapter().stream(ask(), { signal: ac2.signal }));
    setTimeout(() => ac2.abort(reason), 20);
    await expect(s).rejects.toBe(reason);
  });

  it('never echoes the key the upstream sends back', async () => {
    mock.enqueue({
      status: 400,
      body: JSON.stringify({
        error: { code: 400, message: `API key ${KEY} is invalid`, status: 'INVALID_ARGUMENT' },
      }),
    });
    const err = await failure(adapter().chat(ask(), ctx()));
    expect((err as Error).message).toContain('[redacted]');
  });
});
