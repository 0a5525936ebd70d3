import { type AddressInfo, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderRateLimitError,
  ProviderResponseError,
  StreamInterruptedError,
} from '../src/index.js';
import {
  closeAll,
  collect,
  harness,
  KEY,
  rejection,
  textOf,
  track,
  USER,
  waitFor,
} from './helpers/client.js';
import { answeringWith, rawUpstream } from './helpers/raw-upstream.js';

// Replies real servers send that bend their protocol, read through the public API over real local HTTP.

afterEach(closeAll);

const sse = (...frames: unknown[]) =>
  frames.map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`).join('');
const delta = (d: object, finish: unknown) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'x',
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

describe('OpenAI-compatible: finish_reason "" on every chunk (sglang, older Ollama, some gateways)', () => {
  it('a stream cut before its real finish is an interruption, not a complete answer', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hel' }, ''), delta({ content: 'lo' }, '')),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial.content).toBe('Hello');
  });

  it('an error frame before the real finish is the error it says, not the end of the answer', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hel' }, ''), { error: { message: 'overloaded', code: 500 } }, '[DONE]'),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    // The status the upstream's error said (docs/errors.md: ProviderError's `status?`), as its cause's.
    expect((err as StreamInterruptedError).status).toBe(500);
    expect(((err as StreamInterruptedError).cause as { status?: number }).status).toBe(500);
  });

  it('a stream cut with no error said carries no status', async () => {
    const llm = await answeringWith('openai', sse(delta({ content: 'Hel' }, null)), 'text/event-stream');
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).status).toBeUndefined();
  });

  it('the caller sees null until the real finish reason', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hi' }, ''), delta({}, 'stop'), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, 'stop']);
  });

  it('the text "null" is no finish either: a cut stream is an interruption, a reply says null', async () => {
    const cut = await answeringWith(
      'openai',
      sse(delta({ content: 'Hel' }, 'null'), delta({ content: 'lo' }, 'null')),
      'text/event-stream',
    );
    const err = await rejection(collect(cut.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    const reply = {
      id: 'c1',
      object: 'chat.completion',
      created: 1,
      model: 'x',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'null' }],
    };
    const llm = await answeringWith('openai', JSON.stringify(reply), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.finish_reason).toBeNull();
  });
});

describe('OpenAI-compatible: a reply whose fields have the wrong type is malformed, not passed on', () => {
  const reply = (message: object) =>
    JSON.stringify({ id: 'c1', choices: [{ index: 0, message, finish_reason: 'stop' }] });

  it.each([
    ['content a number', { role: 'assistant', content: 42 }],
    ['content an object', { role: 'assistant', content: { text: 'hi' } }],
    ['refusal a number', { role: 'assistant', content: null, refusal: 1 }],
    ['reasoning_content an object', { role: 'assistant', content: 'hi', reasoning_content: {} }],
    ['tool_calls a string', { role: 'assistant', content: null, tool_calls: 'call' }],
  ])('chat(): %s falls back like any malformed reply', async (_, message) => {
    const llm = await answeringWith('openai', reply(message), 'application/json');
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });

  it.each([
    ['content a number', { content: 42 }],
    ['content an object', { content: { text: 'hi' } }],
    ['refusal a number', { refusal: 1 }],
    ['reasoning_content an object', { reasoning_content: {} }],
    ['tool_calls a string', { tool_calls: 'call' }],
  ])('stream(): %s falls back like any malformed frame', async (_, d) => {
    const llm = await answeringWith(
      'openai',
      sse(delta(d, null), delta({}, 'stop'), '[DONE]'),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });
});

describe('OpenAI-compatible: tool call arguments sent as a JSON object (llama.cpp server, early 2026)', () => {
  const call = {
    id: 'call_1',
    type: 'function',
    function: { name: 'weather', arguments: { city: 'Paris' } },
  };

  it('chat() hands them out as the JSON text the types promise', async () => {
    const body = JSON.stringify({
      id: 'c1',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [call] },
          finish_reason: 'tool_calls',
        },
      ],
    });
    const llm = await answeringWith('openai', body, 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.tool_calls?.[0]?.function.arguments).toBe('{"city":"Paris"}');
  });

  it('stream() hands them out as JSON text too', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ tool_calls: [{ index: 0, ...call }] }, null), delta({}, 'tool_calls'), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks[0]?.choices[0]?.delta.tool_calls?.[0]?.function?.arguments).toBe('{"city":"Paris"}');
  });

  // The same server bug (the parsed arguments sent for their text) when the model wrote a number or a boolean.
  it.each([
    ['a number', 5, '5'],
    ['a boolean', true, 'true'],
  ])('%s is handed out as its JSON text too, in chat() and stream()', async (_, args, text) => {
    const scalar = { ...call, function: { name: 'weather', arguments: args } };
    const body = JSON.stringify({
      id: 'c1',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [scalar] },
          finish_reason: 'tool_calls',
        },
      ],
    });
    const res = await (await answeringWith('openai', body, 'application/json')).chat({
      model: 'a/m',
      messages: USER,
    });
    expect(res.choices[0]?.message.tool_calls?.[0]?.function.arguments).toBe(text);
    const llm = await answeringWith(
      'openai',
      sse(delta({ tool_calls: [{ index: 0, ...scalar }] }, null), delta({}, 'tool_calls'), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks[0]?.choices[0]?.delta.tool_calls?.[0]?.function?.arguments).toBe(text);
  });
});

describe('embeddings: a number too large for a float (1e999 parses as Infinity) is a malformed vector', () => {
  it.each([
    ['ollama', '{"model":"m","embeddings":[[0.5,1e999]]}'],
    ['google', '{"embeddings":[{"values":[0.5,1e999]}]}'],
    ['openai', '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,1e999]}]}'],
  ] as const)('%s: the chain falls back instead of handing out Infinity', async (type, body) => {
    const llm = await answeringWith(type, body, 'application/json');
    const err = await rejection(llm.embed({ model: 'a/m', input: ['x'], encoding_format: 'float' }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });
});

describe('Gemini: frequency_penalty and presence_penalty are hints its current models refuse', () => {
  it('are dropped, so the call is answered instead of failing with 400 "Penalty is not enabled"', async () => {
    const raw = await rawUpstream((body, res) => {
      const config = (JSON.parse(body) as { generationConfig?: object }).generationConfig ?? {};
      if ('frequencyPenalty' in config || 'presencePenalty' in config) {
        const error = {
          code: 400,
          message: 'Penalty is not enabled for models/gemini-2.5-flash',
          status: 'INVALID_ARGUMENT',
        };
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
        return;
      }
      const reply = {
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }],
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    const h = await harness({
      upstreams: {},
      providers: { g: { type: 'google', baseUrl: raw.url, apiKey: KEY } },
    });
    const res = await h.llm.chat({
      model: 'g/gemini-2.5-flash',
      messages: USER,
      frequency_penalty: 0.5,
      presence_penalty: 0.25,
    });
    expect(res.choices[0]?.message.content).toBe('Hi');
  });
});

describe('Anthropic: temperature and top_p together', () => {
  it('top_p is left out when temperature is set (Claude 4.5 and later answer 400 to both)', async () => {
    const raw = await rawUpstream((body, res) => {
      const sent = JSON.parse(body) as { temperature?: number; top_p?: number };
      if (sent.temperature !== undefined && sent.top_p !== undefined) {
        const error = {
          type: 'invalid_request_error',
          message: '`temperature` and `top_p` cannot both be specified for this model. Please use only one.',
        };
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ type: 'error', error }));
        return;
      }
      const reply = {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: `t=${sent.temperature} p=${sent.top_p}` }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 1 },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    const h = await harness({
      upstreams: {},
      providers: { c: { type: 'anthropic', baseUrl: raw.url, apiKey: KEY } },
    });
    const both = await h.llm.chat({
      model: 'c/claude-sonnet-4-5',
      messages: USER,
      temperature: 0.2,
      top_p: 0.9,
    });
    expect(both.choices[0]?.message.content).toBe('t=0.2 p=undefined');
    const topP = await h.llm.chat({ model: 'c/claude-sonnet-4-5', messages: USER, top_p: 0.9 });
    expect(topP.choices[0]?.message.content).toBe('t=undefined p=0.9');
  });
});

describe('a success reply carrying "error": null (as some gateways add) is a success', () => {
  it.each([
    [
      'anthropic',
      { type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn', error: null },
    ],
    ['ollama', { message: { role: 'assistant', content: 'Hi' }, done: true, error: null }],
    [
      'openai',
      {
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
        error: null,
      },
    ],
    [
      'google',
      {
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }],
        error: null,
      },
    ],
  ] as const)('%s', async (type, reply) => {
    const llm = await answeringWith(type, JSON.stringify(reply), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
  });
});

describe('Ollama: tool calls without an id (as Ollama sends them)', () => {
  const reply = {
    model: 'm',
    created_at: '2025-01-01T00:00:00Z',
    message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] },
    done: true,
    done_reason: 'stop',
  };

  // Every turn's first call used to be `call_0`: a history that then moves to Anthropic has duplicate tool_use ids,
  // which it refuses with a 400 ("`tool_use` ids must be unique").
  it('get an id unique across replies, in chat() and stream()', async () => {
    const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
    const ids: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await llm.chat({ model: 'a/m', messages: USER });
      ids.push(res.choices[0]?.message.tool_calls?.[0]?.id);
    }
    const streamed = await answeringWith('ollama', `${JSON.stringify(reply)}\n`, 'application/x-ndjson');
    for (let i = 0; i < 2; i++) {
      const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
      ids.push(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])[0]?.id);
    }
    for (const id of ids) expect(id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(4);
  });
});

describe('Anthropic and Ollama: a token count that is not a count (1e999 parses as Infinity, or negative)', () => {
  /** JSON text of `v` with every "INF" string written as 1e999, which JSON.parse reads as Infinity. */
  const json = (v: unknown) => JSON.stringify(v).replaceAll('"INF"', '1e999');
  const usageOf = (chunks: { usage?: unknown }[]) => chunks.find((c) => c.usage)?.usage;

  it.each([
    ['input Infinity', { input_tokens: 'INF', output_tokens: 2 }],
    ['output negative', { input_tokens: 3, output_tokens: -2 }],
  ])('Anthropic, %s: no usage, as for a count that is not a number', async (_, usage) => {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage,
    };
    const llm = await answeringWith('anthropic', json(message), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
    expect(res.usage).toBeUndefined();
    const events = [
      { type: 'message_start', message: { id: 'msg_1', usage } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' } },
      { type: 'message_stop' },
    ];
    const body = events.map((e) => `event: ${e.type}\ndata: ${json(e)}\n\n`).join('');
    const streamed = await answeringWith('anthropic', body, 'text/event-stream');
    expect(usageOf(await collect(streamed.stream({ model: 'a/m', messages: USER })))).toBeUndefined();
  });

  it.each([
    ['prompt Infinity', { prompt_eval_count: 'INF', eval_count: 4 }, { p: 0, c: 4 }],
    ['eval negative', { prompt_eval_count: 3, eval_count: -4 }, { p: 3, c: 0 }],
    ['both not counts', { prompt_eval_count: 'INF', eval_count: -4 }, undefined],
  ])('Ollama, %s: counted as a count that is not a number', async (_, counts, want) => {
    const reply = {
      model: 'm',
      created_at: '2025-01-01T00:00:00Z',
      message: { role: 'assistant', content: 'Hi' },
      done: true,
      done_reason: 'stop',
      ...counts,
    };
    const usage = want && { prompt_tokens: want.p, completion_tokens: want.c, total_tokens: want.p + want.c };
    const llm = await answeringWith('ollama', json(reply), 'application/json');
    expect((await llm.chat({ model: 'a/m', messages: USER })).usage).toEqual(usage);
    const streamed = await answeringWith('ollama', `${json(reply)}\n`, 'application/x-ndjson');
    expect(usageOf(await collect(streamed.stream({ model: 'a/m', messages: USER })))).toEqual(usage);
  });
});

describe('Anthropic: tool call ids from other providers', () => {
  it("ids outside Anthropic's pattern (Kimi's `functions.get_weather:0`) are rewritten in step, not refused", async () => {
    const sent: { id?: string; tool_use_id?: string }[] = [];
    const raw = await rawUpstream((body, res) => {
      const { messages } = JSON.parse(body) as {
        messages: { content: { id?: string; tool_use_id?: string }[] }[];
      };
      for (const m of messages) for (const b of m.content) if (b.id ?? b.tool_use_id) sent.push(b);
      const bad = sent.find((b) => !/^[a-zA-Z0-9_-]+$/.test(b.id ?? b.tool_use_id ?? ''));
      if (bad) {
        const error = {
          type: 'invalid_request_error',
          message: "tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
        };
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ type: 'error', error }));
        return;
      }
      const reply = { type: 'message', content: [{ type: 'text', text: 'Sunny' }], stop_reason: 'end_turn' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    const h = await harness({
      upstreams: {},
      providers: { c: { type: 'anthropic', baseUrl: raw.url, apiKey: KEY } },
    });
    const id = 'functions.get_weather:0';
    const res = await h.llm.chat({
      model: 'c/claude',
      messages: [
        ...USER,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: id, content: 'sunny' },
      ],
    });
    expect(res.choices[0]?.message.content).toBe('Sunny');
    expect(sent[0]?.id).toBe(sent[1]?.tool_use_id);
  });
});

describe('Gemini 3: a tool call in the history that carries no thought signature (made by another provider)', () => {
  it.each(['gemini-3-flash-preview', 'models/gemini-3-flash-preview'])(
    'is sent with the signature Google documents for such calls, not refused with a 400 (%s)',
    async (model) => {
      const turns: { role: string; parts: { functionCall?: object; thoughtSignature?: string }[] }[][] = [];
      const raw = await rawUpstream((body, res) => {
        const { contents } = JSON.parse(body) as { contents: (typeof turns)[number] };
        turns.push(contents);
        const unsigned = contents.some(
          (c) =>
            c.role === 'model' &&
            c.parts.some((p) => p.functionCall) &&
            !c.parts.some((p) => p.thoughtSignature),
        );
        if (unsigned) {
          const error = {
            code: 400,
            message: 'Function call is missing a thought_signature in functionCall parts.',
            status: 'INVALID_ARGUMENT',
          };
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
          return;
        }
        const reply = {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Sunny' }] }, finishReason: 'STOP' }],
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
      const h = await harness({
        upstreams: {},
        providers: { g: { type: 'google', baseUrl: raw.url, apiKey: KEY } },
      });
      const call = (id: string, name: string) => ({
        id,
        type: 'function' as const,
        function: { name, arguments: '{}' },
      });
      const res = await h.llm.chat({
        model: `g/${model}`,
        messages: [
          ...USER,
          { role: 'assistant', content: null, tool_calls: [call('c1', 'weather'), call('c2', 'time')] },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'c2', content: 'noon' },
        ],
      });
      expect(res.choices[0]?.message.content).toBe('Sunny');
      // only the first call of the turn carries it, as in a parallel call Gemini made itself
      expect(turns[0]?.[1]?.parts.map((p) => p.thoughtSignature)).toEqual([
        'skip_thought_signature_validator',
        undefined,
      ]);
    },
  );
});

describe('Anthropic: an empty assistant message in the history', () => {
  it('is left out (the API refuses a message without content), and the turns around it merge', async () => {
    let sent: { role: string; content: unknown[] }[] = [];
    const raw = await rawUpstream((body, res) => {
      sent = (JSON.parse(body) as { messages: typeof sent }).messages;
      if (sent.some((m) => m.content.length === 0)) {
        const error = {
          type: 'invalid_request_error',
          message:
            'messages.1: all messages must have non-empty content except for the optional final assistant message',
        };
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ type: 'error', error }));
        return;
      }
      const reply = { type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
    const h = await harness({
      upstreams: {},
      providers: { c: { type: 'anthropic', baseUrl: raw.url, apiKey: KEY } },
    });
    const res = await h.llm.chat({
      model: 'c/claude',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'b' },
      ],
    });
    expect(res.choices[0]?.message.content).toBe('Hi');
    expect(sent).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    ]);
  });
});

describe('Gemini embeddings: more inputs than one batchEmbedContents request takes (100)', () => {
  it('are sent in batches of 100 and answered in input order', async () => {
    const sizes: number[] = [];
    const raw = await rawUpstream((body, res) => {
      const { requests } = JSON.parse(body) as { requests: { content: { parts: { text: string }[] } }[] };
      sizes.push(requests.length);
      if (requests.length > 100) {
        const error = {
          code: 400,
          message: 'At most 100 requests can be in one batch.',
          status: 'INVALID_ARGUMENT',
        };
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
        return;
      }
      const embeddings = requests.map((r) => ({ values: [Number(r.content.parts[0]?.text)] }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ embeddings }));
    });
    const h = await harness({
      upstreams: {},
      providers: { g: { type: 'google', baseUrl: raw.url, apiKey: KEY } },
    });
    const input = Array.from({ length: 250 }, (_, i) => String(i));
    const res = await h.llm.embed({ model: 'g/gemini-embedding-001', input });
    expect(sizes).toEqual([100, 100, 50]);
    expect(res.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(res.data.map((d) => d.embedding[0])).toEqual(input.map(Number));
  });
});

describe('OpenAI-compatible: a usage frame without `choices` (TGI leaves empty fields out)', () => {
  const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
  const body = sse(
    delta({ content: 'Hi' }, null),
    delta({}, 'stop'),
    { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'x', usage },
    '[DONE]',
  );

  it('is the usage chunk the caller asked for, not an interruption of a complete answer', async () => {
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
  });

  it('is left out when the caller did not ask for usage', async () => {
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, 'stop']);
  });
});

describe('OpenAI-compatible: finish_reason "abort" (vLLM ends a request its engine aborted this way, then [DONE])', () => {
  it('stream(): a cut answer is an interruption, not complete', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hel' }, null), delta({}, 'abort'), '[DONE]'),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
  });

  it('chat(): the reply is an upstream error, and the chain falls back', async () => {
    const body = JSON.stringify({
      id: 'c1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hel' }, finish_reason: 'abort' }],
    });
    const llm = await answeringWith('openai', body, 'application/json');
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });
});

describe('a reply that is not HTTP at all (an invalid status line or header)', () => {
  /** A TCP server on 127.0.0.1 that answers every request with `bytes`, then closes. */
  async function garbage(bytes: string): Promise<string> {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(bytes));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }

  it.each([
    ['an invalid status line', `HTTP/1.1 2x0 ${KEY}\r\n\r\n`],
    ['an invalid header', `HTTP/1.1 200 OK\r\nbad header ${KEY}\r\n\r\n`],
    ['invalid chunked framing', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz${KEY}\r\n`],
  ])('%s is a bad response (ProviderResponseError), and the chain falls back', async (_, bytes) => {
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: await garbage(bytes), apiKey: KEY } },
      aliases: { 'mana/x': ['a/m', 'b/m'] },
    });
    const res = await h.llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts.map((a) => [a.target, a.reason])).toEqual([
      ['a/m', 'bad-response'],
      ['b/m', 'ok'],
    ]);
    const err = (await rejection(h.llm.chat({ model: 'a/m', messages: USER }))) as NoHealthyProviderError;
    const cause = err.attempts[0]?.error;
    expect(cause).toBeInstanceOf(ProviderResponseError);
    expect(cause?.message).toMatch(
      /^a\/m POST \/v1\/chat\/completions: malformed HTTP reply: Response does not match the HTTP\/1.1 protocol \(Invalid/,
    );
    expect(JSON.stringify(err)).not.toContain('SECRET');
  });
});

describe('OpenAI-compatible: a stream request answered 200 with a JSON error body instead of an event stream', () => {
  const err429 = { error: { message: 'Rate limit reached', type: 'rate_limit_exceeded', code: null } };
  const err401 = {
    error: { message: 'Incorrect API key', type: 'invalid_request_error', code: 'invalid_api_key' },
  };

  it.each([
    ['a rate limit', err429, 'application/json', ProviderRateLimitError, 'rate-limited'],
    ['a wrong key', err401, 'application/json; charset=utf-8', ProviderAuthError, 'auth'],
    [
      'a rate limit, labelled as a stream',
      err429,
      'text/event-stream',
      ProviderRateLimitError,
      'rate-limited',
    ],
  ])('%s is classified like the same error in a frame', async (_, body, type, cls, reason) => {
    const llm = await answeringWith('openai', `\n${JSON.stringify(body)}\n`, type);
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    const cause = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(cause).toBeInstanceOf(cls);
    if (err instanceof NoHealthyProviderError) expect(err.attempts[0]?.reason).toBe(reason);
  });

  it('a whole chat completion where a stream was asked for is a bad response', async () => {
    const reply = {
      id: 'c1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
    };
    const llm = await answeringWith('openai', JSON.stringify(reply), 'application/json');
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    const cause = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(cause).toBeInstanceOf(ProviderResponseError);
  });
});

describe('OpenAI-compatible: llama.cpp server (before September 2025) sends a stream error as an `error:` line', () => {
  const overflow = {
    code: 400,
    message: 'the request exceeds the available context size. try increasing the context size',
    type: 'invalid_request_error',
  };

  it('before any content: the error it says, not an empty complete answer', async () => {
    const llm = await answeringWith(
      'openai',
      `error: ${JSON.stringify({ code: 503, message: 'Loading model', type: 'unavailable_error' })}\n\ndata: [DONE]\n\n`,
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    const cause = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(cause).toMatchObject({ status: 503 });
  });

  it('after some content: an interruption, not a complete answer', async () => {
    const llm = await answeringWith(
      'openai',
      `${sse(delta({ content: 'Hel' }, null))}error: ${JSON.stringify(overflow)}\n\ndata: [DONE]\n\n`,
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial.content).toBe('Hel');
  });
});

describe('OpenAI itself: max_tokens goes out as max_completion_tokens (its reasoning models refuse max_tokens)', () => {
  const reply = JSON.stringify({
    id: 'c1',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
  });

  it('to the well-known `openai` provider, and only to it', async () => {
    const bodies: Record<string, unknown>[] = [];
    const raw = await rawUpstream((body, res) => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      const streamed = bodies.at(-1)?.stream === true;
      if (!streamed) return void res.writeHead(200, { 'content-type': 'application/json' }).end(reply);
      res
        .writeHead(200, { 'content-type': 'text/event-stream' })
        .end(sse(delta({ content: 'Hi' }, 'stop'), '[DONE]'));
    });
    const h = await harness({
      upstreams: {},
      providers: {
        openai: { baseUrl: raw.url, apiKey: KEY },
        local: { type: 'openai', baseUrl: raw.url, apiKey: KEY },
      },
    });
    await h.llm.chat({ model: 'openai/o4-mini', messages: USER, max_tokens: 50 });
    await collect(h.llm.stream({ model: 'openai/gpt-5', messages: USER, max_tokens: 60 }));
    await h.llm.chat({ model: 'openai/gpt-4.1', messages: USER });
    await h.llm.chat({ model: 'local/qwen', messages: USER, max_tokens: 70 });
    expect(bodies.map((b) => [b.max_tokens, b.max_completion_tokens])).toEqual([
      [undefined, 50],
      [undefined, 60],
      [undefined, undefined],
      [70, undefined],
    ]);
  });
});

describe('OpenAI-compatible: the finish reason in a choice without a delta (Azure, some gateways)', () => {
  const finish = (f: unknown, d?: unknown) => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'x',
    choices: [{ index: 0, finish_reason: f, ...(d === undefined ? {} : { delta: d }) }],
  });

  it.each([
    ['no delta', undefined],
    ['delta null', null],
  ])('%s: the answer is complete, with an empty delta', async (_, d) => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hi' }, null), finish('stop', d), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, 'stop']);
    expect(chunks.at(-1)?.choices[0]?.delta).toEqual({});
  });

  it('a choice with neither a delta nor a finish reason before the finish is still malformed', async () => {
    const llm = await answeringWith(
      'openai',
      sse(delta({ content: 'Hi' }, null), finish(null), delta({}, 'stop'), '[DONE]'),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(err).toBeInstanceOf(StreamInterruptedError);
  });
});

describe("Azure's Asynchronous Filter: content-filter annotations between the tokens", () => {
  const safe = { hate: { filtered: false, severity: 'safe' } };
  const annotation = (check: number) => ({
    id: '',
    object: '',
    created: 0,
    model: '',
    choices: [
      {
        index: 0,
        finish_reason: null,
        content_filter_results: safe,
        content_filter_offsets: { check_offset: check, start_offset: 44, end_offset: 198 },
      },
    ],
    usage: null,
  });

  it('an annotation before the finish carries nothing for the caller: the answer is complete', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        { id: '', object: '', created: 0, model: '', prompt_annotations: [], choices: [], usage: null },
        delta({ role: 'assistant' }, null),
        delta({ content: 'Color' }, null),
        annotation(44),
        delta({ content: ' is' }, null),
        delta({}, 'stop'),
        annotation(506),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(textOf(chunks)).toBe('Color is');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('OpenAI-compatible: reasoning under both names (`reasoning` and `reasoning_content`, as vLLM sends while renaming)', () => {
  it('callers get reasoning_content as sent, and no `reasoning` field', async () => {
    const message = { role: 'assistant', content: '42', reasoning: 'other', reasoning_content: 'think' };
    const reply = { choices: [{ index: 0, message, finish_reason: 'stop' }] };
    const llm = await answeringWith('openai', JSON.stringify(reply), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: '42', reasoning_content: 'think' });
    const streamed = await answeringWith(
      'openai',
      sse(delta({ reasoning: 'other', reasoning_content: 'think' }, null), delta({}, 'stop'), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
    expect(chunks[0]?.choices[0]?.delta).toEqual({ reasoning_content: 'think' });
  });
});

describe('a stream body that starts with a byte order mark (some Windows-hosted gateways)', () => {
  it('SSE: the first frame is read, not lost as an unknown field', async () => {
    const llm = await answeringWith(
      'openai',
      `\uFEFF${sse(delta({ content: 'Hi' }, null), delta({}, 'stop'), '[DONE]')}`,
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi');
  });
});

describe('a stream request answered with a JSON error after a byte order mark', () => {
  it('is the error it carries (a rate limit), not a malformed event stream', async () => {
    const error = { message: 'Rate limit reached', code: 429 };
    const llm = await answeringWith('openai', `\uFEFF${JSON.stringify({ error })}`, 'application/json');
    const err = (await rejection(
      collect(llm.stream({ model: 'a/m', messages: USER })),
    )) as NoHealthyProviderError;
    expect(err.attempts.map((a) => a.reason)).toEqual(['rate-limited']);
  });
});

describe("Gemini's stream answered with a JSON list of replies (no alt=sse) holding an error", () => {
  it('is the error its first reply carries (a rate limit), not a malformed event stream', async () => {
    const error = { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' };
    const llm = await answeringWith('google', JSON.stringify([{ error }]), 'application/json');
    const err = (await rejection(
      collect(llm.stream({ model: 'a/gemini-2.0-flash', messages: USER })),
    )) as NoHealthyProviderError;
    expect(err.attempts.map((a) => a.reason)).toEqual(['rate-limited']);
  });
});

describe('Anthropic: the model list pages on', () => {
  it("an after_id with '&', '#' or '=' is sent URL-encoded, so the next page is the one asked for", async () => {
    const urls: string[] = [];
    const raw = await rawUpstream((_, res) => {
      const url = res.req.url ?? '';
      urls.push(url);
      const after = new URL(url, 'http://x').searchParams.get('after_id');
      const page =
        after === null
          ? { data: [{ type: 'model', id: 'one' }], has_more: true, last_id: 'a&limit=1#b=c d' }
          : { data: [{ type: 'model', id: `after ${after}` }], has_more: false };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    const h = await harness({
      upstreams: {},
      providers: { c: { type: 'anthropic', baseUrl: raw.url, apiKey: KEY } },
    });
    const list = await h.llm.models();
    expect(list.data.map((m) => m.id)).toEqual(['c/one', 'c/after a&limit=1#b=c d']);
    expect(urls).toHaveLength(2);
    expect(urls[1]).not.toContain('#');
  });
});

describe('OpenAI-compatible stream tool calls without an id or an index (some gateways)', () => {
  it('the first delta of call 0 without an id gets one; two calls in one delta without index are 0 and 1', async () => {
    const call = (name: string) => ({ type: 'function', function: { name, arguments: '{}' } });
    const llm = await answeringWith(
      'openai',
      sse(delta({ tool_calls: [call('a'), call('b')] }, null), delta({}, 'tool_calls'), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks[0]?.choices[0]?.delta.tool_calls ?? [];
    expect(calls.map((c) => [c.index, c.function?.name])).toEqual([
      [0, 'a'],
      [1, 'b'],
    ]);
    for (const c of calls) expect(c.id).toMatch(/\S/);
  });
});

describe('Azure: a content-filter choice without a delta after the finish, in the frame with the usage', () => {
  it('is dropped: the usage reaches the caller and the answer is complete', async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const filter = { index: 0, finish_reason: null, content_filter_results: { hate: { filtered: false } } };
    const llm = await answeringWith(
      'openai',
      sse(
        delta({ content: 'Hi' }, null),
        delta({}, 'stop'),
        { id: 'c1', choices: [filter], usage },
        '[DONE]',
      ),
      'text/event-stream',
    );
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(textOf(chunks)).toBe('Hi');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
  });
});

describe('OpenAI-compatible: [DONE] while the upstream keeps the body open (a proxy that never closes)', () => {
  it('the stream ends at [DONE] and the request is closed, not left holding a connection', async () => {
    const up = await rawUpstream((_, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse(delta({ content: 'Hi' }, null), delta({}, 'stop'), '[DONE]'));
    });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
    });
    const chunks = await collect(h.llm.stream({ model: 'a/m', messages: USER }));
    expect(textOf(chunks)).toBe('Hi');
    await waitFor(() => up.closedByClient === 1, 'the held-open request closed');
  });
});

describe('OpenAI-compatible stream ids, timestamps and usage as servers send them', () => {
  it("a server's created is kept; an empty id gets a generated one; a usage callers cannot sum is left out", async () => {
    const frame = (d: object, finish: unknown, extra: object = {}) => ({
      ...delta(d, finish),
      id: '',
      created: 1234,
      ...extra,
    });
    const usage = { prompt_tokens: -1, completion_tokens: 2, total_tokens: 1 };
    const llm = await answeringWith(
      'openai',
      sse(frame({ content: 'Hi' }, null), frame({}, 'stop', { usage }), '[DONE]'),
      'text/event-stream',
    );
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(textOf(chunks)).toBe('Hi');
    for (const c of chunks) {
      expect(c.id).toMatch(/^chatcmpl-\S/);
      expect(c.created).toBe(1234);
      expect(c.usage).toBeUndefined();
    }
  });
});

// Third-pass mutation audit (session 18): OpenAI-compatible streams and replies.
const frame = (choices: unknown[], usage: unknown = null) => ({
  id: 'c1',
  created: 1,
  model: 'x',
  choices,
  usage,
});
const annotationOf = (index: number) => ({
  index,
  finish_reason: null,
  content_filter_results: { hate: { filtered: false, severity: 'safe' } },
  content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 5 },
});

describe('Azure content-filter annotations the stream cannot skip whole', () => {
  it("an annotation beside another choice's text never drops that text: the frame is malformed", async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 0, delta: { content: 'A' }, finish_reason: null }]),
        frame([annotationOf(0), { index: 1, delta: { content: 'B' }, finish_reason: null }]),
        frame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
        frame([{ index: 1, delta: {}, finish_reason: 'stop' }]),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(String((err as Error).message)).toContain('no delta');
  });

  it('an annotation frame carrying usage never drops the usage: the frame is malformed', async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 0, delta: { content: 'A' }, finish_reason: null }]),
        frame([annotationOf(0)], usage),
        frame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect(String((err as Error).message)).toContain('no delta');
  });
});

describe('OpenAI-compatible: a stream whose one choice is numbered 1 (no choice 0 ever)', () => {
  it('is complete at its finish reason', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 1, delta: { content: 'Hi' }, finish_reason: null }]),
        frame([{ index: 1, delta: {}, finish_reason: 'stop' }]),
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(textOf(chunks)).toBe('Hi');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('OpenAI-compatible: n = 2, choice 0 finished before choice 1 first appears, no [DONE]', () => {
  it('is complete once choice 1 finishes', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 0, delta: { content: 'A' }, finish_reason: 'stop' }]),
        frame([{ index: 1, delta: { content: 'B' }, finish_reason: null }]),
        frame([{ index: 1, delta: {}, finish_reason: 'stop' }]),
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('AB');
  });
});

describe('OpenAI-compatible: Mistral thinking parts beside a reasoning_content text', () => {
  it('the reasoning is the text followed by the parts, not the parts alone', async () => {
    const content = [
      { type: 'thinking', thinking: [{ type: 'text', text: 'b' }] },
      { type: 'text', text: 'c' },
    ];
    const message = { role: 'assistant', content, reasoning_content: 'a' };
    const reply = { choices: [{ index: 0, message, finish_reason: 'stop' }] };
    const llm = await answeringWith('openai', JSON.stringify(reply), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message).toMatchObject({ content: 'c', reasoning_content: 'ab' });
  });
});

describe('OpenAI-compatible stream: a tool-call delta whose arguments are null', () => {
  it('reaches callers without an arguments field (never null to append)', async () => {
    const call = (args: unknown) => ({ index: 0, id: 'call_1', function: { name: 'f', arguments: args } });
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 0, delta: { tool_calls: [call(null)] }, finish_reason: null }]),
        frame([
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: '{}' } }] },
            finish_reason: 'tool_calls',
          },
        ]),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const first = chunks[0]?.choices[0]?.delta.tool_calls?.[0];
    expect(first?.function).toEqual({ name: 'f' });
  });
});

describe('OpenAI-compatible reply: a tool call whose id is ""', () => {
  it('gets a new call_ id the caller can answer', async () => {
    const tool_calls = [{ id: '', type: 'function', function: { name: 'f', arguments: '{}' } }];
    const message = { role: 'assistant', content: null, tool_calls };
    const reply = { choices: [{ index: 0, message, finish_reason: 'tool_calls' }] };
    const llm = await answeringWith('openai', JSON.stringify(reply), 'application/json');
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.tool_calls?.[0]?.id).toMatch(/^call_./);
  });
});

// Third-pass mutation audit (session 18): Ollama streams and embeddings.
describe('Ollama stream: lines after the done line in the same read', () => {
  it('are ignored: the finish chunk is the last', async () => {
    const line = (o: object) =>
      `${JSON.stringify({ model: 'm', created_at: '2024-01-01T00:00:00Z', ...o })}\n`;
    const body =
      line({ message: { role: 'assistant', content: 'Hi' }, done: false }) +
      line({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop' }) +
      line({ message: { role: 'assistant', content: 'extra' }, done: false });
    const llm = await answeringWith('ollama', body, 'application/x-ndjson');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(textOf(chunks)).toBe('Hi');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('Ollama stream: usage asked for, but the done line carries no counts', () => {
  it('ends with the finish chunk, no usage chunk without usage', async () => {
    const line = (o: object) =>
      `${JSON.stringify({ model: 'm', created_at: '2024-01-01T00:00:00Z', ...o })}\n`;
    const body =
      line({ message: { role: 'assistant', content: 'Hi' }, done: false }) +
      line({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop' });
    const llm = await answeringWith('ollama', body, 'application/x-ndjson');
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('Ollama embed: an empty vector', () => {
  it('is a malformed reply, not a vector of no dimensions', async () => {
    const llm = await answeringWith(
      'ollama',
      JSON.stringify({ model: 'm', embeddings: [[]] }),
      'application/json',
    );
    const err = await rejection(llm.embed({ model: 'a/m', input: ['x'] }));
    expect((err as { cause?: unknown }).cause).toBeInstanceOf(ProviderResponseError);
  });
});
