import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatChunk } from '../src/index.js';
import { closeAll, collect, harness, KEY, rejection, textOf, USER, waitFor } from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };
const DONE = { done: true, value: undefined };

/** One OpenAI client over a mock upstream answering `reply` in `chunks` pieces. */
async function setup(reply = 'One two three', chunks = 3) {
  const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
  h.up.a?.setDefault({ reply, chunks });
  return { ...h, a: h.up.a! };
}

/** One client over an upstream that streams three content chunks and then goes silent (socket kept open). */
async function stalling() {
  const hang = await hangingUpstream({ chunks: 3 });
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY, maxConcurrent: 1 } },
    aliases: { 'mana/x': ['a/m1'] },
  });
  return { ...h, hang };
}

/** Reads `it` up to and including its first content chunk. */
async function untilContent(it: AsyncIterator<ChatChunk>): Promise<string> {
  for (let r = await it.next(); !r.done; r = await it.next()) {
    const text = r.value.choices[0]?.delta.content;
    if (text) return text;
  }
  throw new Error('the stream ended before any content');
}

/** `p`, or a rejection after `ms` (a hang fails the test quickly instead of at the test timeout). */
function within<T>(p: PromiseLike<T>, ms = 500): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms}ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A few real-time turns of the event loop: time enough for a request to reach a local upstream. */
const settle = () => new Promise((r) => setTimeout(r, 30));

/** An OpenAI-compatible upstream whose every answer is the raw SSE `body`; counts the requests. */
const rawSse = (body: string) =>
  rawUpstream((_, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body));

async function rawSetup(body: string) {
  const raw = await rawSse(body);
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m1'] },
  });
  return { ...h, raw };
}

describe('nothing happens before the first next()', () => {
  it('creating a stream sends no request and emits no event; the first next() does', async () => {
    const { llm, a, events } = await setup();
    const stream = llm.stream(REQ);
    await settle();
    expect(a.count()).toBe(0);
    expect(events.all).toEqual([]);
    const first = await stream.next();
    expect(first.done).toBe(false);
    expect(a.count('stream')).toBe(1);
    expect(events.of('request')).toHaveLength(1);
    await stream.return();
  });

  it('an unknown alias fails on the first next(), not when the stream is created', async () => {
    const { llm } = await setup();
    const stream = llm.stream({ model: 'mana/nope', messages: USER });
    expect(await rejection(stream.next())).toBeInstanceOf(Error);
    expect(await stream.next()).toEqual(DONE);
  });

  it('return() before any next() resolves done and sends nothing, ever', async () => {
    const { llm, a, events } = await setup();
    const stream = llm.stream(REQ);
    expect(await stream.return()).toEqual(DONE);
    expect(await stream.next()).toEqual(DONE);
    expect(await stream.next()).toEqual(DONE);
    await settle();
    expect(a.count()).toBe(0);
    expect(events.all).toEqual([]);
  });

  it('throw() before any next() rejects with its error and sends nothing, ever', async () => {
    const { llm, a, events } = await setup();
    const stream = llm.stream(REQ);
    const boom = new Error('not wanted');
    expect(await rejection(stream.throw(boom))).toBe(boom);
    expect(await stream.next()).toEqual(DONE);
    await settle();
    expect(a.count()).toBe(0);
    expect(events.all).toEqual([]);
  });
});

describe('concurrent next() calls queue as on a native async generator', () => {
  // Calls made while the first one is still walking the chain wait for it (they once resolved done at once).
  it('next() called several times at once from the start gets every chunk, in order, then done', async () => {
    const { llm } = await setup('One two', 2);
    const expected = await collect(llm.stream(REQ)); // role, two content chunks, finish
    const stream = llm.stream(REQ);
    const pending = Array.from({ length: expected.length + 2 }, () => stream.next());
    const results = await within(Promise.all(pending));
    expect(results).toEqual([...expected.map((value) => ({ done: false, value })), DONE, DONE]);
  });

  it('next() called several times at once mid-stream gets every remaining chunk, in order, then done', async () => {
    const { llm } = await setup('One two three four', 4);
    const expected = await collect(llm.stream(REQ));
    const stream = llm.stream(REQ);
    const first = await stream.next();
    const pending = Array.from({ length: expected.length + 1 }, () => stream.next());
    const results = await within(Promise.all(pending));
    expect([first, ...results]).toEqual([...expected.map((value) => ({ done: false, value })), DONE, DONE]);
  });

  it('the order of resolution follows the order of the calls', async () => {
    const { llm } = await setup('One two three four', 4);
    const stream = llm.stream(REQ);
    await stream.next();
    const order: number[] = [];
    const pending = Array.from({ length: 8 }, (_, i) => stream.next().then(() => void order.push(i)));
    await within(Promise.all(pending));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  // A call made as soon as an earlier read's result arrives must not overtake calls already waiting in line.
  it('a next() called after an earlier pending one never gets an earlier chunk than it', async () => {
    const { llm } = await setup('One two three four', 4);
    const expected = await collect(llm.stream(REQ)); // role, 4 content chunks, finish
    const stream = llm.stream(REQ);
    // The role chunk and the first content chunk come out of the opening read; the rest is one more read.
    expect(await stream.next()).toEqual({ done: false, value: expected[0] });
    expect(await stream.next()).toEqual({ done: false, value: expected[1] });
    const a = stream.next(); // starts the read
    const b = stream.next(); // waits for it
    const ra = await a;
    const c = stream.next(); // called after b: must get the chunk after b's
    expect([ra, await b, await c]).toEqual(expected.slice(2, 5).map((value) => ({ done: false, value })));
  });
});

describe('return() mid-stream', () => {
  it('resolves done at once, cancels the upstream request, frees the slot and fails nothing', async () => {
    const { llm, hang, events } = await stalling();
    const stream = llm.stream(REQ);
    expect(await untilContent(stream)).toBe('p0');
    expect(hang.closedByClient).toBe(0);
    expect(await within(stream.return(), 200)).toEqual(DONE);
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(await within(stream.next(), 200)).toEqual(DONE);
    expect(await stream.return()).toEqual(DONE);
    expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    expect(events.of('failure')).toEqual([]);
    expect(events.of('response')).toEqual([]);
    // maxConcurrent 1: the slot the first stream held is free again.
    const again = llm.stream(REQ);
    expect(await within(untilContent(again))).toBe('p0');
    await again.return();
    expect(hang.received).toBe(2);
  });

  it('drops the chunks already read but not handed out', async () => {
    const { llm } = await setup('One two three four', 4);
    const stream = llm.stream(REQ);
    await untilContent(stream);
    await stream.return();
    expect(await stream.next()).toEqual(DONE);
  });
});

describe('throw() mid-stream', () => {
  it('rejects with the error, cancels the upstream request, and the stream is over', async () => {
    const { llm, hang } = await stalling();
    const stream = llm.stream(REQ);
    expect(await untilContent(stream)).toBe('p0');
    const boom = new Error('consumer gave up');
    expect(await within(rejection(stream.throw(boom)), 200)).toBe(boom);
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(await within(stream.next(), 200)).toEqual(DONE);
    expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
  });
});

describe('Symbol.asyncDispose', () => {
  it('await using disposes the stream like return(): the upstream request is cancelled', async () => {
    const { llm, hang } = await stalling();
    let outside: AsyncGenerator<ChatChunk, void, undefined> | undefined;
    {
      await using stream = llm.stream(REQ);
      outside = stream;
      expect(await untilContent(stream)).toBe('p0');
    }
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(await within(outside.next(), 200)).toEqual(DONE);
    expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
  });

  it('[Symbol.asyncDispose]() resolves undefined and ends the stream', async () => {
    const { llm, hang } = await stalling();
    const stream = llm.stream(REQ);
    expect(typeof stream[Symbol.asyncDispose]).toBe('function');
    await untilContent(stream);
    expect(await within(stream[Symbol.asyncDispose](), 200)).toBeUndefined();
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(await stream.next()).toEqual(DONE);
  });

  it('disposing a stream never iterated sends nothing', async () => {
    const { llm, a } = await setup();
    {
      await using _stream = llm.stream(REQ);
    }
    await settle();
    expect(a.count()).toBe(0);
  });
});

describe('streams with nothing to hand out', () => {
  it('an SSE body of only `data: [DONE]` ends the stream with no chunk, as a success', async () => {
    const { llm, raw, events } = await rawSetup('data: [DONE]\n\n');
    const stream = llm.stream(REQ);
    expect(await within(stream.next())).toEqual(DONE);
    expect(await stream.next()).toEqual(DONE);
    expect(raw.received).toBe(1);
    expect(events.of('response')).toEqual([expect.objectContaining({ kind: 'stream', resolved: 'a/m1' })]);
    expect(events.of('failure')).toEqual([]);
  });

  it('a finish chunk with no content is handed out, then done', async () => {
    const finish = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm1' };
    const body = `data: ${JSON.stringify({ ...finish, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
    const { llm, events } = await rawSetup(body);
    const stream = llm.stream(REQ);
    const first = await within(stream.next());
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ model: 'a/m1', choices: [{ finish_reason: 'stop', delta: {} }] });
    expect(await within(stream.next())).toEqual(DONE);
    expect(events.of('response')).toHaveLength(1);
  });
});

describe('after a normal end', () => {
  it('next() and return() keep resolving done; the response event fired exactly once', async () => {
    const { llm, a, events } = await setup();
    const stream = llm.stream(REQ);
    const chunks: ChatChunk[] = [];
    for (let r = await stream.next(); !r.done; r = await stream.next()) chunks.push(r.value);
    expect(textOf(chunks)).toBe('One two three');
    for (let i = 0; i < 3; i++) expect(await stream.next()).toEqual(DONE);
    expect(await stream.return()).toEqual(DONE);
    expect(await stream.next()).toEqual(DONE);
    expect(events.of('response')).toHaveLength(1);
    expect(events.of('request')).toHaveLength(1);
    expect(a.count('stream')).toBe(1);
  });
});

describe('Symbol.asyncIterator', () => {
  it('returns the stream itself; a second for-await over it yields nothing', async () => {
    const { llm, a } = await setup();
    const stream = llm.stream(REQ);
    expect(stream[Symbol.asyncIterator]()).toBe(stream);
    const first = await collect(stream);
    expect(textOf(first)).toBe('One two three');
    expect(await collect(stream)).toEqual([]);
    expect(a.count('stream')).toBe(1);
  });

  it('breaking out of the first for-await ends the stream: the second yields nothing', async () => {
    const { llm, hang } = await stalling();
    const stream = llm.stream(REQ);
    for await (const c of stream) if (c.choices[0]?.delta.content) break;
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(await within(collect(stream), 200)).toEqual([]);
  });
});

describe('a stream dropped without return()', () => {
  // A manual next() loop left early never calls return(): the stream must not hold its request and slot forever.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('is cancelled once garbage: the upstream request closes and the provider slot is free again', async () => {
    const { llm, hang } = await stalling();
    await (async () => {
      const stream = llm.stream(REQ);
      expect(await untilContent(stream)).toBe('p0');
    })();
    for (let i = 0; i < 100 && hang.closedByClient === 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(hang.closedByClient).toBe(1);
    // maxConcurrent 1: the dropped stream's slot was released.
    const again = llm.stream(REQ);
    expect(await within(untilContent(again))).toBe('p0');
    await again.return();
    expect(llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
  });
});
