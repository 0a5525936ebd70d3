import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallOptions,
  type ChatMessage,
  type ChatRequest,
  type EmbedRequest,
  InvalidRequestError,
  type ManaLLM,
  NoHealthyProviderError,
  ProviderCapabilityError,
  ProviderTimeoutError,
  StreamInterruptedError,
  UnknownAliasError,
} from '../src/index.js';
import { closeAll, collect, consume, harness, rejection, USER, waitFor } from './helpers/client.js';

afterEach(closeAll);

/** A malformed call: what it sends and the issue path it must be reported at. */
interface Case {
  name: string;
  request: unknown;
  opts?: unknown;
  path: string;
}

const CHAT_CASES: Case[] = [
  { name: 'messages missing', request: { model: 'mana/x' }, path: 'messages' },
  { name: 'messages not an array', request: { model: 'mana/x', messages: 'Hi' }, path: 'messages' },
  { name: 'no messages at all', request: { model: 'mana/x', messages: [] }, path: 'messages' },
  { name: 'a message that is not an object', request: { messages: [...USER, 'Hi'] }, path: 'messages[1]' },
  { name: 'a message without a role', request: { messages: [{ content: 'Hi' }] }, path: 'messages[0].role' },
  {
    name: 'a message with an unknown role',
    request: { messages: [...USER, USER[0], { role: 'usr', content: 'Hi' }] },
    path: 'messages[2].role',
  },
  {
    name: 'content a number',
    request: { messages: [{ role: 'user', content: 42 }] },
    path: 'messages[0].content',
  },
  { name: 'content missing', request: { messages: [{ role: 'system' }] }, path: 'messages[0].content' },
  {
    name: 'a content part of an unknown type',
    request: {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'img', url: 'x' },
          ],
        },
      ],
    },
    path: 'messages[0].content[1].type',
  },
  {
    name: 'a text part without text',
    request: { messages: [{ role: 'user', content: [{ type: 'text' }] }] },
    path: 'messages[0].content[0].text',
  },
  {
    name: 'an image part whose URL is not http(s) or data:',
    request: {
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] },
      ],
    },
    path: 'messages[0].content[0].image_url.url',
  },
  {
    name: 'an image in a system message',
    request: {
      messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/a.png' } }] }],
    },
    path: 'messages[0].content[0].type',
  },
  {
    name: 'tool_calls not an array',
    request: { messages: [...USER, { role: 'assistant', content: null, tool_calls: 'x' }] },
    path: 'messages[1].tool_calls',
  },
  {
    name: 'a tool call without arguments',
    request: {
      messages: [
        ...USER,
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f' } }] },
      ],
    },
    path: 'messages[1].tool_calls[0].function.arguments',
  },
  {
    name: 'a tool message without tool_call_id',
    request: { messages: [...USER, { role: 'tool', content: 'result' }] },
    path: 'messages[1].tool_call_id',
  },
  {
    name: 'a tool call with an empty function name',
    request: {
      messages: [
        ...USER,
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: '', arguments: '{}' } }],
        },
      ],
    },
    path: 'messages[1].tool_calls[0].function.name',
  },
  {
    name: 'a tool message with an empty tool_call_id',
    request: { messages: [...USER, { role: 'tool', content: 'result', tool_call_id: '' }] },
    path: 'messages[1].tool_call_id',
  },
  {
    name: 'a message name that is not a string',
    request: { messages: [{ role: 'user', content: 'Hi', name: 5 }] },
    path: 'messages[0].name',
  },
  { name: 'tools not an array', request: { messages: USER, tools: { f: {} } }, path: 'tools' },
  {
    name: 'a tool without a name',
    request: { messages: USER, tools: [{ type: 'function', function: {} }] },
    path: 'tools[0].function.name',
  },
  { name: 'temperature a string', request: { messages: USER, temperature: '0.2' }, path: 'temperature' },
  { name: 'max_tokens zero', request: { messages: USER, max_tokens: 0 }, path: 'max_tokens' },
  { name: 'max_tokens a fraction', request: { messages: USER, max_tokens: 1.5 }, path: 'max_tokens' },
  { name: 'max_tokens a string', request: { messages: USER, max_tokens: '10' }, path: 'max_tokens' },
  { name: 'max_tokens past 2^53', request: { messages: USER, max_tokens: 1e23 }, path: 'max_tokens' },
  { name: 'model a number', request: { model: 42, messages: USER }, path: 'model' },
  { name: 'model blank', request: { model: '  ', messages: USER }, path: 'model' },
  { name: 'the request not an object', request: 'Hi', path: '' },
  { name: 'timeoutMs a string', request: { messages: USER }, opts: { timeoutMs: '5000' }, path: 'timeoutMs' },
  { name: 'timeoutMs negative', request: { messages: USER }, opts: { timeoutMs: -1 }, path: 'timeoutMs' },
  { name: 'timeoutMs zero', request: { messages: USER }, opts: { timeoutMs: 0 }, path: 'timeoutMs' },
  { name: 'timeoutMs NaN', request: { messages: USER }, opts: { timeoutMs: Number.NaN }, path: 'timeoutMs' },
  {
    name: 'timeoutMs infinite',
    request: { messages: USER },
    opts: { timeoutMs: Number.POSITIVE_INFINITY },
    path: 'timeoutMs',
  },
  { name: 'signal not an AbortSignal', request: { messages: USER }, opts: { signal: {} }, path: 'signal' },
  { name: 'cache not a boolean', request: { messages: USER }, opts: { cache: 'yes' }, path: 'cache' },
  { name: 'call options not an object', request: { messages: USER }, opts: 'fast', path: 'options' },
  { name: 'a model with a blank provider', request: { model: '/m', messages: USER }, path: 'model' },
  // Not "no model": a null model was routed to the default alias.
  { name: 'model null', request: { model: null, messages: USER }, path: 'model' },
  {
    name: 'an image part whose URL is a list holding a URL',
    request: {
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: ['https://x/a.png'] } }] }],
    },
    path: 'messages[0].content[0].image_url.url',
  },
  {
    name: 'tool call arguments an object',
    request: {
      messages: [
        ...USER,
        { role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: {} } }] },
      ],
    },
    path: 'messages[1].tool_calls[0].function.arguments',
  },
  {
    name: 'signal an object with addEventListener but no aborted',
    request: { messages: USER },
    opts: { signal: { addEventListener() {} } },
    path: 'signal',
  },
  { name: 'top_p infinite', request: { messages: USER, top_p: Number.POSITIVE_INFINITY }, path: 'top_p' },
  {
    name: 'frequency_penalty NaN',
    request: { messages: USER, frequency_penalty: Number.NaN },
    path: 'frequency_penalty',
  },
  {
    name: 'presence_penalty a string',
    request: { messages: USER, presence_penalty: '1' },
    path: 'presence_penalty',
  },
  { name: 'seed a string', request: { messages: USER, seed: '7' }, path: 'seed' },
  { name: 'stop a number', request: { messages: USER, stop: 5 }, path: 'stop' },
  { name: 'stop a list with a number', request: { messages: USER, stop: ['a', 5] }, path: 'stop' },
  { name: 'a tool that is not an object', request: { messages: USER, tools: ['f'] }, path: 'tools[0]' },
  {
    name: 'a tool of another type',
    request: {
      messages: USER,
      tools: [{ type: 'function', function: { name: 'f' } }, { type: 'retrieval' }],
    },
    path: 'tools[1].type',
  },
  {
    name: 'a tool with an empty name',
    request: { messages: USER, tools: [{ type: 'function', function: { name: '' } }] },
    path: 'tools[0].function.name',
  },
  {
    name: 'tool parameters that are not an object',
    request: { messages: USER, tools: [{ type: 'function', function: { name: 'f', parameters: '{}' } }] },
    path: 'tools[0].function.parameters',
  },
  {
    name: 'tool_choice an unknown word',
    request: { messages: USER, tool_choice: 'any' },
    path: 'tool_choice',
  },
  {
    name: 'tool_choice an object without a function name',
    request: { messages: USER, tool_choice: { type: 'function', function: {} } },
    path: 'tool_choice',
  },
  {
    name: 'tool_choice an object without type "function"',
    request: { messages: USER, tool_choice: { function: { name: 'f' } } },
    path: 'tool_choice',
  },
  {
    name: 'tool_choice an object of another type',
    request: { messages: USER, tool_choice: { type: 'tool', function: { name: 'f' } } },
    path: 'tool_choice',
  },
  {
    name: 'response_format of an unknown type',
    request: { messages: USER, response_format: { type: 'xml' } },
    path: 'response_format.type',
  },
  {
    name: 'response_format a string',
    request: { messages: USER, response_format: 'json_object' },
    path: 'response_format.type',
  },
  {
    name: 'a json_schema response_format without a name',
    request: { messages: USER, response_format: { type: 'json_schema', json_schema: { schema: {} } } },
    path: 'response_format.json_schema',
  },
  {
    name: 'a json_schema response_format without json_schema',
    request: { messages: USER, response_format: { type: 'json_schema' } },
    path: 'response_format.json_schema',
  },
  {
    name: 'a json_schema response_format whose schema is a string',
    request: {
      messages: USER,
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: '{"type":"object"}' } },
    },
    path: 'response_format.json_schema.schema',
  },
  {
    name: 'a json_schema response_format whose schema is null',
    request: {
      messages: USER,
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: null } },
    },
    path: 'response_format.json_schema.schema',
  },
  {
    name: 'stream_options a boolean',
    request: { messages: USER, stream_options: true },
    path: 'stream_options',
  },
  {
    name: 'an image part whose image_url is a string',
    request: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'https://x/a.png' }] }] },
    path: 'messages[0].content[0].image_url',
  },
  {
    name: 'an image part whose URL is not a string',
    request: { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 5 } }] }] },
    path: 'messages[0].content[0].image_url.url',
  },
  {
    name: 'an image part whose URL only contains http:',
    request: {
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x http://a/b.png' } }] }],
    },
    path: 'messages[0].content[0].image_url.url',
  },
  {
    name: 'an image in an assistant message',
    request: {
      messages: [
        ...USER,
        { role: 'assistant', content: [{ type: 'image_url', image_url: { url: 'https://x/a.png' } }] },
      ],
    },
    path: 'messages[1].content[0].type',
  },
  {
    name: 'a content part that is not an object',
    request: { messages: [{ role: 'user', content: ['Hi'] }] },
    path: 'messages[0].content[0]',
  },
  {
    name: 'user content null',
    request: { messages: [{ role: 'user', content: null }] },
    path: 'messages[0].content',
  },
  {
    name: 'a tool call that is not an object',
    request: { messages: [...USER, { role: 'assistant', tool_calls: ['c1'] }] },
    path: 'messages[1].tool_calls[0]',
  },
  {
    name: 'a tool call without an id',
    request: {
      messages: [...USER, { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{}' } }] }],
    },
    path: 'messages[1].tool_calls[0].id',
  },
  {
    name: 'a tool call of another type',
    request: {
      messages: [
        ...USER,
        {
          role: 'assistant',
          tool_calls: [{ id: 'c', type: 'code', function: { name: 'f', arguments: '{}' } }],
        },
      ],
    },
    path: 'messages[1].tool_calls[0].type',
  },
  {
    name: 'a tool call without a function',
    request: { messages: [...USER, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function' }] }] },
    path: 'messages[1].tool_calls[0].function',
  },
  {
    name: 'a tool message whose tool_call_id is a number',
    request: { messages: [...USER, { role: 'tool', content: 'r', tool_call_id: 1 }] },
    path: 'messages[1].tool_call_id',
  },
  {
    name: 'hedgeAfterMs negative',
    request: { messages: USER },
    opts: { hedgeAfterMs: -1 },
    path: 'hedgeAfterMs',
  },
  {
    name: 'hedgeAfterMs a word',
    request: { messages: USER },
    opts: { hedgeAfterMs: 'soon' },
    path: 'hedgeAfterMs',
  },
  {
    name: 'hedgeAfterMs infinite',
    request: { messages: USER },
    opts: { hedgeAfterMs: Number.POSITIVE_INFINITY },
    path: 'hedgeAfterMs',
  },
  {
    name: 'signal a plain object with aborted',
    request: { messages: USER },
    opts: { signal: { aborted: false } },
    path: 'signal',
  },
];

const EMBED_CASES: Case[] = [
  { name: 'input missing', request: { model: 'a/e' }, path: 'input' },
  { name: 'input a number', request: { model: 'a/e', input: 42 }, path: 'input' },
  { name: 'input an empty list', request: { model: 'a/e', input: [] }, path: 'input' },
  { name: 'an input that is not a string', request: { model: 'a/e', input: ['a', null] }, path: 'input[1]' },
  {
    name: 'dimensions not a positive integer',
    request: { model: 'a/e', input: 'a', dimensions: 1.5 },
    path: 'dimensions',
  },
  {
    // Number.isInteger(1e23) is true: it was sent on, and no upstream can answer it.
    name: 'dimensions past the safe integers',
    request: { model: 'a/e', input: 'a', dimensions: 1e23 },
    path: 'dimensions',
  },
  { name: 'dimensions zero', request: { model: 'a/e', input: 'a', dimensions: 0 }, path: 'dimensions' },
  { name: 'dimensions a string', request: { model: 'a/e', input: 'a', dimensions: '8' }, path: 'dimensions' },
  { name: 'a model with a blank model side', request: { model: 'a/ ', input: 'a' }, path: 'model' },
  { name: 'input an object', request: { model: 'a/e', input: { text: 'a' } }, path: 'input' },
  { name: 'an input that is a number', request: { model: 'a/e', input: ['a', 5] }, path: 'input[1]' },
  { name: 'model not a string', request: { model: ['a/e'], input: 'a' }, path: 'model' },
  {
    name: 'encoding_format neither float nor base64',
    request: { model: 'a/e', input: 'a', encoding_format: 'binary' },
    path: 'encoding_format',
  },
  {
    name: 'timeoutMs a string',
    request: { model: 'a/e', input: 'a' },
    opts: { timeoutMs: '1s' },
    path: 'timeoutMs',
  },
];

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai' },
    aliases: { 'mana/x': ['a/m'] },
    options: { aliases: { aliases: { 'mana/x': { chain: ['a/m'] } }, default: 'mana/x' } },
  });
  return { ...h, a: h.up.a! };
}

type Kind = 'chat' | 'stream' | 'embed';

function call(llm: ManaLLM, kind: Kind, c: Case): Promise<unknown> {
  const opts = c.opts as CallOptions;
  if (kind === 'embed') return llm.embed(c.request as never, opts);
  if (kind === 'chat') return llm.chat(c.request as never, opts);
  return collect(llm.stream(c.request as never, opts));
}

describe('a malformed call is an InvalidRequestError before any I/O, never touching health', () => {
  const table: [Kind, Case][] = [
    ...CHAT_CASES.map((c): [Kind, Case] => ['chat', c]),
    ...CHAT_CASES.map((c): [Kind, Case] => ['stream', c]),
    ...EMBED_CASES.map((c): [Kind, Case] => ['embed', c]),
  ];
  it.each(table)('%s: %s', async (kind, c) => {
    const { llm, a, events } = await setup();
    const before = llm.health();
    const err = (await rejection(call(llm, kind, c))) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.httpStatus).toBe(400);
    expect(err.retryable).toBe(false);
    expect(err.issues.map((i) => i.path)).toContain(c.path);
    expect(a.requests).toHaveLength(0);
    expect(llm.health()).toEqual(before);
    // Hosts counting failures see it like an unknown alias.
    expect(events.of('failure').map((f) => f.error)).toEqual([err]);
  });

  it('lists every problem of one call, each with its path', async () => {
    const { llm } = await setup();
    const err = (await rejection(
      llm.chat(
        {
          model: 7,
          messages: [{ role: 'user', content: 'a' }, { role: 'bot', content: 'b' }, { role: 'tool' }],
        } as never,
        { timeoutMs: '1000', signal: 'stop' } as never,
      ),
    )) as InvalidRequestError;
    expect(err.issues.map((i) => i.path)).toEqual([
      'model',
      'messages[1].role',
      'messages[2].content',
      'messages[2].tool_call_id',
      'timeoutMs',
      'signal',
    ]);
    expect(err.message).toContain('messages[1].role');
  });

  it('a request or call options whose getter or proxy trap throws is an InvalidRequestError (docs/limits.md)', async () => {
    const { llm, a, events } = await setup();
    const thrown = new Error('boom\n(node:1) forged line \u202e');
    const fail = (): never => {
      throw thrown;
    };
    const trap = new Proxy({}, { get: fail });
    const cases: [Kind, unknown, unknown, string][] = [
      [
        'chat',
        {
          model: 'mana/x',
          messages: USER,
          get temperature() {
            return fail();
          },
        },
        undefined,
        '',
      ],
      [
        'stream',
        {
          model: 'mana/x',
          get messages() {
            return fail();
          },
        },
        undefined,
        '',
      ],
      [
        'chat',
        {
          model: 'mana/x',
          messages: [
            {
              role: 'user',
              get content() {
                return fail();
              },
            },
          ],
        },
        undefined,
        '',
      ],
      [
        'embed',
        {
          get model() {
            return fail();
          },
          input: 'a',
        },
        undefined,
        '',
      ],
      [
        'chat',
        { model: 'mana/x', messages: USER },
        {
          get timeoutMs() {
            return fail();
          },
        },
        'options',
      ],
      [
        'stream',
        { model: 'mana/x', messages: USER },
        {
          get signal() {
            return fail();
          },
        },
        'options',
      ],
      ['embed', { model: 'mana/x', input: 'a' }, trap, 'options'],
    ];
    for (const [kind, request, opts, path] of cases) {
      const err = (await rejection(
        call(llm, kind, { name: '', request, opts, path }),
      )) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues).toEqual([{ path, message: expect.stringMatching(/^cannot be read: boom/) }]);
      expect(err.message).not.toMatch(/\n\(node:1\)|\u202e/);
    }
    const models = await rejection(
      llm.models({
        get signal() {
          return fail();
        },
      } as never),
    );
    expect(models).toBeInstanceOf(InvalidRequestError);
    expect(a.requests).toHaveLength(0);
    expect(events.of('failure').every((f) => f.error instanceof InvalidRequestError)).toBe(true);
  });

  it('a completions-style prompt says what to send instead', async () => {
    const { llm, a } = await setup();
    const prompt = (await rejection(
      llm.chat({ model: 'mana/x', prompt: 'Hi' } as never),
    )) as InvalidRequestError;
    expect(prompt.issues).toEqual([
      {
        path: 'messages',
        message: "is required: a chat request sends messages: [{ role: 'user', content: '…' }], not prompt",
      },
    ]);
    expect(a.requests).toHaveLength(0);
  });

  it('a message without content says it got nothing, not "a undefined"', async () => {
    const { llm, a } = await setup();
    const noContent = (await rejection(
      llm.chat({ model: 'mana/x', messages: [{ role: 'user', text: 'Hi' }] } as never),
    )) as InvalidRequestError;
    expect(noContent.issues).toEqual([
      { path: 'messages[0].content', message: 'must be a string or an array of content parts, got nothing' },
    ]);
    const noType = (await rejection(
      llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: [{ text: 'Hi' }] }] } as never),
    )) as InvalidRequestError;
    expect(noType.issues).toEqual([
      { path: 'messages[0].content[0].type', message: 'must be "text" or "image_url", got nothing' },
    ]);
    expect(a.requests).toHaveLength(0);
  });

  it('a huge malformed request reports 20 issues and a summary, not one issue per bad item', async () => {
    const { llm, a } = await setup();
    // What an 8 MiB body of `{"messages":[1,1,…]}` parses to is 4M messages; 200k shows the cap as well.
    const many = { messages: new Array(200_000).fill(1), tools: new Array(200_000).fill(1) };
    for (const request of [many, { messages: [{ role: 'user', content: new Array(200_000).fill(1) }] }]) {
      const err = (await rejection(llm.chat(request as never))) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues).toHaveLength(21);
      expect(err.issues[20]).toEqual({ path: '', message: 'and more issues not shown' });
      expect(err.message.length).toBeLessThan(4000);
    }
    expect(a.requests).toHaveLength(0);
  });

  it('an odd or huge role or part type is echoed bounded, never crashes the check', async () => {
    const { llm, a } = await setup();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const huge = 'x'.repeat(1_000_000);
    const cases: [unknown, string][] = [
      [{ messages: [{ role: 10n, content: 'Hi' }] }, 'messages[0].role'],
      [{ messages: [{ role: circular, content: 'Hi' }] }, 'messages[0].role'],
      [{ messages: [{ role: huge, content: 'Hi' }] }, 'messages[0].role'],
      [{ messages: [{ role: 'user', content: [{ type: 10n }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [{ type: circular }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [{ type: huge }] }] }, 'messages[0].content[0].type'],
    ];
    for (const [request, path] of cases) {
      for (const kind of ['chat', 'stream'] as const) {
        const err = (await rejection(call(llm, kind, { name: '', request, path }))) as InvalidRequestError;
        expect(err).toBeInstanceOf(InvalidRequestError);
        expect(err.issues.map((i) => i.path)).toEqual([path]);
        expect(err.message.length).toBeLessThan(400);
      }
    }
    expect(a.requests).toHaveLength(0);
  });

  it('bidi overrides, C1 controls and key-shaped text in an echoed role, part type or format never reach a message', async () => {
    const { llm, a } = await setup();
    const odd = 'us\u202eer\u2066\u0085\u007f sk-proj-SECRETSECRET';
    const bad = (m: string) => /[\u202a-\u202e\u2066-\u2069\u0080-\u009f\u007f]|SECRETSECRET/.test(m);
    const requests: [() => Promise<unknown>, string][] = [
      [() => llm.chat({ messages: [{ role: odd, content: 'Hi' }] } as never), 'messages[0].role'],
      [
        () => llm.chat({ messages: [{ role: 'user', content: [{ type: odd }] }] } as never),
        'messages[0].content[0].type',
      ],
      [() => llm.embed({ model: 'a/e', input: 'a', encoding_format: odd } as never), 'encoding_format'],
    ];
    for (const [send, path] of requests) {
      const err = (await rejection(send())) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues.map((i) => i.path)).toEqual([path]);
      expect(bad(err.message)).toBe(false);
      expect(bad(err.issues[0]?.message ?? '')).toBe(false);
    }
    // A line break is still shown escaped, as what is wrong with the value: "user\n".
    const nl = (await rejection(
      llm.chat({ messages: [{ role: 'user\n', content: 'Hi' }] } as never),
    )) as Error;
    expect(nl.message).toContain('"user\\n"');
    expect(a.requests).toHaveLength(0);
  });

  it('a huge model string is cut in the messages of the errors it leads to, kept whole in their fields', async () => {
    const { llm } = await setup();
    const direct = `nowhere/${'y'.repeat(100_000)}`;
    const none = (await rejection(llm.chat({ model: direct, messages: USER }))) as NoHealthyProviderError;
    expect(none).toBeInstanceOf(NoHealthyProviderError);
    expect(none.requested).toBe(direct);
    expect(none.message.length).toBeLessThan(1000);
    const alias = `mana/${'z'.repeat(100_000)}`;
    const unknown = (await rejection(llm.chat({ model: alias, messages: USER }))) as UnknownAliasError;
    expect(unknown).toBeInstanceOf(UnknownAliasError);
    expect(unknown.alias).toBe(alias);
    expect(unknown.message.length).toBeLessThan(1000);
  });

  it('control characters and key-shaped text in a model string never reach the messages of its errors', async () => {
    const { llm } = await setup();
    // A line break forges a log line where err.message is logged; a bidi override reorders what is shown.
    const bad = (m: string) => /[\n\r\u202e]|sk-proj-SECRETSECRET/.test(m);
    const direct = 'nowhere/m\n2026-12-07T00:00:00.000Z admin login ok \u202e sk-proj-SECRETSECRET';
    const none = (await rejection(llm.chat({ model: direct, messages: USER }))) as NoHealthyProviderError;
    expect(none).toBeInstanceOf(NoHealthyProviderError);
    expect(none.requested).toBe(direct);
    expect(bad(none.message)).toBe(false);
    const alias = 'mana/x\nforged line \u202e sk-proj-SECRETSECRET';
    const unknown = (await rejection(llm.chat({ model: alias, messages: USER }))) as UnknownAliasError;
    expect(unknown).toBeInstanceOf(UnknownAliasError);
    expect(unknown.alias).toBe(alias);
    expect(bad(unknown.message)).toBe(false);
    const bare = 'llama\nforged line \u202e sk-proj-SECRETSECRET';
    const llm2 = (await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } })).llm;
    const noProvider = (await rejection(llm2.chat({ model: bare, messages: USER }))) as InvalidRequestError;
    expect(noProvider).toBeInstanceOf(InvalidRequestError);
    // Its message lists its one issue on a line of its own: no other line break.
    const [head, ...issues] = noProvider.message.split('\n');
    expect(issues).toHaveLength(1);
    expect(bad(head ?? '')).toBe(false);
  });

  it('control characters in a direct model never reach the messages of the provider errors it leads to', async () => {
    const h = await harness({ upstreams: { a: 'openai', c: 'anthropic' } });
    const a = h.up.a!;
    const model = 'm\nforged line \u202e';
    const bad = (m: string) => /[\n\u202e]/.test(m);
    // Anthropic has no embeddings: a direct model is told so with a ProviderCapabilityError.
    const cap = (await rejection(h.llm.embed({ model: `c/${model}`, input: 'x' }))) as Error;
    expect(cap).toBeInstanceOf(ProviderCapabilityError);
    expect(bad(cap.message)).toBe(false);
    a.setDefault({ streamThenReset: 2 });
    const cut = (await rejection(collect(h.llm.stream({ model: `a/${model}`, messages: USER })))) as Error;
    expect(cut).toBeInstanceOf(StreamInterruptedError);
    expect(bad(cut.message)).toBe(false);
    a.setDefault({ hang: true });
    const pending = rejection(h.llm.chat({ model: `a/${model}`, messages: USER }, { timeoutMs: 1000 }));
    await h.clock.advanceAsync(1000);
    const none = (await pending) as NoHealthyProviderError;
    expect(none).toBeInstanceOf(NoHealthyProviderError);
    expect(none.cause).toBeInstanceOf(ProviderTimeoutError);
    expect(bad((none.cause as Error).message)).toBe(false);
    expect(none.attempts[0]?.target).toBe(`a/${model}`);
  });

  it('control characters in a direct model never reach the message of its timeouts.streamMs error', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, options: { timeouts: { streamMs: 30_000 } } });
    h.up.a!.setDefault({ streamThenStall: 2 });
    const run = consume(h.llm.stream({ model: 'a/m\nforged line \u202e', messages: USER }));
    await waitFor(() => run.chunks.length >= 2, 'the stream to commit');
    h.clock.advance(30_000);
    const err = (await rejection(run.done)) as StreamInterruptedError;
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(err.message).toContain('timeouts.streamMs');
    expect(/[\n\u202e]/.test(err.message)).toBe(false);
    expect(/[\n\u202e]/.test((err.cause as Error).message)).toBe(false);
  });

  it('a string timeoutMs no longer times the call out and opens the breaker', async () => {
    const { llm, a } = await setup();
    for (let i = 0; i < 3; i++) await rejection(llm.chat({ messages: USER }, { timeoutMs: '5000' } as never));
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
    const ok = await llm.chat({ messages: USER }, { timeoutMs: 5000 });
    expect(ok.model).toBe('a/m');
    expect(a.count('chat')).toBe(1);
  });

  it('accepts every valid shape: roles, parts, tool calls, AbortSignal, positive timeoutMs', async () => {
    const { llm, a } = await setup();
    a.setDefault({ reply: 'ok' });
    const res = await llm.chat(
      {
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
          { role: 'developer' as never, content: 'and kind' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'look', arguments: '{}' } }],
          },
          { role: 'tool', content: 'a cat', tool_call_id: 'c1' },
        ],
        tools: [{ type: 'function', function: { name: 'look', parameters: { type: 'object' } } }],
        tool_choice: 'auto',
        temperature: 0,
        max_tokens: 10,
        stop: ['\n'],
      },
      { signal: new AbortController().signal, timeoutMs: 1000, cache: false },
    );
    expect(res.choices[0]?.message.content).toBe('ok');
  });

  it('accepts each valid variant of the checked fields (and sends the call on)', async () => {
    const { llm, a } = await setup();
    a.setDefault({ reply: 'ok' });
    // A tool call's type may be left out.
    const fn = { id: 'c', function: { name: 'f', arguments: '{}' } };
    const requests: [unknown, unknown][] = [
      [
        { model: 'a/m', messages: USER, tool_choice: 'none', stop: 'END', seed: 7, top_p: 1 },
        { hedgeAfterMs: 0 },
      ],
      [
        { messages: USER, tool_choice: 'required', frequency_penalty: -1, presence_penalty: 0 },
        { hedgeAfterMs: 'auto' },
      ],
      [{ messages: USER, tool_choice: { type: 'function', function: { name: 'f' } } }, { hedgeAfterMs: 5 }],
      [{ messages: USER, tools: [{ type: 'function', function: { name: 'f' } }] }, { cache: false }],
      [
        { messages: USER, response_format: { type: 'text' }, stream_options: { include_usage: true } },
        undefined,
      ],
      [{ messages: USER, response_format: { type: 'json_object' } }, undefined],
      [
        { messages: USER, response_format: { type: 'json_schema', json_schema: { name: 'n', schema: {} } } },
        undefined,
      ],
      // OpenAI's json_schema.schema is optional.
      [{ messages: USER, response_format: { type: 'json_schema', json_schema: { name: 'n' } } }, undefined],
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'HTTPS://x/a.png' } }] },
          ],
        },
        undefined,
      ],
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/a.png' } }] },
          ],
        },
        undefined,
      ],
      [
        {
          messages: [
            { role: 'user', content: 'Hi', name: 'ann' },
            { role: 'assistant', tool_calls: [fn] },
          ],
        },
        undefined,
      ],
      [
        {
          messages: [...USER, { role: 'assistant', content: 'x', tool_calls: [{ ...fn, type: 'function' }] }],
        },
        undefined,
      ],
      // Empty text is passed on, not judged here: OpenAI takes it, and the Anthropic adapter leaves it out.
      [{ messages: [{ role: 'user', content: '' }] }, undefined],
      [{ messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, undefined],
      [
        { messages: [...USER, { role: 'tool', content: [{ type: 'text', text: 'r' }], tool_call_id: 'c' }] },
        undefined,
      ],
      // Keys a chat request does not read are ignored: a prompt next to messages, tool calls on a user message.
      [{ messages: [{ role: 'user', content: 'Hi', tool_calls: 'x' }], prompt: 'Hi' }, undefined],
    ];
    for (const [request, opts] of requests) {
      const res = await llm.chat(request as never, opts as never);
      expect(res.choices[0]?.message.content).toBe('ok');
    }
    expect(a.requests).toHaveLength(requests.length);
    // A stream never uses the cache, so { cache: true } is no mistake there even without one.
    expect((await collect(llm.stream({ messages: USER }, { cache: true }))).length).toBeGreaterThan(0);
    expect(a.requests).toHaveLength(requests.length + 1);
  });

  it('an embed accepts a list of inputs, dimensions and either encoding_format', async () => {
    const { llm, a } = await setup();
    for (const encoding_format of ['float', 'base64'] as const) {
      const res = await llm.embed({ model: 'a/e', input: ['x', 'y'], dimensions: 8, encoding_format });
      expect(res.data).toHaveLength(2);
    }
    expect(a.requests).toHaveLength(2);
  });

  it('says which call and what is wrong: "is required", an echoed value cut at 40 characters with "…"', async () => {
    const { llm } = await setup();
    const chat = (await rejection(
      llm.chat({ messages: [{ content: 'Hi' }, { role: 'r'.repeat(41), content: 'Hi' }] } as never),
    )) as InvalidRequestError;
    const roles = 'must be one of system, developer, user, assistant, tool';
    expect(chat.issues).toEqual([
      { path: 'messages[0].role', message: `is required: ${roles}` },
      { path: 'messages[1].role', message: `${roles}, got "${'r'.repeat(40)}"…` },
    ]);
    expect(chat.message.split('\n')[0]).toBe('Invalid chat request:');
    const fits = (await rejection(
      collect(llm.stream({ messages: [{ role: 'r'.repeat(40), content: 'Hi' }] } as never)),
    )) as InvalidRequestError;
    expect(fits.issues[0]?.message).toBe(`${roles}, got "${'r'.repeat(40)}"`);
    expect(fits.message.split('\n')[0]).toBe('Invalid stream request:');
    const embed = (await rejection(llm.embed({ model: 'a/e' } as never))) as InvalidRequestError;
    expect(embed.issues).toEqual([{ path: 'input', message: 'is required' }]);
    expect(embed.message.split('\n')[0]).toBe('Invalid embed request:');
  });

  it('missing messages (no prompt) are "is required"; an image outside a user message says where images go', async () => {
    const { llm } = await setup();
    const none = (await rejection(llm.chat({} as never))) as InvalidRequestError;
    expect(none.issues).toEqual([{ path: 'messages', message: 'is required' }]);
    const image = { type: 'image_url', image_url: { url: 'https://x/a.png' } };
    const sys = (await rejection(
      llm.chat({ messages: [{ role: 'system', content: [image] }, ...USER] } as never),
    )) as InvalidRequestError;
    expect(sys.issues).toEqual([
      {
        path: 'messages[0].content[0].type',
        message: 'must be "text" (images go in user messages), got "image_url"',
      },
    ]);
  });

  it('an item that is not an object is one issue at its own path, and the items after it are still checked', async () => {
    const { llm, a } = await setup();
    const err = (await rejection(
      llm.chat({
        messages: [
          ...USER,
          {
            role: 'assistant',
            tool_calls: [null, 'x', { id: 'c', function: { name: 'f', arguments: '{}' } }],
          },
          null,
          { role: 'user', content: [null] },
          { role: 'tool', content: 'r' },
        ],
      } as never),
    )) as InvalidRequestError;
    expect(err.issues).toEqual([
      { path: 'messages[1].tool_calls[0]', message: 'must be a tool call object, got null' },
      { path: 'messages[1].tool_calls[1]', message: 'must be a tool call object, got a string' },
      { path: 'messages[2]', message: 'must be a message object, got null' },
      { path: 'messages[3].content[0]', message: 'must be a content part object, got null' },
      {
        path: 'messages[4].tool_call_id',
        message: 'is required on a tool message: the id of the call it answers',
      },
    ]);
    expect(a.requests).toHaveLength(0);
  });

  it('says what is wrong: a blank model, and a bad role alone (its content is not judged)', async () => {
    const { llm } = await setup();
    const blank = (await rejection(llm.chat({ model: ' ', messages: USER }))) as InvalidRequestError;
    expect(blank.issues).toEqual([
      { path: 'model', message: 'must not be blank (omit it to use the default alias)' },
    ]);
    const role = (await rejection(
      llm.chat({ messages: [{ role: 'bot', content: [{ type: 'image_url' }] }] } as never),
    )) as InvalidRequestError;
    expect(role.issues.map((i) => i.path)).toEqual(['messages[0].role']);
  });

  it('per-call options given as undefined (a handler passing on what it may not have) are absent', async () => {
    const { llm, a } = await setup();
    a.setDefault({ reply: 'ok' });
    // A caller's own optional values: these must type-check under exactOptionalPropertyTypes too.
    const from: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {};
    const opts = {
      signal: from.signal,
      timeoutMs: from.timeoutMs,
      cache: undefined,
      hedgeAfterMs: undefined,
    };
    expect((await llm.chat({ messages: USER }, opts)).choices[0]?.message.content).toBe('ok');
    expect((await collect(llm.stream({ messages: USER }, opts))).length).toBeGreaterThan(0);
    const opened = await llm.openStream({ messages: USER }, opts);
    expect(opened.model).toBe('a/m');
    await opened.return?.();
    expect((await llm.models({ signal: from.signal })).data.length).toBeGreaterThan(0);
  });

  it('request fields given as undefined (a handler forwarding optional fields) are absent, on the wire too', async () => {
    const { llm, a } = await setup();
    // What a handler forwards from a body whose fields are optional; must type-check under exactOptionalPropertyTypes.
    const body: {
      model?: string | undefined;
      temperature?: number | undefined;
      dimensions?: number | undefined;
    } = {};
    const chat: ChatRequest = {
      model: body.model,
      messages: USER,
      temperature: body.temperature,
      max_tokens: undefined,
      stop: undefined,
      tools: undefined,
      response_format: undefined,
      stream_options: undefined,
    };
    await llm.chat(chat);
    await llm.chat({ messages: USER });
    const [given, plain] = a.requests.map((r) => r.body);
    expect(given).toEqual(plain);
    const embed: EmbedRequest = {
      model: body.model,
      input: 'x',
      dimensions: body.dimensions,
      encoding_format: undefined,
    };
    expect((await llm.embed(embed)).data).toHaveLength(1);
  });

  it('message fields given as undefined (name, tool_calls, image detail) are absent, on the wire too', async () => {
    const { llm, a } = await setup();
    const from: { name?: string | undefined; detail?: 'low' | undefined } = {};
    const png = 'data:image/png;base64,AAAA';
    const given: ChatMessage[] = [
      { role: 'system', content: 's', name: from.name },
      {
        role: 'user',
        content: [{ type: 'image_url', image_url: { url: png, detail: from.detail } }],
        name: from.name,
      },
      { role: 'assistant', content: 'a', tool_calls: undefined, name: from.name },
      { role: 'user', content: 'again' },
    ];
    const plain: ChatMessage[] = [
      { role: 'system', content: 's' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: png } }] },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'again' },
    ];
    await llm.chat({ messages: given });
    await llm.chat({ messages: plain });
    const [withUndefined, without] = a.requests.map((r) => r.body);
    expect(withUndefined).toEqual(without);
  });

  it('resolve() checks its model too', async () => {
    const { llm } = await setup();
    expect(() => llm.resolve(42 as never)).toThrow(InvalidRequestError);
    // And the request it is given, as a call would.
    expect(() => llm.resolve('mana/x', { messages: 'Hi' } as never)).toThrow(InvalidRequestError);
  });
});

describe('a bare model without a default provider is the caller’s mistake', () => {
  it('is an InvalidRequestError (400) at path model, sent nowhere', async () => {
    const { llm, a } = await setup();
    const before = llm.health();
    for (const kind of ['chat', 'stream'] as const) {
      const err = (await rejection(
        call(llm, kind, { name: '', request: { model: 'gpt-4o', messages: USER }, path: '' }),
      )) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.httpStatus).toBe(400);
      expect(err.issues).toEqual([{ path: 'model', message: expect.stringContaining('no defaultProvider') }]);
    }
    expect(() => llm.resolve('gpt-4o')).toThrow(InvalidRequestError);
    expect(a.requests).toHaveLength(0);
    expect(llm.health()).toEqual(before);
  });

  it('a model with a blank side of its "/" is one too, even with a default provider: nothing is sent', async () => {
    const h = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': ['a/m'] },
      options: { defaultProvider: 'a' },
    });
    for (const model of ['/m', ' /m', 'a/', 'a/  ']) {
      for (const kind of ['chat', 'stream'] as const) {
        const err = (await rejection(
          call(h.llm, kind, { name: '', request: { model, messages: USER }, path: '' }),
        )) as InvalidRequestError;
        expect(err).toBeInstanceOf(InvalidRequestError);
        expect(err.issues.map((i) => i.path)).toEqual(['model']);
      }
    }
    expect(h.up.a!.requests).toHaveLength(0);
  });

  it('a call with no model and no default alias is one too', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const err = (await rejection(h.llm.chat({ messages: USER }))) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.issues[0]?.path).toBe('model');
  });
});

describe('a missing, mistyped or empty list says which', () => {
  it('messages and embed input', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const issues = async (p: Promise<unknown>) => ((await rejection(p)) as InvalidRequestError).issues;
    expect(await issues(h.llm.chat({ model: 'mana/x', messages: [] }))).toEqual([
      { path: 'messages', message: 'must contain at least one message' },
    ]);
    expect(await issues(h.llm.chat({ model: 'mana/x', messages: 'Hi' } as never))).toEqual([
      { path: 'messages', message: 'must be an array of messages, got a string' },
    ]);
    expect(await issues(h.llm.embed({ model: 'mana/x', input: [] }))).toEqual([
      { path: 'input', message: 'must contain at least one string' },
    ]);
  });
});
