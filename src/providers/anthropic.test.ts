import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPortUrl, collect, rejectsWithout, testImages, text } from '../../test/helpers/adapter-kit.js';
import { type Clock, systemClock } from '../clock.js';
import {
  InvalidRequestError,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
} from '../errors.js';
import { createFakeClock } from '../health/fake-clock.js';
import { DEFAULT_LIMITS } from '../options.js';
import { anthropicCodec } from '../testing/codecs/anthropic.js';
import { type MockUpstream, startMockServer } from '../testing/mock-server.js';
import type { ChatChunk } from '../types.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest, ProviderAdapter } from './adapter.js';
import { createAnthropicAdapter } from './anthropic.js';

const KEY = 'sk-test-SECRET123456';
/** Awaits a rejection and checks the key leaks nowhere in it. */
const failure = (p: Promise<unknown>) => rejectsWithout(p, KEY);
const MODEL = 'claude-sonnet-4-5';
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');

let http: Http;
let mock: MockUpstream;
const extraServers: Server[] = [];

beforeEach(async () => {
  http = createHttp({ connectMs: 2000, limits: DEFAULT_LIMITS });
  mock = await startMockServer(anthropicCodec);
});

afterEach(async () => {
  await mock.close();
  await http.close();
  for (const s of extraServers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

function adapter(baseUrl = mock.url, clock: Clock = systemClock): ProviderAdapter {
  return createAnthropicAdapter({
    config: { id: 'anthropic', baseUrl, apiKey: KEY, headers: {} },
    http,
    clock,
    images: testImages(),
  });
}

const ctx = () => ({ signal: new AbortController().signal });

function req(extra: Partial<AdapterChatRequest> = {}): AdapterChatRequest {
  return { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], ...extra };
}

/** Raw Anthropic SSE text from `[event, payload]` pairs. */
function sse(...events: [string, unknown][]): string {
  return events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

const START: [string, unknown] = [
  'message_start',
  { type: 'message_start', message: { id: 'msg_x', usage: { input_tokens: 11, output_tokens: 1 } } },
];
const STOP: [string, unknown] = ['message_stop', { type: 'message_stop' }];
const delta = (stop: string, out: number): [string, unknown] => [
  'message_delta',
  { type: 'message_delta', delta: { stop_reason: stop }, usage: { output_tokens: out } },
];

function lastBody(): Record<string, any> {
  return mock.requests.at(-1)?.body as Record<string, any>;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  extraServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('anthropic adapter: chat', () => {
  it('answers text with usage and finish_reason stop', async () => {
    mock.enqueue({ reply: 'Hello there', usage: { prompt: 12, completion: 3 } });
    const res = await adapter().chat(req(), ctx());
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe(`anthropic/${MODEL}`);
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: 'Hello there' });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
  });

  it('maps stop_reason max_tokens to length', async () => {
    mock.enqueue({ reply: 'cut', finish: 'length' });
    const res = await adapter().chat(req(), ctx());
    expect(res.choices[0]?.finish_reason).toBe('length');
  });

  it('sends x-api-key and anthropic-version, never an Authorization header', async () => {
    await adapter().chat(req(), ctx());
    const r = mock.requests[0];
    expect(r?.method).toBe('POST');
    expect(r?.path).toBe('/v1/messages');
    expect(r?.headers['x-api-key']).toBe(KEY);
    expect(r?.headers['anthropic-version']).toBe('2023-06-01');
    expect(r?.headers['content-type']).toBe('application/json');
    expect(r?.headers.authorization).toBeUndefined();
  });

  it('defaults max_tokens to 4096 and passes a given one', async () => {
    await adapter().chat(req(), ctx());
    expect(lastBody().max_tokens).toBe(4096);
    await adapter().chat(req({ max_tokens: 77 }), ctx());
    expect(lastBody().max_tokens).toBe(77);
  });

  it('extracts system and developer messages into the top-level system field', async () => {
    await adapter().chat(
      req({
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in German.' }] },
          { role: 'user', content: 'Hi' },
        ],
      }),
      ctx(),
    );
    const body = lastBody();
    expect(body.system).toBe('Be terse.\n\nAnswer in German.');
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  it('merges consecutive same-role turns so roles alternate', async () => {
    await adapter().chat(
      req({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: [{ type: 'text', text: 'b' }] },
          { role: 'assistant', content: 'c' },
          { role: 'assistant', content: 'd' },
          { role: 'user', content: 'e' },
        ],
      }),
      ctx(),
    );
    expect(lastBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'c' },
          { type: 'text', text: 'd' },
        ],
      },
      { role: 'user', content: [{ type: 'text', text: 'e' }] },
    ]);
  });

  it('maps temperature, top_p (only without temperature) and stop → stop_sequences, and drops seed and penalties', async () => {
    await adapter().chat(
      req({ temperature: 0.2, top_p: 0.9, stop: 'END', seed: 7, frequency_penalty: 1, presence_penalty: 1 }),
      ctx(),
    );
    const body = lastBody();
    expect(body).toMatchObject({ temperature: 0.2, stop_sequences: ['END'] });
    expect(body).not.toHaveProperty('top_p');
    expect(body).not.toHaveProperty('seed');
    expect(body).not.toHaveProperty('frequency_penalty');
    expect(body).not.toHaveProperty('presence_penalty');
    expect(body).not.toHaveProperty('stream');
    await adapter().chat(req({ stop: ['a', 'b'], top_p: 0.9 }), ctx());
    expect(lastBody()).toMatchObject({ stop_sequences: ['a', 'b'], top_p: 0.9 });
  });

  it('maps thinking blocks to reasoning_content', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify({
        id: 'msg_t',
        type: 'message',
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Let me think.', signature: 'sig' },
          { type: 'text', text: '42' },
        ],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 2 },
      }),
    });
    const res = await adapter().chat(req(), ctx());
    expect(res.id).toBe('msg_t');
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: '42',
      reasoning_content: 'Let me think.',
    });
  });

  it('reports stop_reason refusal as ProviderBlockedError', async () => {
    mock.enqueue({ blocked: true });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('refusal');
  });

  it('reports a reply without a content array as ProviderResponseError', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify({ id: 'x', type: 'message', stop_reason: 'end_turn' }),
    });
    expect(await failure(adapter().chat(req(), ctx()))).toBeInstanceOf(ProviderResponseError);
  });

  it('reports a content block that is not an object as ProviderResponseError, by what is wrong', async () => {
    for (const block of [null, 'text', 7]) {
      mock.enqueue({
        status: 200,
        body: JSON.stringify({ id: 'x', type: 'message', content: [block], stop_reason: 'end_turn' }),
      });
      const err = await failure(adapter().chat(req(), ctx()));
      expect(err).toBeInstanceOf(ProviderResponseError);
      expect((err as Error).message).toMatch(/content block is not an object/);
    }
  });
});

describe('anthropic adapter: stream', () => {
  it('streams text with one id, provider/model, a finish chunk and usage', async () => {
    mock.enqueue({ reply: 'Hello streaming world', chunks: 4, usage: { prompt: 9, completion: 4 } });
    const chunks = await collect(adapter().stream(req(), ctx()));
    expect(lastBody().stream).toBe(true);
    expect(text(chunks)).toBe('Hello streaming world');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(
      chunks.every((c) => c.model === `anthropic/${MODEL}` && c.object === 'chat.completion.chunk'),
    ).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant' });
    const last = chunks.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe('stop');
    expect(last?.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
    expect(chunks.filter((c) => c.choices[0]?.finish_reason != null)).toHaveLength(1);
  });

  it('maps a streamed max_tokens stop to length', async () => {
    mock.enqueue({ reply: 'abc', finish: 'length' });
    const chunks = await collect(adapter().stream(req(), ctx()));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('streams thinking deltas as reasoning_content and reads message_delta usage', async () => {
    mock.enqueue({
      status: 200,
      body: sse(
        START,
        ['ping', { type: 'ping' }],
        [
          'content_block_start',
          { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
        ],
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm, ' } },
        ],
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'yes.' } },
        ],
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'x' } },
        ],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        [
          'content_block_start',
          { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
        ],
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Yes' } },
        ],
        ['content_block_stop', { type: 'content_block_stop', index: 1 }],
        delta('end_turn', 21),
        STOP,
      ),
    });
    const chunks = await collect(adapter().stream(req(), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')).toBe('Hmm, yes.');
    expect(text(chunks)).toBe('Yes');
    expect(chunks.every((c) => c.id === 'msg_x')).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 11, completion_tokens: 21, total_tokens: 32 });
  });

  it('reports a streamed refusal as ProviderBlockedError', async () => {
    mock.enqueue({ blocked: true });
    const err = await failure(collect(adapter().stream(req(), ctx())));
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect((err as ProviderBlockedError).reason).toBe('refusal');
  });

  it('stamps created (chat and stream) from the injected clock, in seconds', async () => {
    const clock = createFakeClock(1_234_567_890_999);
    mock.enqueue({ reply: 'a' });
    expect((await adapter(mock.url, clock).chat(req(), ctx())).created).toBe(1_234_567_890);
    mock.enqueue({ reply: 'b' });
    const chunks = await collect(adapter(mock.url, clock).stream(req(), ctx()));
    expect(chunks.every((c) => c.created === 1_234_567_890)).toBe(true);
  });

  it('a reply or stream without a message id gets one of ours, the same on every chunk', async () => {
    const content = [{ type: 'text', text: 'a' }];
    mock.enqueue({ status: 200, body: JSON.stringify({ content, stop_reason: 'end_turn' }) });
    expect((await adapter().chat(req(), ctx())).id).toMatch(/^msg-\d+$/);
    const text0: [string, unknown] = [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a' } },
    ];
    mock.enqueue({
      status: 200,
      body: sse(['message_start', { type: 'message_start', message: {} }], text0, delta('end_turn', 1), STOP),
    });
    const chunks = await collect(adapter().stream(req(), ctx()));
    expect(chunks[0]?.id).toMatch(/^msg-[0-9a-f-]{36}$/);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('an empty text block start or empty text/thinking delta yields no chunk; a block start with text yields it', async () => {
    const start = (index: number, t: string): [string, unknown] => [
      'content_block_start',
      { type: 'content_block_start', index, content_block: { type: 'text', text: t } },
    ];
    const empty = (type: string, key: string): [string, unknown] => [
      'content_block_delta',
      { type: 'content_block_delta', index: 0, delta: { type, [key]: '' } },
    ];
    const frames = [START, start(0, ''), empty('text_delta', 'text'), empty('thinking_delta', 'thinking')];
    mock.enqueue({ status: 200, body: sse(...frames, start(1, 'Hi'), delta('end_turn', 2), STOP) });
    const chunks = await collect(adapter().stream(req(), ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content).filter((t) => t !== undefined)).toEqual(['Hi']);
    expect(chunks.some((c) => c.choices[0]?.delta.reasoning_content !== undefined)).toBe(false);
  });

  it('throws when the stream ends after message_delta without message_stop', async () => {
    mock.enqueue({
      status: 200,
      body: sse(
        START,
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
        ],
        delta('end_turn', 2),
      ),
    });
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const c of adapter().stream(req(), ctx())) seen.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(text(seen)).toBe('Hi');
    expect(seen.some((c) => c.choices[0]?.finish_reason != null)).toBe(false);
  });
});

describe('anthropic adapter: tools', () => {
  const tools: AdapterChatRequest['tools'] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
    { type: 'function', function: { name: 'noop' } },
  ];

  it('maps tools, assistant tool_calls and tool results (merged into one user turn)', async () => {
    await adapter().chat(
      req({
        tools,
        messages: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'toolu_2',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'rainy' }] },
        ],
      }),
      ctx(),
    );
    const body = lastBody();
    expect(body.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
      { name: 'noop', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'rainy' }] },
        ],
      },
    ]);
  });

  it.each([
    ['auto', { type: 'auto' }],
    ['required', { type: 'any' }],
    ['none', { type: 'none' }],
    [
      { type: 'function', function: { name: 'get_weather' } },
      { type: 'tool', name: 'get_weather' },
    ],
  ] as const)('maps tool_choice %j', async (choice, wire) => {
    await adapter().chat(req({ tools, tool_choice: choice }), ctx());
    expect(lastBody().tool_choice).toEqual(wire);
  });

  it('refuses tool-call arguments that are not a JSON object (bad JSON, or JSON but not an object) as a caller error, with one message', async () => {
    for (const args of ['{oops', '[1]']) {
      const err = await failure(
        adapter().chat(
          req({
            messages: [
              { role: 'user', content: 'x' },
              {
                role: 'assistant',
                tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: args } }],
              },
            ],
          }),
          ctx(),
        ),
      );
      expect(err).toBeInstanceOf(ProviderHTTPError);
      expect((err as ProviderHTTPError).retryable).toBe(false);
      expect((err as Error).message).toContain('tool call t arguments are not a JSON object');
    }
    expect(mock.count()).toBe(0);
  });

  it('a reply whose text blocks are all empty and that calls a tool has content null and no reasoning', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: MODEL,
        content: [
          { type: 'thinking', thinking: '' },
          { type: 'text', text: '' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 3, output_tokens: 2 },
      }),
    });
    const res = await adapter().chat(req({ tools }), ctx());
    const message = res.choices[0]?.message;
    expect(message?.content).toBeNull();
    expect(message && 'reasoning_content' in message).toBe(false);
    expect(message?.tool_calls?.[0]?.function).toEqual({
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });
  });

  it('answers a tool call with its id and JSON arguments', async () => {
    mock.enqueue({ toolCall: { id: 'toolu_abc', name: 'get_weather', arguments: '{"city":"Paris"}' } });
    const res = await adapter().chat(req({ tools }), ctx());
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(res.choices[0]?.message.content).toBeNull();
    expect(res.choices[0]?.message.tool_calls).toEqual([
      { id: 'toolu_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
  });

  it('streams a tool call: id/name first, then argument fragments on the same index', async () => {
    const args = '{"city":"Paris","unit":"celsius"}';
    mock.enqueue({ toolCall: { id: 'toolu_s', name: 'get_weather', arguments: args } });
    const chunks = await collect(adapter().stream(req({ tools }), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toEqual({
      index: 0,
      id: 'toolu_s',
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(deltas.slice(1).length).toBeGreaterThan(1);
    for (const d of deltas.slice(1)) {
      expect(d.index).toBe(0);
      expect(d.id).toBeUndefined();
      expect(d.function?.name).toBeUndefined();
    }
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe(args);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('numbers several streamed tool_use blocks 0, 1 after a text block', async () => {
    const block = (index: number, id: string): [string, unknown] => [
      'content_block_start',
      { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name: 'f', input: {} } },
    ];
    const json = (index: number, partial_json: string): [string, unknown] => [
      'content_block_delta',
      { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } },
    ];
    mock.enqueue({
      status: 200,
      body: sse(
        START,
        [
          'content_block_start',
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        ],
        [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Ok.' } },
        ],
        block(1, 'toolu_a'),
        json(1, ''),
        json(1, '{"a":'),
        json(1, '1}'),
        block(2, 'toolu_b'),
        json(2, '{"b":2}'),
        delta('tool_use', 30),
        STOP,
      ),
    });
    const chunks = await collect(adapter().stream(req(), ctx()));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const args = (i: number) =>
      deltas
        .filter((d) => d.index === i)
        .map((d) => d.function?.arguments ?? '')
        .join('');
    expect(deltas.filter((d) => d.id).map((d) => [d.index, d.id])).toEqual([
      [0, 'toolu_a'],
      [1, 'toolu_b'],
    ]);
    expect(args(0)).toBe('{"a":1}');
    expect(args(1)).toBe('{"b":2}');
    expect(text(chunks)).toBe('Ok.');
  });
  it('leaves out empty text parts of a tool result given as parts', async () => {
    const content = [
      { type: 'text' as const, text: '' },
      { type: 'text' as const, text: '42' },
    ];
    await adapter().chat(req({ messages: [{ role: 'tool', tool_call_id: 'toolu_1', content }] }), ctx());
    expect(lastBody().messages[0].content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '42' }] },
    ]);
  });

  it('a tool_use block start without a numeric index is a ProviderResponseError', async () => {
    const block = { type: 'tool_use', id: 'toolu_a', name: 'f', input: {} };
    mock.enqueue({
      status: 200,
      body: sse(
        START,
        ['content_block_start', { type: 'content_block_start', index: '1', content_block: block }],
        ['content_block_stop', { type: 'content_block_stop', index: '1' }],
        delta('tool_use', 3),
        STOP,
      ),
    });
    expect(await failure(collect(adapter().stream(req(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });
});

describe('anthropic adapter: capabilities', () => {
  it('can do tools and vision, not JSON schema or embeddings', () => {
    expect(adapter().capabilities(MODEL)).toEqual({
      tools: true,
      vision: true,
      jsonSchema: false,
      embeddings: false,
    });
  });

  it.each([
    [{ type: 'json_object' }],
    [{ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } }],
  ] as const)('refuses response_format %j without calling upstream', async (format) => {
    for (const call of [
      () => adapter().chat(req({ response_format: format }), ctx()),
      () => collect(adapter().stream(req({ response_format: format }), ctx())),
    ]) {
      const err = await failure(call());
      expect(err).toBeInstanceOf(ProviderCapabilityError);
      expect((err as ProviderCapabilityError).capability).toBe('jsonSchema');
    }
    expect(mock.count()).toBe(0);
  });

  it('accepts response_format text', async () => {
    await adapter().chat(req({ response_format: { type: 'text' } }), ctx());
    expect(lastBody()).not.toHaveProperty('response_format');
  });

  it('embed throws ProviderCapabilityError', async () => {
    const err = await failure(adapter().embed({ model: MODEL, input: ['a'] }, ctx()));
    expect(err).toBeInstanceOf(ProviderCapabilityError);
    expect((err as ProviderCapabilityError).capability).toBe('embeddings');
    expect(mock.count()).toBe(0);
  });
});

describe('anthropic adapter: vision', () => {
  it('leaves out an empty text part of a user message (the API refuses empty text blocks)', async () => {
    const data = PNG.toString('base64');
    const image = { type: 'image_url' as const, image_url: { url: `data:image/png;base64,${data}` } };
    await adapter().chat(
      req({ messages: [{ role: 'user', content: [{ type: 'text', text: '' }, image] }] }),
      ctx(),
    );
    expect(lastBody().messages).toEqual([
      {
        role: 'user',
        content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }],
      },
    ]);
  });

  it('sends a data: URL image as a base64 source', async () => {
    const data = PNG.toString('base64');
    await adapter().chat(
      req({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } },
            ],
          },
        ],
      }),
      ctx(),
    );
    expect(lastBody().messages[0].content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data } },
    ]);
  });

  it('fetches an http image and inlines it', async () => {
    const origin = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(PNG.length) }).end(PNG);
    });
    await adapter().chat(
      req({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: `${origin}/cat.jpg` } }] },
        ],
      }),
      ctx(),
    );
    expect(lastBody().messages[0].content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG.toString('base64') } },
    ]);
  });

  it('an image that cannot be fetched is the caller error (nothing sent)', async () => {
    const origin = await listen((_req, res) => void res.writeHead(404).end());
    const err = await failure(
      adapter().chat(
        req({
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: `${origin}/x.png` } }] },
          ],
        }),
        ctx(),
      ),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).not.toContain('404');
    expect(mock.count('chat')).toBe(0);
  });
});

describe('anthropic adapter: probe and models', () => {
  it('probes GET /models with the key headers', async () => {
    expect(await adapter().probe(ctx())).toEqual({ ok: true });
    const r = mock.requests[0];
    expect(r?.method).toBe('GET');
    expect(r?.path.split('?')[0]).toBe('/v1/models');
    expect(r?.headers['x-api-key']).toBe(KEY);
    expect(r?.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('a 401 probe is alive with the error kept, key-free', async () => {
    mock.enqueue({
      status: 401,
      body: JSON.stringify({
        type: 'error',
        error: { type: 'authentication_error', message: `invalid x-api-key ${KEY}` },
      }),
    });
    const out = await adapter().probe(ctx());
    expect(out.ok).toBe(true);
    expect(out.error).toContain('401');
    expect(out.error).not.toContain(KEY);
  });

  it('a 500 probe throws', async () => {
    mock.enqueue({ status: 500 });
    expect(await failure(adapter().probe(ctx()))).toBeInstanceOf(ProviderHTTPError);
  });

  it('a refused connection throws ProviderConnectionError', async () => {
    const err = await failure(adapter(await closedPortUrl('/v1')).probe(ctx()));
    expect(err).toBeInstanceOf(ProviderConnectionError);
  });

  it('lists models', async () => {
    mock.enqueue({ models: ['claude-opus-4-1', 'claude-3-5-haiku-latest'] });
    expect(await adapter().models(ctx())).toEqual(['claude-opus-4-1', 'claude-3-5-haiku-latest']);
  });

  it('follows model-list pages', async () => {
    mock.enqueue(
      {
        status: 200,
        body: JSON.stringify({ data: [{ type: 'model', id: 'a' }], has_more: true, last_id: 'a' }),
      },
      { models: ['b'] },
    );
    expect(await adapter().models(ctx())).toEqual(['a', 'b']);
    expect(mock.requests[1]?.path).toContain('after_id=a');
  });

  it('stops at a page that says has_more without a last_id (it could only ask for the first page again)', async () => {
    const page = JSON.stringify({ data: [{ type: 'model', id: 'a' }], has_more: true });
    mock.enqueue({ status: 200, body: page }, { models: ['b'] });
    expect(await adapter().models(ctx())).toEqual(['a']);
    expect(mock.requests).toHaveLength(1);
  });

  it('reads at most 10 model-list pages when every page says has_more', async () => {
    const page = JSON.stringify({ data: [{ type: 'model', id: 'a' }], has_more: true, last_id: 'a' });
    mock.enqueue(...Array.from({ length: 11 }, () => ({ status: 200, body: page })));
    expect(await adapter().models(ctx())).toHaveLength(10);
    expect(mock.requests).toHaveLength(10);
  });

  it('a model list without data is a ProviderResponseError', async () => {
    mock.enqueue({ status: 200, body: '{"models":[]}' });
    expect(await failure(adapter().models(ctx()))).toBeInstanceOf(ProviderResponseError);
  });
});

describe('anthropic adapter: failures', () => {
  it('connection refused → ProviderConnectionError', async () => {
    const url = await closedPortUrl('/v1');
    expect(await failure(adapter(url).chat(req(), ctx()))).toBeInstanceOf(ProviderConnectionError);
    expect(await failure(collect(adapter(url).stream(req(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('reset before headers → ProviderConnectionError', async () => {
    mock.enqueue({ reset: true }, { reset: true });
    expect(await failure(adapter().chat(req(), ctx()))).toBeInstanceOf(ProviderConnectionError);
    expect(await failure(collect(adapter().stream(req(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('a 200 reply of only an error object (no type) is that error, not a reply without content', async () => {
    mock.enqueue({
      status: 200,
      body: JSON.stringify({ error: { type: 'overloaded_error', message: 'Overloaded' } }),
    });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as Error).message).toContain('Overloaded');
  });

  it.each([500, 529])('%i → retryable ProviderHTTPError', async (status) => {
    mock.enqueue({
      status,
      body: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(status);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect(err.message).toContain('Overloaded');
    expect(err.message).toContain('/v1/messages');
  });

  it('429 with retry-after → ProviderRateLimitError with retryAfterMs', async () => {
    mock.enqueue({
      status: 429,
      headers: { 'retry-after': '7' },
      body: JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }),
    });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderRateLimitError);
    expect((err as ProviderRateLimitError).retryAfterMs).toBe(7000);
  });

  it.each([401, 403])('%i → ProviderAuthError, key-free', async (status) => {
    mock.enqueue({
      status,
      body: JSON.stringify({
        type: 'error',
        error: { type: 'authentication_error', message: `bad key ${KEY}` },
      }),
    });
    expect(await failure(adapter().chat(req(), ctx()))).toBeInstanceOf(ProviderAuthError);
  });

  it('404 → ProviderHTTPError status 404', async () => {
    mock.enqueue({
      status: 404,
      body: JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `model: ${MODEL}` } }),
    });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(404);
  });

  it('400 → ProviderHTTPError, not retryable', async () => {
    mock.enqueue({
      status: 400,
      body: JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }),
    });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(false);
    expect((err as ProviderHTTPError).httpStatus).toBe(400);
  });

  it('malformed JSON body and malformed stream frame → ProviderResponseError', async () => {
    mock.enqueue({ malformed: true }, { malformed: true });
    expect(await failure(adapter().chat(req(), ctx()))).toBeInstanceOf(ProviderResponseError);
    expect(await failure(collect(adapter().stream(req(), ctx())))).toBeInstanceOf(ProviderResponseError);
  });

  it.each([
    ['rate-limit', ProviderRateLimitError, true],
    ['server', ProviderHTTPError, true],
    ['auth', ProviderAuthError, false],
    ['invalid', ProviderHTTPError, false],
  ] as const)('in-band %s error in a 200 JSON body is classified', async (kind, cls, retryable) => {
    mock.enqueue({ inBandError: kind });
    const err = await failure(adapter().chat(req(), ctx()));
    expect(err).toBeInstanceOf(cls);
    expect((err as ProviderHTTPError).retryable).toBe(retryable);
  });

  it('error event mid-stream: overloaded_error → retryable ProviderHTTPError after the content', async () => {
    mock.enqueue({ inBandError: 'server', after: 2 });
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const c of adapter().stream(req(), ctx())) seen.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).retryable).toBe(true);
    expect(err.message).toContain('Overloaded');
    expect(text(seen)).toBe('y'.repeat(8));
  });

  it('error event mid-stream: rate_limit_error → ProviderRateLimitError', async () => {
    mock.enqueue({ inBandError: 'rate-limit', after: 1 });
    expect(await failure(collect(adapter().stream(req(), ctx())))).toBeInstanceOf(ProviderRateLimitError);
  });

  it('a stream that ends without message_stop throws after its content', async () => {
    mock.enqueue({ streamThenEnd: 2 });
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const c of adapter().stream(req(), ctx())) seen.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(text(seen)).toBe('x'.repeat(8));
  });

  it('a socket destroyed mid-stream → ProviderConnectionError', async () => {
    mock.enqueue({ streamThenReset: 2 });
    expect(await failure(collect(adapter().stream(req(), ctx())))).toBeInstanceOf(ProviderConnectionError);
  });

  it('slow byte-by-byte delivery gives the identical answer', async () => {
    const reply = 'Grüße, byte by byte ✓';
    mock.enqueue({ reply }, { slow: reply });
    const fast = await adapter().chat(req(), ctx());
    const slow = await adapter().chat(req(), ctx());
    expect(slow.choices).toEqual(fast.choices);
    mock.enqueue({ reply }, { slow: reply });
    const strip = (cs: ChatChunk[]) => cs.map((c) => ({ choices: c.choices, usage: c.usage }));
    const fastChunks = await collect(adapter().stream(req(), ctx()));
    const slowChunks = await collect(adapter().stream(req(), ctx()));
    expect(text(slowChunks)).toBe(reply);
    expect(strip(slowChunks)).toEqual(strip(fastChunks));
  });

  it('aborting via ctx.signal rejects with the signal reason (chat and mid-stream)', async () => {
    mock.enqueue({ hang: true }, { streamThenStall: 1 });
    const reason = new Error('caller gave up');
    const ac = new AbortController();
    const pending = adapter().chat(req(), { signal: ac.signal });
    // Aborted once the upstream holds the request: earlier, the stream below would be the one to hang.
    const asked = mock.requests.length + 1;
    while (mock.requests.length < asked) await new Promise((r) => setTimeout(r, 5));
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);

    const ac2 = new AbortController();
    const it = adapter().stream(req(), { signal: ac2.signal });
    const seen: ChatChunk[] = [];
    await expect(
      (async () => {
        for await (const c of it) {
          seen.push(c);
          if (c.choices[0]?.delta.content) ac2.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    expect(text(seen)).toBe('xxxx');
  });

  it('breaking out of a stream early closes the upstream socket', async () => {
    let closed!: () => void;
    const socketClosed = new Promise<void>((resolve) => (closed = resolve));
    const origin = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        sse(START, [
          'content_block_delta',
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'first' } },
        ]),
      );
      res.on('close', () => closed());
    });
    for await (const c of adapter(`${origin}/v1`).stream(req(), ctx())) {
      if (c.choices[0]?.delta.content) break;
    }
    await socketClosed;
  });
});
