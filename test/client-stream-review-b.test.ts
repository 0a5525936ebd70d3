import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../src/index.js';
import { ClosedError, StreamInterruptedError } from '../src/index.js';
import { closeAll, collect, rejection, USER } from './helpers/client.js';
import { answeringWith } from './helpers/raw-upstream.js';

// Session 15 stream review: streams read through the public API over real local HTTP.

afterEach(closeAll);

const sse = (...frames: unknown[]) =>
  frames.map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`).join('');
const frame = (index: number, d: object, finish: string | null = null) => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'x',
  choices: [{ index, delta: d, finish_reason: finish }],
});
// `n` is not a mana-llm field, but an OpenAI-compatible upstream gets the request as it is.
const twoChoices = { model: 'a/m', messages: USER, n: 2 } as ChatRequest;

describe('OpenAI-compatible streams with several choices (n > 1)', () => {
  it('a stream cut after the first choice finished, before the second did, is an interruption', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'A' }),
        frame(1, { role: 'assistant', content: 'B' }),
        frame(0, {}, 'stop'),
        frame(1, { content: 'b' }),
      ),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream(twoChoices)));
    expect(err).toBeInstanceOf(StreamInterruptedError);
  });

  it('ends cleanly once every choice finished', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'A' }),
        frame(1, { role: 'assistant', content: 'B' }),
        frame(0, {}, 'stop'),
        frame(1, {}, 'length'),
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream(twoChoices));
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, 'stop', 'length']);
  });

  it('is finished whatever order the choices finish in, and not while a choice seen after a finish is open', async () => {
    const inOrder = await answeringWith(
      'openai',
      sse(frame(0, { content: 'A' }), frame(1, { content: 'B' }), frame(1, {}, 'stop'), frame(0, {}, 'stop')),
      'text/event-stream',
    );
    expect(await collect(inOrder.stream(twoChoices))).toHaveLength(4);
    const late = await answeringWith(
      'openai',
      sse(frame(0, { content: 'A' }), frame(0, {}, 'stop'), frame(1, { content: 'B' })),
      'text/event-stream',
    );
    expect(await rejection(collect(late.stream(twoChoices)))).toBeInstanceOf(StreamInterruptedError);
  });

  it("the partial answer of an interrupted stream is the first choice's, not both interleaved", async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'Hel' }),
        frame(1, { role: 'assistant', content: 'Bon' }),
        frame(0, { content: 'lo' }),
        frame(1, { content: 'jour' }),
      ),
      'text/event-stream',
    );
    const err = await rejection(collect(llm.stream(twoChoices)));
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial.content).toBe('Hello');
  });
});

describe('abort during a committed stream', () => {
  it('the next() after the abort rejects with its reason, even with chunks of the last read left', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'a' }),
        frame(0, { content: 'b' }),
        frame(0, { content: 'c' }),
        frame(0, {}, 'stop'),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const ac = new AbortController();
    const it = llm.stream({ model: 'a/m', messages: USER }, { signal: ac.signal });
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('a');
    // The first content chunk goes out alone; 'b', 'c' and the finish come in the next batch.
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('b');
    const reason = new Error('user pressed stop');
    ac.abort(reason);
    expect(await rejection(it.next())).toBe(reason);
  });
});

describe('a stream aborted by its caller, then the client closed before the next read', () => {
  it("the next() rejects with the caller's reason, not close()'s: the first abort decides", async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'a' }),
        frame(0, { content: 'b' }),
        frame(0, {}, 'stop'),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const ac = new AbortController();
    const it = llm.stream({ model: 'a/m', messages: USER }, { signal: ac.signal });
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('a');
    const reason = new Error('user pressed stop');
    ac.abort(reason);
    const closed = llm.close();
    expect(await rejection(it.next())).toBe(reason);
    await closed;
  });
});

describe('abort during a stream that ended with no content', () => {
  it('the next() after the abort rejects with its reason instead of handing out the usage chunk', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant' }),
        frame(0, {}, 'stop'),
        { id: 'c1', choices: [], usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } },
        '[DONE]',
      ),
      'text/event-stream',
    );
    const ac = new AbortController();
    const request = { model: 'a/m', messages: USER, stream_options: { include_usage: true } };
    const it = llm.stream(request, { signal: ac.signal });
    expect((await it.next()).value?.choices[0]?.finish_reason).toBe('stop');
    const reason = new Error('user pressed stop');
    ac.abort(reason);
    expect(await rejection(it.next())).toBe(reason);
  });
});

describe('a committed stream when the client closes before the next read', () => {
  it('the next() rejects with ClosedError, and the provider is not counted as failed', async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame(0, { role: 'assistant', content: 'a' }),
        frame(0, { content: 'b' }),
        frame(0, {}, 'stop'),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const it = llm.stream({ model: 'a/m', messages: USER });
    expect((await it.next()).value?.choices[0]?.delta.content).toBe('a');
    const closed = llm.close();
    expect(await rejection(it.next())).toBeInstanceOf(ClosedError);
    await closed;
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });
});
