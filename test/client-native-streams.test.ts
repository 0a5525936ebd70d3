import { afterEach, describe, expect, it } from 'vitest';
import {
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  StreamInterruptedError,
} from '../src/index.js';
import { closeAll, collect, KEY, rejection, USER } from './helpers/client.js';
import { answeringWith } from './helpers/raw-upstream.js';

// The native stream protocols (Anthropic Messages SSE, Gemini SSE) bent the ways real servers and gateways bend them,
// read through the public API over real local HTTP.

afterEach(closeAll);

/** The error a stream call ended with, as its one attempt saw it (before or after content reached the caller). */
async function streamError(llm: Awaited<ReturnType<typeof answeringWith>>) {
  const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
  return err instanceof NoHealthyProviderError || err instanceof StreamInterruptedError ? err.cause : err;
}

describe('Anthropic and Gemini: a stream request answered 200 with a JSON error body instead of an event stream', () => {
  const anthropic429 = { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } };
  const anthropic401 = {
    type: 'error',
    error: { type: 'authentication_error', message: 'invalid x-api-key' },
  };
  const anthropic529 = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
  const gemini429 = { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } };
  const gemini403 = { error: { code: 403, message: 'Permission denied', status: 'PERMISSION_DENIED' } };

  it.each([
    ['Anthropic, a rate limit', 'anthropic', anthropic429, 'application/json', ProviderRateLimitError],
    ['Anthropic, a wrong key', 'anthropic', anthropic401, 'application/json', ProviderAuthError],
    [
      'Anthropic, overloaded, labelled as a stream',
      'anthropic',
      anthropic529,
      'text/event-stream',
      ProviderHTTPError,
    ],
    ['Gemini, a rate limit', 'google', gemini429, 'application/json; charset=UTF-8', ProviderRateLimitError],
    ['Gemini, a wrong key', 'google', gemini403, 'application/json', ProviderAuthError],
    [
      'Gemini, a rate limit in a JSON list',
      'google',
      [gemini429],
      'application/json',
      ProviderRateLimitError,
    ],
  ] as const)('%s is classified like the same error in an event', async (_, type, body, contentType, cls) => {
    const err = await streamError(await answeringWith(type, `\n${JSON.stringify(body)}\n`, contentType));
    expect(err).toBeInstanceOf(cls);
    expect(String((err as Error).message)).not.toContain(KEY);
  });

  it('a whole answer where a stream was asked for is still a bad response', async () => {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    const reply = { candidates: [{ content: { parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }] };
    expect(
      await streamError(await answeringWith('anthropic', JSON.stringify(message), 'application/json')),
    ).toBeInstanceOf(ProviderResponseError);
    expect(
      await streamError(await answeringWith('google', JSON.stringify(reply), 'application/json')),
    ).toBeInstanceOf(ProviderResponseError);
  });
});

/** Anthropic Messages stream events, as the API frames them. */
const events = (...evs: ({ type: string } & Record<string, unknown>)[]) =>
  evs.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
const start = {
  type: 'message_start',
  message: { id: 'msg_1', usage: { input_tokens: 3, output_tokens: 1 } },
};
const end = [
  { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } },
  { type: 'message_stop' },
];

describe('Anthropic stream: a delta whose field has the wrong type is malformed, not dropped', () => {
  const toolStart = {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
  };
  it.each([
    [
      'text_delta text a number',
      [{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 5 } }],
    ],
    [
      'thinking_delta thinking an object',
      [{ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: {} } }],
    ],
    [
      'input_json_delta partial_json an object (the call would get "{}" as its arguments)',
      [
        toolStart,
        {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'input_json_delta', partial_json: { a: 1 } },
        },
        { type: 'content_block_stop', index: 0 },
      ],
    ],
  ])('%s falls back like any malformed reply', async (_, body) => {
    const llm = await answeringWith('anthropic', events(start, ...body, ...end), 'text/event-stream');
    expect(await streamError(llm)).toBeInstanceOf(ProviderResponseError);
  });
});

describe('Anthropic stream: a frame whose data is not a JSON object is malformed, not skipped', () => {
  it.each(['5', '"Hi"', 'null', 'true'])('data: %s under a content_block_delta event', async (data) => {
    const body = `${events(start)}event: content_block_delta\ndata: ${data}\n\n${events(...end)}`;
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    expect(await streamError(llm)).toBeInstanceOf(ProviderResponseError);
  });
});

describe('Gemini: a part whose text has the wrong type is malformed, not dropped', () => {
  it('in a stream', async () => {
    const frame = { candidates: [{ content: { parts: [{ text: 5 }] }, finishReason: 'STOP' }] };
    const llm = await answeringWith('google', `data: ${JSON.stringify(frame)}\n\n`, 'text/event-stream');
    expect(await streamError(llm)).toBeInstanceOf(ProviderResponseError);
  });
});

describe('chat(): a text whose type is wrong is malformed, not dropped', () => {
  it.each([
    [
      'Anthropic, a text block',
      'anthropic',
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: { value: 'Hi' } }],
        stop_reason: 'end_turn',
      },
    ],
    [
      'Gemini, a part',
      'google',
      { candidates: [{ content: { parts: [{ text: 42 }] }, finishReason: 'STOP' }] },
    ],
  ] as const)('%s', async (_, type, reply) => {
    const llm = await answeringWith(type, JSON.stringify(reply), 'application/json');
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect(err instanceof NoHealthyProviderError ? err.cause : err).toBeInstanceOf(ProviderResponseError);
  });
});

describe('Anthropic: an error event or reply without its error object', () => {
  it.each([
    ['an error event of type only', 'event: error\ndata: {"type":"error"}\n\n', 'text/event-stream', true],
    ['an error event of nothing', 'event: error\ndata: {}\n\n', 'text/event-stream', true],
    ['a reply of type error only', '{"type":"error"}', 'application/json', false],
  ])('%s is the upstream error it is, not a TypeError from the adapter', async (_, body, type, streamed) => {
    const llm = await answeringWith('anthropic', body, type);
    const call = streamed
      ? collect(llm.stream({ model: 'a/m', messages: USER }))
      : llm.chat({ model: 'a/m', messages: USER });
    const err = await rejection(call);
    const cause = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(cause).toBeInstanceOf(ProviderResponseError);
    expect((cause as Error).message).toMatch(/^a\/m POST \/v1\/messages: upstream error in a 200 reply/);
  });
});

describe('Anthropic: its in-band billing_error and request_too_large are the errors their HTTP statuses are', () => {
  const billing = { type: 'error', error: { type: 'billing_error', message: 'Payment required' } };
  const tooLarge = { type: 'error', error: { type: 'request_too_large', message: 'Request too large' } };
  it.each([
    [
      'billing_error in an event',
      `event: error\ndata: ${JSON.stringify(billing)}\n\n`,
      'text/event-stream',
      true,
    ],
    ['billing_error in a reply', JSON.stringify(billing), 'application/json', false],
    [
      'request_too_large in an event',
      `event: error\ndata: ${JSON.stringify(tooLarge)}\n\n`,
      'text/event-stream',
      true,
    ],
    ['request_too_large in a reply', JSON.stringify(tooLarge), 'application/json', false],
  ])('%s', async (name, body, type, streamed) => {
    const llm = await answeringWith('anthropic', body, type);
    const call = streamed
      ? collect(llm.stream({ model: 'a/m', messages: USER }))
      : llm.chat({ model: 'a/m', messages: USER });
    const err = await rejection(call);
    const cause = err instanceof NoHealthyProviderError ? err.cause : err;
    expect(cause).toBeInstanceOf(ProviderHTTPError);
    // billing: the provider's outage like a 402 (falls through); too large: the caller's 413 (thrown as is).
    const [status, httpStatus, retryable] = name.startsWith('billing') ? [402, 502, true] : [413, 413, false];
    expect(cause).toMatchObject({ status, httpStatus, retryable });
  });
});

describe('Anthropic stream: tool calls are numbered one by one', () => {
  it('a content block index sent twice does not give two calls the same index', async () => {
    const tool = (index: number, id: string) => ({
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id, name: `f_${id}`, input: {} },
    });
    const stop = (index: number) => ({ type: 'content_block_stop', index });
    const body = events(
      start,
      tool(0, 't1'),
      stop(0),
      tool(0, 't2'),
      stop(0),
      tool(1, 't3'),
      stop(1),
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use' },
        usage: { output_tokens: 2 },
      },
      { type: 'message_stop' },
    );
    const llm = await answeringWith('anthropic', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const starts = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .filter((t) => t.id !== undefined);
    expect(starts.map((t) => [t.index, t.id])).toEqual([
      [0, 't1'],
      [1, 't2'],
      [2, 't3'],
    ]);
  });
});
