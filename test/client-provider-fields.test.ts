import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, ProviderResponseError } from '../src/index.js';
import { closeAll, collect, rejection, USER } from './helpers/client.js';
import { answeringWith } from './helpers/raw-upstream.js';

// Upstream fields of the wrong type or value (a gateway's or a server's bug), read through the public API over real
// local HTTP: each adapter reads them by the same rule.

afterEach(closeAll);

const json = 'application/json';
const sseOf = (...frames: object[]) => frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('');

/** Gemini and Anthropic replies (whole and streamed) calling `weather` with `args` as they send them. */
function toolReplies(args: unknown) {
  const gemini = {
    candidates: [
      {
        content: { role: 'model', parts: [{ functionCall: { name: 'weather', args } }] },
        finishReason: 'STOP',
      },
    ],
  };
  const claude = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: args }],
    stop_reason: 'tool_use',
    usage: { input_tokens: 1, output_tokens: 1 },
  };
  return { gemini, claude };
}

describe('tool-call arguments sent as a text or a non-object value', () => {
  // The OpenAI-compatible adapter's rule (client-wire-quirks.test.ts): a string is the arguments' text, any other
  // value its JSON text; Ollama's adapter reads its calls the same way.
  it.each([
    ['a JSON text', '{"city":"Paris"}', '{"city":"Paris"}'],
    ['a text that is not JSON', 'Paris', 'Paris'],
    ['a number', 5, '5'],
    ['a list', [1, 2], '[1,2]'],
    ['null', null, '{}'],
  ])('%s reaches the caller as Ollama and OpenAI-compatible ones do', async (_, args, text) => {
    const { gemini, claude } = toolReplies(args);
    const ollama = {
      model: 'm',
      created_at: '2026-01-01T00:00:00Z',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'weather', arguments: args } }],
      },
      done: true,
      done_reason: 'stop',
    };
    for (const [type, body] of [
      ['google', gemini],
      ['anthropic', claude],
      ['ollama', ollama],
    ] as const) {
      const llm = await answeringWith(type, JSON.stringify(body), json);
      const res = await llm.chat({ model: 'a/m', messages: USER });
      expect([type, res.choices[0]?.message.tool_calls?.[0]?.function.arguments]).toEqual([type, text]);
    }
    const streamed = await answeringWith('google', sseOf(gemini), 'text/event-stream');
    const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
    expect(
      chunks.find((c) => c.choices[0]?.delta.tool_calls)?.choices[0]?.delta.tool_calls?.[0]?.function
        ?.arguments,
    ).toBe(text);
  });
});

describe('Anthropic stream: a tool_use block whose start gives its whole input', () => {
  it.each([
    ['a JSON text', '{"city":"Paris"}', '{"city":"Paris"}'],
    ['a number', 5, '5'],
    ['an object', { city: 'Paris' }, '{"city":"Paris"}'],
    ['null', null, '{}'],
  ])(
    'Anthropic stream: a tool_use block that starts with its input as %s and streams none',
    async (_, input, text) => {
      const ev = (type: string, rest: object) =>
        `event: ${type}\ndata: ${JSON.stringify({ type, ...rest })}\n\n`;
      const body = [
        ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
        ev('content_block_start', {
          index: 0,
          content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather', input },
        }),
        ev('content_block_stop', { index: 0 }),
        ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 1 } }),
        ev('message_stop', {}),
      ].join('');
      const llm = await answeringWith('anthropic', body, 'text/event-stream');
      const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
      const args = chunks
        .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
        .map((t) => t.function?.arguments ?? '');
      expect(args.join('')).toBe(text);
    },
  );
});

describe('token counts that are not whole numbers ≥ 0 (negative, fractional, 1e999, text)', () => {
  const text = (part: object) => ({
    candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }],
    ...part,
  });
  const claude = (usage: object) => ({
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'text', text: 'Hi' }],
    stop_reason: 'end_turn',
    usage,
  });
  const ollama = (counts: object) => ({
    model: 'm',
    created_at: '2026-01-01T00:00:00Z',
    message: { role: 'assistant', content: 'Hi' },
    done: true,
    done_reason: 'stop',
    ...counts,
  });
  const openai = (usage: unknown) => ({
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
    usage,
  });

  // Each protocol reads a count that is not one as it reads a missing count: Gemini and Ollama as 0 (the total
  // from the parts), Anthropic and OpenAI-compatible servers (which always send theirs) as no usage reported.
  it.each([
    [
      'google',
      text({ usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2.5, totalTokenCount: -1 } }),
      { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 },
    ],
    [
      'google',
      text({ usageMetadata: { promptTokenCount: -3, candidatesTokenCount: 2, cachedContentTokenCount: -2 } }),
      { prompt_tokens: 0, completion_tokens: 2, total_tokens: 2 },
    ],
    ['anthropic', claude({ input_tokens: 1.5, output_tokens: 2 }), undefined],
    [
      'ollama',
      ollama({ prompt_eval_count: 3, eval_count: 2.5 }),
      { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3 },
    ],
    ['openai', openai({ prompt_tokens: -1, completion_tokens: 2, total_tokens: 1 }), undefined],
    ['openai', openai({ prompt_tokens: 1, completion_tokens: 2, total_tokens: '3' }), undefined],
    ['openai', openai('lots'), undefined],
    [
      'openai',
      openai({
        prompt_tokens: 1,
        completion_tokens: 2,
        total_tokens: 3,
        prompt_tokens_details: { cached_tokens: 0.5 },
      }),
      undefined,
    ],
  ] as const)('%s: chat() reports usage %#', async (type, body, usage) => {
    const llm = await answeringWith(type, JSON.stringify(body), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
    expect(res.usage).toEqual(usage);
  });

  it('openai: a stream whose usage frame has a bad count ends without it', async () => {
    const frame = (choices: object[], usage: unknown) => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices,
      usage,
    });
    const body = `${sseOf(
      frame([{ index: 0, delta: { content: 'Hi' }, finish_reason: null }], null),
      frame([{ index: 0, delta: {}, finish_reason: 'stop' }], null),
      frame([], { prompt_tokens: 1, completion_tokens: -2, total_tokens: -1 }),
    )}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? c.choices[0]?.finish_reason)).toEqual([
      'Hi',
      'stop',
    ]);
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it.each([
    [
      'openai',
      {
        object: 'list',
        data: [{ index: 0, embedding: [0.5] }],
        usage: { prompt_tokens: -5, total_tokens: 1e9 + 0.5 },
      },
    ],
    ['ollama', { model: 'm', embeddings: [[0.5]], prompt_eval_count: -5 }],
  ] as const)('%s: embed() reports 0 tokens', async (type, body) => {
    const llm = await answeringWith(type, JSON.stringify(body), json);
    const res = await llm.embed({ model: 'a/m', input: ['x'], encoding_format: 'float' });
    expect(res.usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
  });
});

describe('embeddings: an empty vector, or vectors of different lengths in one reply', () => {
  const b64 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer).toString('base64');
  const openai = (...vs: unknown[]) => ({
    object: 'list',
    data: vs.map((embedding, index) => ({ object: 'embedding', index, embedding })),
  });
  const google = (...vs: number[][]) => ({ embeddings: vs.map((values) => ({ values })) });
  const ollama = (...vs: number[][]) => ({ model: 'm', embeddings: vs });
  it.each([
    ['openai', 1, openai([])],
    ['openai', 2, openai([0.5, 1], [0.5])],
    ['openai', 1, openai('')],
    ['openai', 2, openai(b64([0.5, 1]), b64([0.5]))],
    ['google', 1, google([])],
    ['google', 2, google([0.5, 1], [0.5])],
    ['ollama', 1, ollama([])],
    ['ollama', 2, ollama([0.5, 1], [0.5])],
  ] as const)('%s: is a malformed reply, so the chain falls back %#', async (type, inputs, body) => {
    const llm = await answeringWith(type, JSON.stringify(body), json);
    const err = await rejection(llm.embed({ model: 'a/m', input: ['x', 'y'].slice(0, inputs) }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });
});

describe('OpenAI-compatible tool calls without their text', () => {
  const reply = (fn: object) =>
    JSON.stringify({
      id: 'c1',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: fn }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    });

  // As Anthropic's, Gemini's and Ollama's calls without arguments are (docs/choices.md, "Provider replies").
  it.each([
    ['null arguments', { name: 'weather', arguments: null }],
    ['no arguments', { name: 'weather' }],
  ])('%s reach the caller as "{}"', async (_, fn) => {
    const llm = await answeringWith('openai', reply(fn), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.tool_calls?.[0]?.function.arguments).toBe('{}');
  });

  // As Ollama's and Gemini's calls without an id get one: the caller answers the call by it.
  it.each([
    ['no id', undefined],
    ['an empty id', ''],
  ])('a call with %s gets a new unique id', async (_, id) => {
    const body = JSON.parse(reply({ name: 'weather', arguments: '{}' }));
    body.choices[0].message.tool_calls[0].id = id;
    const llm = await answeringWith('openai', JSON.stringify(body), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.tool_calls?.[0]?.id).toMatch(/^call_[0-9a-f]{24}$/);
  });

  const calls: [string, object][] = [
    ['no function', { id: 'call_1', type: 'function', function: null }],
    ['a function without a name', { id: 'call_1', type: 'function', function: { arguments: '{}' } }],
    [
      'a name that is not a string',
      { id: 'call_1', type: 'function', function: { name: 5, arguments: '{}' } },
    ],
    [
      'an id that is not a string',
      { id: 7, type: 'function', function: { name: 'weather', arguments: '{}' } },
    ],
  ];
  it.each(calls)('%s is a malformed reply, as with the other protocols', async (_, call) => {
    const body = JSON.parse(reply({}));
    body.choices[0].message.tool_calls[0] = call;
    const llm = await answeringWith('openai', JSON.stringify(body), json);
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });

  // A delta may leave the id and name out (or send null): one of another type is malformed in a stream too.
  it.each(calls.slice(2))('%s in a stream delta is a malformed reply', async (_, call) => {
    const frame = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm' };
    const body = `${sseOf(
      {
        ...frame,
        choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...call }] }, finish_reason: null }],
      },
      { ...frame, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    )}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });

  it('a streamed delta with null arguments hands out none (the type says a string), so none appends "null"', async () => {
    const frame = (d: object, finish: string | null) => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    });
    const body = `${sseOf(
      frame(
        {
          tool_calls: [
            { index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: null } },
          ],
        },
        null,
      ),
      frame({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }, null),
      frame({}, 'tool_calls'),
    )}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((t) => t.function?.arguments)).toEqual([undefined, '{}']);
  });
});

describe('OpenAI-compatible: a creation time that is not a whole number ≥ 0', () => {
  const reply = (created: string) =>
    `{"id":"c1","object":"chat.completion","created":${created},"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}`;
  const frames = (created: string) =>
    [
      `{"id":"c1","object":"chat.completion.chunk","created":${created},"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`,
      `{"id":"c1","object":"chat.completion.chunk","created":${created},"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
      '[DONE]',
    ]
      .map((f) => `data: ${f}\n\n`)
      .join('');

  // 1e999 parses as Infinity, which a served reply would write as `"created": null`.
  it.each(['1e999', '-5', '1767225600.5'])("%s is replaced by the client clock's time", async (created) => {
    const llm = await answeringWith('openai', reply(created), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    const streamed = await answeringWith('openai', frames(created), 'text/event-stream');
    const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
    for (const t of [res.created, ...chunks.map((c) => c.created)]) {
      expect(Number.isSafeInteger(t) && t >= 0).toBe(true);
    }
  });
});

describe('OpenAI-compatible: a finish_reason that is not a reason, in a whole reply', () => {
  // A stream reads "", "null" and a non-text as no finish reason (sglang, older Ollama, some gateways); so does chat().
  it.each([
    ['""', ''],
    ['"null"', 'null'],
    ['a number', 5],
  ])('%s reaches the caller as null, as in a stream', async (_, finish) => {
    const body = JSON.stringify({
      id: 'c1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: finish }],
    });
    const llm = await answeringWith('openai', body, json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.finish_reason).toBeNull();
  });
});

it("Ollama: a creation time before 1970 (Go's zero time, 0001-01-01) is replaced by the client clock's", async () => {
  const line = (rest: object) =>
    JSON.stringify({
      model: 'm',
      created_at: '0001-01-01T00:00:00Z',
      message: { role: 'assistant', content: 'Hi' },
      ...rest,
    });
  const llm = await answeringWith('ollama', line({ done: true, done_reason: 'stop' }), json);
  const res = await llm.chat({ model: 'a/m', messages: USER });
  const streamed = await answeringWith(
    'ollama',
    `${line({ done: false })}\n${line({ done: true })}\n`,
    'application/x-ndjson',
  );
  const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
  for (const t of [res.created, ...chunks.map((c) => c.created)]) expect(t).toBeGreaterThanOrEqual(0);
});
