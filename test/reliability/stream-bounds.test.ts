import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatChunk,
  type ProviderAdapter,
  ProviderTimeoutError,
  StreamInterruptedError,
} from '../../src/index.js';
import { closeAll as closeHelpers } from '../helpers/client.js';
import { heldUpstream } from '../helpers/held-upstream.js';
import { rawUpstream } from '../helpers/raw-upstream.js';
import { client, closeAll, consume, ioTurns, mock, waitFor } from './support.js';

afterEach(async () => {
  await closeAll();
  await closeHelpers();
});

const REQ = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };

function frame(content: string): string {
  const chunk = {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

async function drain(stream: AsyncIterable<ChatChunk>): Promise<{ chars: number; error?: unknown }> {
  let chars = 0;
  try {
    for await (const c of stream) chars += c.choices[0]?.delta.content?.length ?? 0;
    return { chars };
  } catch (error) {
    return { chars, error };
  }
}

describe('a committed stream keeps a bounded partial answer', () => {
  it('8 MiB streamed over a real socket, then the connection drops: the partial answer is the last maxPartialChars', async () => {
    const piece = 'abcdefgh'.repeat(8 * 1024); // 64 KiB
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 127; i++) res.write(frame(piece));
      // Dropped once the last frame is flushed to the socket.
      res.write(frame(`${'z'.repeat(65_534)}!!`), () => res.socket?.destroy());
    });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      {
        limits: { maxPartialChars: 100_000 },
      },
    );
    const { chars, error } = await drain(llm.stream(REQ));
    expect(chars).toBe(128 * 65_536);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    const partial = (error as StreamInterruptedError).partial;
    expect(partial.content.length).toBe(100_000);
    expect(partial.content.endsWith(`${'z'.repeat(65_534)}!!`)).toBe(true);
    expect(partial.truncated).toBe(true);
  });

  it('tool calls are kept by index, at most 32, each bounded like the text', async () => {
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let round = 0; round < 3; round++) {
        for (let index = 0; index < 40; index++) {
          const chunk = {
            id: 'c',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'm',
            choices: [
              {
                index: 0,
                delta: {
                  tool_calls: [
                    {
                      index,
                      ...(round === 0 ? { id: `call_${index}`, function: { name: 'f', arguments: '' } } : {}),
                      function: { arguments: 'x'.repeat(400) },
                    },
                  ],
                },
                finish_reason: null,
              },
            ],
          };
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        }
      }
      setImmediate(() => res.socket?.destroy());
    });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      {
        limits: { maxPartialChars: 1000 },
      },
    );
    const { error } = await drain(llm.stream(REQ));
    const partial = (error as StreamInterruptedError).partial;
    expect(partial.toolCalls.map((t) => t.index)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(partial.toolCalls.every((t) => t.arguments.length === 1000)).toBe(true);
    expect(partial.toolCalls.map((t) => t.id)).toEqual(Array.from({ length: 32 }, (_, i) => `call_${i}`));
    expect(partial.truncated).toBe(true);
  });

  it("a later delta's empty id or name, and a tool call that is no object, leave the partial tool call as it was", async () => {
    const chunk = (tool_calls: unknown[]): ChatChunk =>
      ({
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{ index: 0, delta: { tool_calls }, finish_reason: null }],
      }) as ChatChunk;
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      async *stream() {
        yield chunk([
          { index: 0, id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q"' } },
        ]);
        yield chunk([{ index: 0, id: '', function: { name: '', arguments: ':1}' } }, 'junk', 7]);
        throw new Error('cut');
      },
      embed: () => Promise.reject(new Error('unused')),
      models: async () => [],
      probe: async () => ({ ok: true }),
    };
    const { llm } = client({ c: { type: 'custom', adapter } }, { 'mana/x': ['c/m'] });
    const { error } = await drain(llm.stream(REQ));
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as StreamInterruptedError).partial.toolCalls).toEqual([
      { index: 0, id: 'call_1', name: 'lookup', arguments: '{"q":1}' },
    ]);
  });

  it('a failure inside the stream’s own bookkeeping ends it as StreamInterruptedError: slot released, request closed, no health change', async () => {
    let returned = 0;
    const chunk = (content: string): ChatChunk => ({
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    });
    const poisoned = chunk('b');
    Object.defineProperty(poisoned, 'usage', {
      get() {
        throw new RangeError('Invalid string length');
      },
    });
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        const chunks = [chunk('a'), poisoned, chunk('c')];
        return {
          [Symbol.asyncIterator]: () => ({
            next: async () => {
              const value = chunks.shift();
              return value ? { done: false as const, value } : { done: true as const, value: undefined };
            },
            return: async () => {
              returned++;
              return { done: true as const, value: undefined };
            },
          }),
        };
      },
      embed: () => Promise.reject(new Error('unused')),
      models: async () => [],
      probe: async () => ({ ok: true }),
    };
    const { llm } = client({ c: { type: 'custom', adapter, maxConcurrent: 1 } }, { 'mana/x': ['c/m'] });
    for (let i = 0; i < 3; i++) {
      const { chars, error } = await drain(llm.stream(REQ));
      // The poisoned chunk is handed out; adding it up fails when the consumer asks for the next one.
      expect(chars).toBe(2);
      expect(error).toBeInstanceOf(StreamInterruptedError);
      expect((error as StreamInterruptedError).message).toContain('Invalid string length');
      expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    }
    expect(returned).toBe(3);
    expect(llm.health().providers.c?.consecutiveFailures).toBe(0);
  });
});

describe('timeouts.streamMs caps a committed stream', () => {
  it('counts from the call, not from the commit: a stream committed late still ends at streamMs after the call', async () => {
    const up = await heldUpstream();
    const { llm, clock } = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      { timeouts: { streamMs: 30_000, idleMs: 3_600_000, totalMs: 3_600_000 } },
    );
    const run = consume(llm.stream(REQ));
    let settled = false;
    void run.done.then(() => {
      settled = true;
    });
    await waitFor(() => up.held === 1, 'the request to arrive');
    // 10 s pass before the upstream answers: the stream commits 10 s after the call.
    clock.advance(10_000);
    up.startStream();
    await waitFor(() => run.chunks.length >= 1, 'the stream to commit');
    clock.advance(19_999);
    await ioTurns();
    expect(settled).toBe(false);
    clock.advance(1);
    const err = (await run.done).error;
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as Error).message).toContain('timeouts.streamMs');
  });

  it('over the cap: StreamInterruptedError (a timeout), the request closed, the provider not blamed; off by default', async () => {
    const up = await mock('openai');
    up.setDefault({ streamThenStall: 2 });
    const capped = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      {
        timeouts: { streamMs: 30_000, idleMs: 3_600_000 },
      },
    );
    const run = consume(capped.llm.stream(REQ));
    await waitFor(() => run.chunks.length >= 2, 'the stream to commit');
    capped.clock.advance(29_999);
    await ioTurns();
    expect(up.requests.length).toBe(1);
    capped.clock.advance(1);
    const err = (await run.done).error;
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).cause).toBeInstanceOf(ProviderTimeoutError);
    expect((err as Error).message).toContain('timeouts.streamMs');
    expect(capped.llm.health().providers.a?.consecutiveFailures).toBe(0);
    expect(capped.llm.resolve('mana/x').candidates[0]?.state).toBe('ready');

    // Without the option: an hour later the stream is still open.
    const open = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      {
        timeouts: { idleMs: 7_200_000, totalMs: 7_200_000 },
      },
    );
    const ctl = new AbortController();
    const still = consume(open.llm.stream(REQ, { signal: ctl.signal }));
    await waitFor(() => still.chunks.length >= 2, 'the second stream to commit');
    let settled = false;
    void still.done.then(() => {
      settled = true;
    });
    open.clock.advance(3_600_000);
    await ioTurns();
    expect(settled).toBe(false);
    ctl.abort();
    await waitFor(() => settled, 'stream to end after abort');
  });
});

/** The partial answer of an OpenAI stream that sends `choices` (one per frame) and then drops the connection. */
async function partialOf(choices: object[], maxPartialChars: number) {
  const up = await rawUpstream((_body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const frames = choices.map(
      (choice) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ finish_reason: null, ...choice }] })}\n\n`,
    );
    res.write(frames.join(''), () => res.socket?.destroy());
  });
  const { llm } = client(
    { a: { type: 'openai', baseUrl: up.url } },
    { 'mana/x': ['a/m'] },
    { limits: { maxPartialChars } },
  );
  const { error } = await drain(llm.stream(REQ));
  expect(error).toBeInstanceOf(StreamInterruptedError);
  return (error as StreamInterruptedError).partial;
}

const call = (index: number, args: string) => ({
  index: 0,
  delta: { tool_calls: [{ index, id: `call_${index}`, function: { name: 'f', arguments: args } }] },
});

describe('the partial answer says truncated exactly when something was cut', () => {
  it('text exactly maxPartialChars long is whole; one more character is truncated', async () => {
    const whole = await partialOf(
      [
        { index: 0, delta: { content: 'abcde' } },
        { index: 0, delta: { content: 'fghij' } },
      ],
      10,
    );
    expect(whole).toEqual({ content: 'abcdefghij', toolCalls: [] });
    const cut = await partialOf(
      [
        { index: 0, delta: { content: 'abcde' } },
        { index: 0, delta: { content: 'fghijk' } },
      ],
      10,
    );
    expect(cut).toEqual({ content: 'bcdefghijk', toolCalls: [], truncated: true });
  });

  it('a choice without an index is the first choice: its text is in the partial answer', async () => {
    const partial = await partialOf([{ delta: { content: 'ab' } }, { delta: { content: 'cd' } }], 100);
    expect(partial).toEqual({ content: 'abcd', toolCalls: [] });
  });

  it('one tool call whose arguments are longer than maxPartialChars: its tail, truncated', async () => {
    const partial = await partialOf(
      [
        call(0, 'x'.repeat(8)),
        { index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'yz' } }] } },
      ],
      6,
    );
    expect(partial).toEqual({
      content: '',
      toolCalls: [{ index: 0, id: 'call_0', name: 'f', arguments: 'xxxxyz' }],
      truncated: true,
    });
  });

  it('33 tool calls with short arguments: the first 32 kept, truncated; 32 are whole', async () => {
    const calls = (n: number) => Array.from({ length: n }, (_, i) => call(i, '{}'));
    const cut = await partialOf(calls(33), 100);
    expect(cut.toolCalls.map((t) => t.index)).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(cut.truncated).toBe(true);
    const whole = await partialOf(calls(32), 100);
    expect(whole.toolCalls.length).toBe(32);
    expect(whole.truncated).toBeUndefined();
  });
});

describe('a stream stopped while the consumer holds a chunk', () => {
  it('timeouts.streamMs with chunks of the last read not handed out: the partial answer holds only what was', async () => {
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // 'a' commits the stream and goes out alone; 'b', 'c', 'd' are one read.
      res.write(`${frame('a')}${frame('b')}${frame('c')}${frame('d')}`);
    });
    const { llm, clock } = client(
      { a: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['a/m'] },
      { timeouts: { streamMs: 30_000, idleMs: 3_600_000 } },
    );
    const it = llm.stream(REQ);
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('a');
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('b');
    clock.advance(30_000);
    const error = await it.next().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as StreamInterruptedError).partial).toEqual({ content: 'ab', toolCalls: [] });
  });
});
