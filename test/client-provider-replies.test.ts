import { afterEach, describe, expect, it } from 'vitest';
import {
  createManaLLM,
  type Embeddings,
  NoHealthyProviderError,
  type ProviderAdapter,
  ProviderBlockedError,
  ProviderRateLimitError,
  ProviderResponseError,
} from '../src/index.js';
import { closeAll, collect, harness, KEY, rejection, track, USER } from './helpers/client.js';
import { answeringWith, rawUpstream } from './helpers/raw-upstream.js';

// Upstream replies whose fields are of the wrong type or value, read through the public API over real local HTTP
// (docs/choices.md, "Provider replies").

afterEach(closeAll);

const json = 'application/json';
/** An Anthropic stream event; `raw` replaces `"RAW"` in its JSON (for numbers JSON.stringify cannot write). */
const ev = (type: string, rest: object, raw?: string) => {
  const data = JSON.stringify({ type, ...rest });
  return `event: ${type}\ndata: ${raw === undefined ? data : data.replace('"RAW"', raw)}\n\n`;
};

describe('Anthropic stream: a bad count in message_delta', () => {
  it.each(['-1', '1.5', '1e999', '"7"'])(
    "output_tokens %s is read as missing: message_start's count stands",
    async (raw) => {
      const body = [
        ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 5, output_tokens: 2 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi' } }),
        ev('content_block_stop', { index: 0 }),
        ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 'RAW' } }, raw),
        ev('message_stop', {}),
      ].join('');
      const llm = await answeringWith('anthropic', body, 'text/event-stream');
      const chunks = await collect(
        llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
      );
      expect(chunks.find((c) => c.usage)?.usage).toEqual({
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
      });
    },
  );
});

describe('a tool call with an empty id', () => {
  // As an OpenAI-compatible one (docs/choices.md): the caller answers the call by its id, so it gets a new one.
  const claude = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'tool_use', id: '', name: 'weather', input: {} }],
    stop_reason: 'tool_use',
    usage: { input_tokens: 1, output_tokens: 1 },
  };
  const gemini = {
    candidates: [
      {
        content: { role: 'model', parts: [{ functionCall: { id: '', name: 'weather', args: {} } }] },
        finishReason: 'STOP',
      },
    ],
  };
  const ollama = {
    model: 'm',
    created_at: '2026-01-01T00:00:00Z',
    message: {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: '', function: { name: 'weather', arguments: {} } }],
    },
    done: true,
    done_reason: 'stop',
  };
  const claudeStream = [
    ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
    ev('content_block_start', {
      index: 0,
      content_block: { type: 'tool_use', id: '', name: 'weather', input: {} },
    }),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 1 } }),
    ev('message_stop', {}),
  ].join('');

  const openai = {
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: '', type: 'function', function: { name: 'weather', arguments: '{}' } }],
        },
        finish_reason: 'tool_calls',
      },
    ],
  };
  const openaiStream = `data: ${JSON.stringify({
    choices: [{ index: 0, delta: openai.choices[0]?.message, finish_reason: 'tool_calls' }],
  })}\n\ndata: [DONE]\n\n`;

  it.each([
    ['anthropic', claude],
    ['google', gemini],
    ['ollama', ollama],
    ['openai', openai],
  ] as const)('%s: chat() gives it a new unique call_ id', async (type, body) => {
    const llm = await answeringWith(type, JSON.stringify(body), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.tool_calls?.[0]?.id).toMatch(/^call_[0-9a-f]{24}$/);
  });

  it.each([
    ['anthropic', claudeStream, 'text/event-stream'],
    ['google', `data: ${JSON.stringify(gemini)}\n\n`, 'text/event-stream'],
    ['ollama', `${JSON.stringify(ollama)}\n`, 'application/x-ndjson'],
    ['openai', openaiStream, 'text/event-stream'],
  ] as const)('%s: stream() gives it a new unique call_ id', async (type, body, contentType) => {
    const llm = await answeringWith(type, body, contentType);
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]?.id).toMatch(/^call_[0-9a-f]{24}$/);
  });
});

describe('OpenAI-compatible stream: tool-call deltas', () => {
  const frame = (call: object, finish: string | null = null) =>
    `data: ${JSON.stringify({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { tool_calls: [call] }, finish_reason: finish }],
    })}\n\n`;
  const start = { index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } };

  it('calls in one delta without an index (as some servers send parallel calls) are told apart by position', async () => {
    const second = { id: 'call_2', type: 'function', function: { name: 'time', arguments: '{}' } };
    const { index: _, ...first } = start;
    const body = `data: ${JSON.stringify({
      choices: [{ index: 0, delta: { tool_calls: [first, second] }, finish_reason: 'tool_calls' }],
    })}\n\ndata: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((t) => [t.index, t.id])).toEqual([
      [0, 'call_1'],
      [1, 'call_2'],
    ]);
  });

  it('frames with an empty id get one id of ours, every chunk the same', async () => {
    const frames = [{ content: 'Hi' }, {}].map(
      (delta, i) =>
        `data: ${JSON.stringify({ id: '', choices: [{ index: 0, delta, finish_reason: i === 1 ? 'stop' : null }] })}\n\n`,
    );
    const llm = await answeringWith('openai', `${frames.join('')}data: [DONE]\n\n`, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks[0]?.id).toMatch(/^chatcmpl-./);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('a delta with function: null is read as one without a function', async () => {
    const body = `${frame(start)}${frame({ index: 0, function: null }, 'tool_calls')}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((t) => t.function)).toEqual([{ name: 'weather', arguments: '' }, undefined]);
  });

  // Callers index their calls by it; a missing one is the call's position (as an embedding's index is).
  it.each([[-1], [1.5], ['1'], [{}]])(
    'a tool-call index %j is a malformed reply, so the chain falls back',
    async (index) => {
      const body = `${frame({ ...start, index }, 'tool_calls')}data: [DONE]\n\n`;
      const llm = await answeringWith('openai', body, 'text/event-stream');
      const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
      expect(err).toBeInstanceOf(NoHealthyProviderError);
      expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
    },
  );

  it('a tool-call index of 1e999 is a malformed reply too', async () => {
    const body = `${frame({ ...start, index: 'RAW' }, 'tool_calls').replace('"RAW"', '1e999')}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect((err as NoHealthyProviderError).cause).toBeInstanceOf(ProviderResponseError);
  });

  it.each([[undefined], [null]])("a tool-call index %j is the call's position", async (index) => {
    const body = `${frame({ ...start, index }, 'tool_calls')}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.index)).toEqual([0]);
  });
});

describe('models(): a list entry without a model name', () => {
  // Every adapter skips it and lists the others (a careful user expects them); a list that is not one is malformed.
  const bad = [{}, { id: 5, name: 5 }, null, 'x', { id: '', name: '' }];
  it.each([
    ['openai', { object: 'list', data: [{ id: 'one' }, ...bad, { id: 'two' }] }],
    ['anthropic', { data: [{ id: 'one' }, ...bad, { id: 'two' }], has_more: false }],
    ['google', { models: [{ name: 'models/one' }, ...bad, { name: 'models/' }, { name: 'models/two' }] }],
    ['ollama', { models: [{ name: 'one' }, ...bad, { model: 'two' }] }],
  ] as const)('%s: is skipped, the others are listed', async (type, body) => {
    const llm = await answeringWith(type, JSON.stringify(body), json);
    const list = await llm.models();
    expect(list.data.map((m) => m.id)).toEqual(['a/one', 'a/two']);
  });
});

describe('an in-band error nested deeper than JSON.stringify can walk', () => {
  // 10,000 levels: a few tens of KB, well within the reply bound; JSON.stringify throws a RangeError on it.
  const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  it.each([
    ['openai', `{"error":{"code":429,"message":"slow down","details":${deep}}}`, json],
    [
      'anthropic',
      `{"type":"error","error":{"type":"rate_limit_error","message":"slow down","x":${deep}}}`,
      json,
    ],
    ['openai', `{"error":{"code":"rate_limit_exceeded","message":${deep}}}`, json],
    [
      'anthropic',
      `event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","details":${deep}}}\n\n`,
      'text/event-stream',
    ],
  ] as const)('%s: is still the rate limit it says %#', async (type, body, contentType) => {
    const llm = await answeringWith(type, body, contentType);
    const call =
      contentType === json
        ? llm.chat({ model: 'a/m', messages: USER })
        : collect(llm.stream({ model: 'a/m', messages: USER }));
    const err = (await rejection(call)) as NoHealthyProviderError;
    expect(err.cause).toBeInstanceOf(ProviderRateLimitError);
    expect((err.cause as Error).message.length).toBeLessThan(600);
  });
});

describe("a custom adapter's embeddings", () => {
  // As every built-in adapter's (docs/choices.md): a caller can only use one dimension for a whole call.
  const llmAnswering = (...vectors: unknown[]) => {
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        throw new Error('unused');
      },
      embed: async () =>
        ({
          object: 'list',
          data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
          model: 'm',
          usage: { prompt_tokens: 0, total_tokens: 0 },
        }) as Embeddings,
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    return track(
      createManaLLM({
        aliases: { aliases: { 'mana/e': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
  };

  it.each([
    ['an empty vector', [[]]],
    ['vectors of different lengths', [[0.5, 1], [0.5]]],
    ['an item without a vector', [[0.5], undefined]],
    ['no vector at all', [null, {}]],
  ])('with %s is a malformed reply', async (_, vectors) => {
    const llm = llmAnswering(...vectors);
    const err = (await rejection(
      llm.embed({ model: 'mana/e', input: ['x', 'y'] }),
    )) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.cause).toBeInstanceOf(ProviderResponseError);
  });

  it('of one length is served', async () => {
    const res = await llmAnswering([0.5, 1], [1, 0.5]).embed({ model: 'mana/e', input: ['x', 'y'] });
    expect(res.data.map((d) => d.embedding)).toEqual([
      [0.5, 1],
      [1, 0.5],
    ]);
  });
});

describe('OpenAI-compatible stream: an array where a tool call or its function goes, and ids', () => {
  const frame = (calls: unknown[], finish: string | null = null) =>
    `data: ${JSON.stringify({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { tool_calls: calls }, finish_reason: finish }],
    })}\n\n`;
  const start = { index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '' } };

  it.each([
    ['function', { index: 0, function: [] }],
    ['call', []],
  ])('an array as the %s is a malformed reply', async (_, call) => {
    const body = `${frame([call], 'tool_calls')}data: [DONE]\n\n`;
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const err = (await rejection(collect(llm.stream({ model: 'a/m', messages: USER })))) as Error;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(((err as NoHealthyProviderError).cause as Error).message).toContain('malformed tool call delta');
  });

  it('a call whose first delta has an empty id (or none) gets a new one there; later deltas are left as sent', async () => {
    const args = (index: number, a: string) => ({ index, id: '', function: { arguments: a } });
    const body =
      frame([{ ...start, id: '' }]) +
      frame([args(0, '{}')]) +
      frame([{ index: 1, type: 'function', function: { name: 'time', arguments: '' } }]) +
      frame([{ index: 1, function: { arguments: '{}' } }], 'tool_calls') +
      'data: [DONE]\n\n';
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const ids = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.id);
    expect(ids).toEqual([
      expect.stringMatching(/^call_[0-9a-f]{24}$/),
      '',
      expect.stringMatching(/^call_/),
      undefined,
    ]);
    expect(ids[0]).not.toBe(ids[2]);
  });
});

describe('Anthropic: stop_reason model_context_window_exceeded (the answer filled the context window)', () => {
  it('is finish_reason "length", as max_tokens is, in chat() and stream()', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'model_context_window_exceeded',
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    expect((await llm.chat({ model: 'a/m', messages: USER })).choices[0]?.finish_reason).toBe('length');
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi' } }),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'model_context_window_exceeded' } }),
      ev('message_stop', {}),
    ].join('');
    const streamed = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });
});

describe('Anthropic: stop_reason stop_sequence and pause_turn (docs/choices.md)', () => {
  for (const stop of ['stop_sequence', 'pause_turn', 'end_turn'])
    it(`${stop} is finish_reason "stop" in chat() and stream()`, async () => {
      const reply = {
        id: 'msg_1',
        type: 'message',
        content: [{ type: 'text', text: 'Hi' }],
        stop_reason: stop,
      };
      const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
      expect((await llm.chat({ model: 'a/m', messages: USER })).choices[0]?.finish_reason).toBe('stop');
      const body = [
        ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi' } }),
        ev('content_block_stop', { index: 0 }),
        ev('message_delta', { delta: { stop_reason: stop } }),
        ev('message_stop', {}),
      ].join('');
      const streamed = await answeringWith('anthropic', body, 'text/event-stream');
      const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    });
});

describe('Anthropic: a reply that only wrote the prompt cache', () => {
  it('counts the written tokens in prompt_tokens and reports 0 cached tokens read', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, cache_creation_input_tokens: 20, output_tokens: 2 },
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    expect((await llm.chat({ model: 'a/m', messages: USER })).usage).toEqual({
      prompt_tokens: 23,
      completion_tokens: 2,
      total_tokens: 25,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });
});

describe('Anthropic stream: a refusal in message_delta', () => {
  it('is a ProviderBlockedError at once, not a cut stream, when no message_stop follows', async () => {
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('message_delta', { delta: { stop_reason: 'refusal' }, usage: { output_tokens: 0 } }),
    ].join('');
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    const blocked = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(blocked).toBeInstanceOf(ProviderBlockedError);
  });
});

describe('Gemini: finishReason SPII (sensitive personal data withheld)', () => {
  it('is a ProviderBlockedError, as SAFETY is', async () => {
    const reply = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'x' }] }, finishReason: 'SPII' }],
    };
    const llm = await answeringWith('google', JSON.stringify(reply), json);
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    const blocked = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(blocked).toBeInstanceOf(ProviderBlockedError);
  });
});

describe("Gemini: usage's totalTokenCount", () => {
  it('is taken as sent for total_tokens', async () => {
    const reply = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 9 },
    };
    const llm = await answeringWith('google', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 9 });
  });
});

describe('Ollama: tool_choice naming a tool the request does not define', () => {
  it('sends every tool (Ollama has no tool_choice) rather than none', async () => {
    let sent: { tools?: { function: { name: string } }[] } = {};
    const reply = {
      model: 'm',
      message: { role: 'assistant', content: 'Hi' },
      done: true,
      done_reason: 'stop',
    };
    const raw = await rawUpstream((body, res) => {
      sent = JSON.parse(body);
      res.writeHead(200, { 'content-type': json }).end(JSON.stringify(reply));
    });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'ollama', baseUrl: raw.url.replace(/\/v1$/, ''), apiKey: KEY } },
    });
    const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: {} } });
    await h.llm.chat({
      model: 'a/m',
      messages: USER,
      tools: [tool('weather'), tool('time')],
      tool_choice: { type: 'function', function: { name: 'other' } },
    });
    expect(sent.tools?.map((t) => t.function.name)).toEqual(['weather', 'time']);
  });
});

describe('Mistral thinking parts beside a reasoning_content string', () => {
  it('the thinking is appended to the reasoning already given, not put in its place', async () => {
    const body = JSON.stringify({
      id: 'x',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            reasoning_content: 'First, ',
            content: [
              { type: 'thinking', thinking: [{ type: 'text', text: 'add.' }] },
              { type: 'text', text: 'Four.' },
            ],
          },
          finish_reason: 'stop',
        },
      ],
    });
    const llm = await answeringWith('openai', body, json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Four.',
      reasoning_content: 'First, add.',
    });
  });
});

describe('Gemini: the other filter finish reasons', () => {
  it.each(['BLOCKLIST', 'PROHIBITED_CONTENT', 'IMAGE_SAFETY'])(
    '%s is a ProviderBlockedError, as SAFETY is',
    async (reason) => {
      const reply = {
        candidates: [{ content: { role: 'model', parts: [{ text: 'x' }] }, finishReason: reason }],
      };
      const llm = await answeringWith('google', JSON.stringify(reply), json);
      const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
      const blocked = err instanceof NoHealthyProviderError ? err.cause : err;
      expect(blocked).toBeInstanceOf(ProviderBlockedError);
    },
  );
});

describe('Anthropic: usage without output_tokens', () => {
  it('is no usage, not a usage with an undefined completion count', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3 },
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
    expect(res.usage).toBeUndefined();
  });
});

describe('Anthropic: a redacted_thinking block', () => {
  it('is skipped: the reply is its text, not a ProviderResponseError', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [
        { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
        { type: 'text', text: 'Hi' },
      ],
      stop_reason: 'end_turn',
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
  });
});

describe('Anthropic: prompt-cache reads without cache writes', () => {
  it('are reported as prompt_tokens_details.cached_tokens and counted in prompt_tokens', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: 3 },
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.usage).toEqual({
      prompt_tokens: 8,
      completion_tokens: 2,
      total_tokens: 10,
      prompt_tokens_details: { cached_tokens: 3 },
    });
  });
});

describe('Anthropic stream: content block starts', () => {
  it('a tool_use block index sent twice gives each call its own index', async () => {
    const tool = (id: string) => ({ type: 'tool_use', id, name: 'f', input: {} });
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: tool('call_a') }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 0, content_block: tool('call_b') }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: tool('call_c') }),
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ].join('');
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const starts = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .filter((t) => t.id !== undefined);
    expect(starts.map((t) => [t.index, t.id])).toEqual([
      [0, 'call_a'],
      [1, 'call_b'],
      [2, 'call_c'],
    ]);
  });

  it('the text a thinking block starts with is reasoning, not dropped', async () => {
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: 'Hmm. ' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Yes.' } }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'text', text: 'Hi' } }),
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ].join('');
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('');
    expect(reasoning).toBe('Hmm. Yes.');
  });

  it('the text a text block starts with is content, not dropped', async () => {
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi ' } }),
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'there' } }),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ].join('');
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi there');
  });

  it('a later message_delta without a stop_reason keeps the one sent before', async () => {
    const body = [
      ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 1, output_tokens: 0 } } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi' } }),
      ev('content_block_stop', { index: 0 }),
      ev('message_delta', { delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 3 } }),
      ev('message_delta', { delta: {}, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ].join('');
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });
});

describe('an error body: the message it carries', () => {
  it.each([
    ['{ "error": "<text>" }', { error: 'no such thing here' }],
    ['{ "object": "error", "message": "<text>" } (vLLM)', { object: 'error', message: 'no such thing here' }],
  ])('%s: the error names the text, not the JSON around it', async (_, body) => {
    const raw = await rawUpstream(
      (_req, res) => void res.writeHead(400, { 'content-type': json }).end(JSON.stringify(body)),
    );
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    const err = await rejection(h.llm.chat({ model: 'a/m', messages: USER }));
    expect((err as Error).message).toContain('HTTP 400: no such thing here');
  });
});

describe('an answer of text and tool calls together (second pass)', () => {
  it('keeps its text as content next to the tool calls (only a calls-only answer has null content)', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } },
      ],
      stop_reason: 'tool_use',
    };
    const llm = await answeringWith('anthropic', JSON.stringify(reply), json);
    const msg = (await llm.chat({ model: 'a/m', messages: USER })).choices[0]?.message;
    expect(msg?.content).toBe('Let me check.');
    expect(msg?.tool_calls?.[0]?.function).toEqual({ name: 'weather', arguments: '{"city":"Oslo"}' });
  });
});

describe('an OpenAI-compatible usage with a null count (second pass)', () => {
  it('is no usage at all, as any count that is not a count (docs/choices.md)', async () => {
    const reply = {
      id: 'c1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: null, completion_tokens: 2, total_tokens: 2 },
    };
    const llm = await answeringWith('openai', JSON.stringify(reply), json);
    const out = await llm.chat({ model: 'a/m', messages: USER });
    expect(out.choices[0]?.message.content).toBe('Hi');
    expect(out.usage).toBeUndefined();
  });
});

describe('Ollama: lines after the done line in the same read (second pass)', () => {
  it('are ignored: the stream ends at the finish, nothing follows it', async () => {
    const line = (o: object) =>
      `${JSON.stringify({ model: 'm', created_at: '2025-01-01T00:00:00Z', ...o })}\n`;
    const body = [
      line({ message: { role: 'assistant', content: 'Hi' }, done: false }),
      line({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop' }),
      line({ message: { role: 'assistant', content: 'after' }, done: false }),
    ].join('');
    const llm = await answeringWith('ollama', body, 'application/x-ndjson');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});
