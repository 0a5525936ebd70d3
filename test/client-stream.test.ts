import { afterEach, describe, expect, it } from 'vitest';
import {
  ProviderConnectionError,
  ProviderError,
  ProviderHTTPError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
} from '../src/index.js';
import type { MockBehavior, MockProtocol } from '../src/testing/index.js';
import {
  closeAll,
  collect,
  consume,
  type ErrorClass,
  type HarnessOptions,
  harness,
  KEY,
  rejection,
  textOf,
  USER,
  waitFor,
} from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup(protocol: MockProtocol = 'openai', options: HarnessOptions = {}) {
  const h = await harness({
    upstreams: { a: protocol, b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    options,
  });
  h.up.b?.setDefault({ reply: 'Answer from b.', chunks: 3 });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('a successful stream', () => {
  it('yields OpenAI chunks labelled with the resolved provider/model, ending with a finish reason', async () => {
    const { llm, a } = await setup();
    a.setDefault({ reply: 'One two three', chunks: 3 });
    const chunks = await collect(llm.stream({ ...REQ, stream_options: { include_usage: true } }));
    expect(textOf(chunks)).toBe('One two three');
    expect(chunks.every((c) => c.model === 'a/m1' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });

  it('streams tool-call deltas', async () => {
    const { llm, a } = await setup();
    a.setDefault({ toolCall: { id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' } });
    const chunks = await collect(llm.stream(REQ));
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: 'call_1', function: { name: 'lookup' } });
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe('{"q":"x"}');
    expect(chunks.every((c) => c.model === 'a/m1')).toBe(true);
  });

  it('a clean stream with no content is a success: no content chunk, no fallback', async () => {
    const { llm, a, b, events } = await setup();
    a.setDefault({ reply: '' });
    const chunks = await collect(llm.stream(REQ));
    expect(textOf(chunks)).toBe('');
    expect(chunks.every((c) => c.model === 'a/m1')).toBe(true);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop')).toHaveLength(1);
    expect(b.count()).toBe(0);
    expect(events.of('response')).toEqual([expect.objectContaining({ kind: 'stream', resolved: 'a/m1' })]);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('a clean empty stream still passes on and reports its usage when asked for it', async () => {
    const { llm, a, events } = await setup();
    a.setDefault({ reply: '', usage: { prompt: 4, completion: 0 } });
    const chunks = await collect(llm.stream({ ...REQ, stream_options: { include_usage: true } }));
    const usage = { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 };
    expect(chunks.at(-1)?.usage).toEqual(usage);
    expect(events.of('response')).toEqual([expect.objectContaining({ usage })]);
  });

  it('reports the last usage when the upstream sends it more than once (cumulative, as some proxies do)', async () => {
    const u = (p: number, c: number) => ({ prompt_tokens: p, completion_tokens: c, total_tokens: p + c });
    const chunk = (delta: object, finish: string | null, usage: object) => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta, finish_reason: finish }],
      usage,
    });
    const frames = [chunk({ content: 'Hel' }, null, u(4, 1)), chunk({ content: 'lo' }, 'stop', u(4, 2))];
    const body = [...frames, { id: 'c1', choices: [], usage: u(4, 3) }, '[DONE]']
      .map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`)
      .join('');
    const raw = await rawUpstream(
      (_, res) => void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body),
    );
    const { llm, events } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(textOf(chunks)).toBe('Hello');
    expect(chunks.at(-1)?.usage).toEqual(u(4, 3));
    expect(events.of('response')).toEqual([expect.objectContaining({ usage: u(4, 3) })]);
  });
});

describe('before the first content chunk a failure falls back invisibly', () => {
  const failures: { name: string; behavior: MockBehavior; type: ErrorClass }[] = [
    { name: 'HTTP 500', behavior: { status: 500 }, type: ProviderHTTPError },
    { name: 'a reset connection', behavior: { reset: true }, type: ProviderConnectionError },
    {
      name: 'a body that ends before any content',
      behavior: { streamThenEnd: 0 },
      type: ProviderResponseError,
    },
    {
      name: 'an in-band error frame before any content',
      behavior: { inBandError: 'server', after: 0 },
      type: ProviderError,
    },
    { name: 'a malformed stream', behavior: { malformed: true }, type: ProviderResponseError },
  ];
  for (const protocol of ['openai', 'ollama', 'google', 'anthropic'] as const) {
    for (const f of failures) {
      it(`${protocol}: ${f.name} — the consumer sees only b's chunks`, async () => {
        const { llm, a, b, events } = await setup(protocol);
        a.enqueue(f.behavior);
        const chunks = await collect(llm.stream(REQ));
        expect(textOf(chunks)).toBe('Answer from b.');
        expect(chunks.map((c) => c.model)).toEqual(chunks.map(() => 'b/m2'));
        // Exactly one role-only opening chunk, b's own.
        expect(chunks.filter((c) => c.choices[0]?.delta.role === 'assistant')).toHaveLength(1);
        expect(a.count('stream')).toBe(1);
        expect(b.count('stream')).toBe(1);
        expect(llm.health().providers.a?.consecutiveFailures).toBe(1);
        expect(events.of('fallback')[0]?.error).toBeInstanceOf(f.type);
      });
    }
  }

  it('a caller error before the first chunk propagates with no fallback', async () => {
    const { llm, a, b } = await setup();
    a.enqueue({ status: 400 });
    const err = await rejection(collect(llm.stream(REQ)));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err).toMatchObject({ status: 400, httpStatus: 400 });
    expect(b.count()).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('no first content chunk within firstChunkMs (fake clock) falls back', async () => {
    const { llm, clock, a } = await setup('openai', { timeouts: { firstChunkMs: 5000 } });
    a.enqueue({ stallAfterHeaders: true });
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(4999);
    expect(s.chunks).toEqual([]);
    await clock.advanceAsync(1);
    const chunks = await s.done;
    expect(textOf(chunks)).toBe('Answer from b.');
    expect(chunks.every((c) => c.model === 'b/m2')).toBe(true);
  });

  it('a role-only chunk does not commit: a stall after it still falls back', async () => {
    const { llm, clock, a, events } = await setup('openai', { timeouts: { firstChunkMs: 5000 } });
    a.enqueue({ streamThenStall: 0 });
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(5000);
    const chunks = await s.done;
    expect(chunks.every((c) => c.model === 'b/m2')).toBe(true);
    expect(events.of('fallback')).toEqual([
      expect.objectContaining({
        from: 'a/m1',
        to: 'b/m2',
        reason: 'timeout',
        error: expect.any(ProviderTimeoutError),
      }),
    ]);
  });

  it('an opening delta with an empty tool_calls list does not commit: a reset after it still falls back', async () => {
    const raw = await rawUpstream((_, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const delta = { role: 'assistant', content: '', tool_calls: [] };
      res.write(
        `data: ${JSON.stringify({ id: 'x', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`,
      );
      setImmediate(() => res.destroy());
    });
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    h.up.b?.setDefault({ reply: 'Answer from b.', chunks: 3 });
    const chunks = await collect(h.llm.stream(REQ));
    expect(textOf(chunks)).toBe('Answer from b.');
    expect(chunks.every((c) => c.model === 'b/m2')).toBe(true);
    expect(h.events.of('fallback')).toHaveLength(1);
  });

  it('the provider timeoutMs caps the wait for the first chunk', async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: { a: { timeoutMs: 2000 } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    h.up.a?.enqueue({ stallAfterHeaders: true });
    const s = consume(h.llm.stream(REQ));
    await waitFor(() => h.up.a?.count('stream') === 1, 'stream request at a');
    await h.clock.advanceAsync(2000);
    expect((await s.done).every((c) => c.model === 'b/m2')).toBe(true);
  });
});

describe('after the first content chunk the stream belongs to the caller', () => {
  const breaks: { name: string; behavior: MockBehavior; partial: string; cause: ErrorClass }[] = [
    {
      name: 'the connection resets',
      behavior: { streamThenReset: 2 },
      partial: 'x'.repeat(8),
      cause: ProviderConnectionError,
    },
    {
      name: 'the body ends without finish reason or end marker',
      behavior: { streamThenEnd: 2 },
      partial: 'x'.repeat(8),
      cause: ProviderResponseError,
    },
    {
      name: 'an in-band error frame arrives',
      behavior: { inBandError: 'server', after: 2 },
      partial: 'y'.repeat(8),
      cause: ProviderHTTPError,
    },
  ];
  for (const protocol of ['openai', 'ollama', 'google', 'anthropic'] as const) {
    for (const br of breaks) {
      it(`${protocol}: ${br.name} → StreamInterruptedError, b never contacted`, async () => {
        const { llm, a, b, events } = await setup(protocol);
        a.enqueue(br.behavior);
        const s = consume(llm.stream(REQ));
        const err = (await rejection(s.done)) as StreamInterruptedError;
        expect(err).toBeInstanceOf(StreamInterruptedError);
        expect(err.resolved).toBe('a/m1');
        expect(err.partial.content).toBe(br.partial);
        expect(err.partial.toolCalls).toEqual([]);
        expect(err.cause).toBeInstanceOf(br.cause);
        expect(err.httpStatus).toBe(502);
        expect(textOf(s.chunks)).toBe(br.partial);
        expect(s.chunks.every((c) => c.model === 'a/m1')).toBe(true);
        expect(b.count()).toBe(0);
        expect(events.of('failure')).toEqual([expect.objectContaining({ kind: 'stream', error: err })]);
        expect(events.of('fallback')).toEqual([]);
      });
    }
  }

  it('silence longer than idleMs ends it with StreamInterruptedError (fake clock)', async () => {
    const { llm, clock, a, b } = await setup('openai', { timeouts: { idleMs: 3000 } });
    a.enqueue({ streamThenStall: 2 });
    const s = consume(llm.stream(REQ));
    await waitFor(() => textOf(s.chunks) === 'x'.repeat(8), 'two content chunks');
    await clock.advanceAsync(2999);
    await clock.advanceAsync(1);
    const err = (await rejection(s.done)) as StreamInterruptedError;
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(err.cause).toBeInstanceOf(ProviderTimeoutError);
    expect(err.partial.content).toBe('x'.repeat(8));
    expect(b.count()).toBe(0);
  });

  it('idleMs counts from the wait, also when the first-chunk timer outlives the commit (firstChunkMs = idleMs)', async () => {
    const { llm, clock, a } = await setup('openai', { timeouts: { firstChunkMs: 3000, idleMs: 3000 } });
    a.enqueue({ streamThenStall: 2 });
    const it = llm.stream(REQ)[Symbol.asyncIterator]();
    let text = '';
    while (text.length < 8) text += (await it.next()).value?.choices[0]?.delta.content ?? '';
    await clock.advanceAsync(2000); // the consumer holds its chunks: not idle
    let failed: unknown;
    const next = it.next().catch((err: unknown) => {
      failed = err;
    });
    await clock.advanceAsync(2999); // the attempt's timer fires at 3000, 1000 into the wait: not yet idle
    expect(failed).toBeUndefined();
    await clock.advanceAsync(1);
    await next;
    expect(failed).toBeInstanceOf(StreamInterruptedError);
    expect((failed as StreamInterruptedError).cause).toBeInstanceOf(ProviderTimeoutError);
  });

  it('a wait that began after the idle timer was armed is cut at exactly idleMs of silence, not 1 ms sooner', async () => {
    const { llm, clock, a } = await setup('openai', { timeouts: { idleMs: 3000 } });
    a.enqueue({ streamThenStall: 2 });
    const it = llm.stream(REQ)[Symbol.asyncIterator]();
    let text = '';
    while (text.length < 8) text += (await it.next()).value?.choices[0]?.delta.content ?? '';
    await clock.advanceAsync(1); // the consumer holds its chunks for 1 ms
    let failed: unknown;
    const next = it.next().catch((err: unknown) => {
      failed = err;
    });
    await clock.advanceAsync(2999); // the timer fires 2999 ms into the wait: not idle yet
    expect(failed).toBeUndefined();
    await clock.advanceAsync(1);
    await next;
    expect((failed as StreamInterruptedError).cause).toBeInstanceOf(ProviderTimeoutError);
  });

  it('neither idleMs nor the total budget count the time the consumer spends between chunks', async () => {
    const { llm, clock, a } = await setup('openai', { timeouts: { idleMs: 3000, totalMs: 5000 } });
    a.setDefault({ reply: 'One two three', chunks: 3 });
    const it = llm.stream(REQ)[Symbol.asyncIterator]();
    let text = '';
    // Past the held opening chunks: the first two content chunks, the second read from the live upstream.
    while (text.length < 'One two t'.length) {
      const r = await it.next();
      if (r.done) break;
      text += r.value.choices[0]?.delta.content ?? '';
    }
    await clock.advanceAsync(10_000); // the consumer is busy with what it has
    for (let r = await it.next(); !r.done; r = await it.next())
      text += r.value.choices[0]?.delta.content ?? '';
    expect(text).toBe('One two three');
  });
});

describe('the consumer stopping early', () => {
  it('breaking out of for-await closes the upstream socket and frees the slot', async () => {
    const hang = await hangingUpstream({ chunks: 3 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY, maxConcurrent: 1 } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    let seen = '';
    for await (const c of llm.stream(REQ)) {
      seen += c.choices[0]?.delta.content ?? '';
      if (seen) break;
    }
    expect(seen).toBe('p0');
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('ready');
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('an aborted signal before the stream starts rejects with its reason and calls nothing', async () => {
    const { llm, a } = await setup();
    const reason = new Error('never mind');
    const err = await rejection(collect(llm.stream(REQ, { signal: AbortSignal.abort(reason) })));
    expect(err).toBe(reason);
    expect(a.count()).toBe(0);
  });

  it('aborting before the first content chunk rethrows the reason, with no fallback', async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    const ac = new AbortController();
    const s = consume(h.llm.stream(REQ, { signal: ac.signal }));
    await waitFor(() => hang.received === 1, 'stream request at a');
    const reason = new Error('user left');
    ac.abort(reason);
    expect(await rejection(s.done)).toBe(reason);
    expect(h.up.b?.count()).toBe(0);
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(h.llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('aborting after commit rethrows the reason (not StreamInterruptedError) and closes the upstream', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    const ac = new AbortController();
    const s = consume(h.llm.stream(REQ, { signal: ac.signal }));
    await waitFor(() => textOf(s.chunks) === 'p0p1', 'two content chunks');
    expect(hang.closedByClient).toBe(0);
    const reason = new DOMException('stop', 'AbortError');
    ac.abort(reason);
    expect(await rejection(s.done)).toBe(reason);
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
    expect(h.up.b?.count()).toBe(0);
    expect(h.llm.health().providers.a).toMatchObject({ consecutiveFailures: 0, state: 'closed' });
  });
});
