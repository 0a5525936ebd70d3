import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatChunk, type ProviderAdapter, StreamInterruptedError } from '../../src/index.js';
import { closeAll, harness, KEY, rejection, textOf, USER, waitFor } from '../helpers/client.js';
import { hangingUpstream, rawUpstream } from '../helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
  });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

/** A client whose one provider `a` (maxConcurrent 1) is an upstream that streams 3 pieces and goes silent. */
async function hanging() {
  const hang = await hangingUpstream({ chunks: 3 });
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY, maxConcurrent: 1 } },
  });
  return { ...h, hang, req: { model: 'a/m', messages: USER } };
}

const frame = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('a stream left at each stage', () => {
  it('a clean empty stream whose final chunk the consumer holds past timeouts.firstChunkMs still ends as a success', async () => {
    const { llm, a, clock, events } = await setup();
    a.setDefault({ reply: '' });
    const s = llm.stream(REQ);
    const first = await s.next();
    expect(first.value?.choices[0]?.finish_reason).toBe('stop');
    clock.advance(120_000);
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(events.count('failure')).toBe(0);
    expect(events.count('response')).toBe(1);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('breaking at the first chunk closes the upstream, reports cancel once and frees the slot (maxConcurrent)', async () => {
    const { llm, hang, events, req } = await hanging();
    for (let i = 1; i <= 2; i++) {
      for await (const c of llm.stream(req)) {
        if (textOf([c]) === '') continue;
        expect(textOf([c])).toBe('p0');
        break;
      }
      await waitFor(() => hang.closedByClient === i, 'upstream closed');
    }
    expect(events.count('cancel')).toBe(2);
    expect(events.of('cancel')[0]).toMatchObject({ kind: 'stream', resolved: 'a/m' });
    expect(events.count('response') + events.count('failure')).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it("the consumer's throw() at a chunk rejects with its own error, reports cancel (not failure) and frees the slot", async () => {
    const { llm, hang, events, req } = await hanging();
    const s = llm.stream(req);
    await s.next();
    await s.next();
    const mine = new Error('consumer gave up');
    expect(await rejection(s.throw(mine))).toBe(mine);
    await waitFor(() => hang.closedByClient === 1, 'upstream closed');
    expect(events.count('cancel')).toBe(1);
    expect(events.count('failure')).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
    // The slot is free: the next stream commits.
    const again = llm.stream(req);
    expect((await again.next()).done).toBe(false);
    await again.return();
  });

  it('return() while a next() is pending takes effect when timeouts.idleMs ends the read: one failure, slot freed', async () => {
    const { llm, hang, events, clock, req } = await hanging();
    const s = llm.stream(req);
    for (let i = 0; i < 4; i++) await s.next(); // the role chunk, p0, p1, p2
    const pending = s.next();
    const ret = s.return();
    clock.advance(60_000);
    const err = await rejection(pending);
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial.content).toBe('p0p1p2');
    expect(await ret).toEqual({ done: true, value: undefined });
    await waitFor(() => hang.closedByClient === 1, 'upstream closed');
    expect(events.count('failure')).toBe(1);
    expect(events.count('cancel') + events.count('response')).toBe(0);
    const again = llm.stream(req);
    expect((await again.next()).done).toBe(false);
    await again.return();
  });

  it('an upstream that resets its socket after [DONE] has served the stream', async () => {
    const raw = await rawUpstream((_, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`${frame({ content: 'Hi' })}${frame({}, 'stop')}data: [DONE]\n\n`, () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
    });
    const { llm, events } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    const chunks = [];
    for await (const c of llm.stream({ model: 'a/m', messages: USER })) chunks.push(c);
    expect(textOf(chunks)).toBe('Hi');
    expect(events.count('response')).toBe(1);
    expect(events.count('failure')).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('a role-only chunk before an outage does not commit: the stream falls back and nothing of the first entry leaks', async () => {
    const raw = await rawUpstream((_, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame({ role: 'assistant', content: '' }), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const h = await harness({
      upstreams: { b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    h.up.b?.setDefault({ reply: 'From b.' });
    const chunks = [];
    for await (const c of h.llm.stream(REQ)) chunks.push(c);
    expect(textOf(chunks)).toBe('From b.');
    expect(chunks.every((c) => c.model === 'b/m2')).toBe(true);
    expect(h.events.of('response')[0]?.attempts?.map((a) => [a.target, a.reason])).toEqual([
      ['a/m1', 'connection'],
      ['b/m2', 'ok'],
    ]);
  });
});

describe("a custom adapter's stream the consumer leaves", () => {
  it('gets its context signal aborted, as a built-in adapter has its request cancelled', async () => {
    const chunk = (content: string) => ({
      id: 'c',
      object: 'chat.completion.chunk' as const,
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    });
    let signal: AbortSignal | undefined;
    const mine: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      async *stream(_r, ctx) {
        signal = ctx.signal;
        yield chunk('a');
        yield chunk('b');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const { llm, events } = await harness({
      upstreams: {},
      providers: { mine: { type: 'custom', adapter: mine } },
    });
    for await (const c of llm.stream({ model: 'mine/m', messages: USER })) {
      expect(textOf([c])).toBe('a');
      break;
    }
    expect(signal?.aborted).toBe(true);
    expect(events.count('cancel')).toBe(1);
  });
});

describe('what a stream leaves behind', () => {
  it.each(['finished', 'broken off'])('no timer of timeouts.streamMs once it is %s', async (how) => {
    const h = await harness({ upstreams: { a: 'openai' }, options: { timeouts: { streamMs: 600_000 } } });
    h.up.a?.setDefault({ reply: 'One two three' });
    for await (const c of h.llm.stream({ model: 'a/m', messages: USER })) {
      if (how === 'broken off' && textOf([c]) !== '') break;
    }
    expect(h.clock.pending()).toBe(0);
  });

  it("a custom adapter's stream that fails before its first content is returned (its finally runs) as it falls back", async () => {
    let cleaned = false;
    const mine: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      async *stream() {
        try {
          yield 'not a chunk' as never;
          yield 'never read' as never;
        } finally {
          cleaned = true;
        }
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { mine: { type: 'custom', adapter: mine } },
      aliases: { 'mana/x': ['mine/m', 'b/m2'] },
    });
    h.up.b?.setDefault({ reply: 'From b.' });
    const chunks = [];
    for await (const c of h.llm.stream(REQ)) chunks.push(c);
    expect(textOf(chunks)).toBe('From b.');
    await waitFor(() => cleaned, "the adapter's generator returned");
  });
});

describe('the commit point', () => {
  it('a reasoning chunk commits: an outage after it interrupts the stream instead of falling back', async () => {
    const raw = await rawUpstream((_, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame({ role: 'assistant', reasoning_content: 'Thinking' }), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
    });
    const h = await harness({
      upstreams: { b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    const chunks: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of h.llm.stream(REQ)) chunks.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content)).toEqual(['Thinking']);
    expect(h.up.b?.count()).toBe(0);
  });
});

describe('a served call lets go of its attempt', () => {
  it("close() after a custom adapter's answer does not abort that finished call's signal", async () => {
    let signal: AbortSignal | undefined;
    const mine: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: (r, ctx) => {
        signal = ctx.signal;
        return Promise.resolve({
          id: 'x',
          object: 'chat.completion',
          created: 1,
          model: r.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        });
      },
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const { llm } = await harness({ upstreams: {}, providers: { mine: { type: 'custom', adapter: mine } } });
    expect((await llm.chat({ model: 'mine/m', messages: USER })).choices[0]?.message.content).toBe('ok');
    await llm.close();
    expect(signal?.aborted).toBe(false);
  });
});

it('a served chat call frees its slot: maxConcurrent 1 serves one call after another', async () => {
  const h = await harness({
    upstreams: { a: 'openai' },
    providers: { a: { type: 'openai', maxConcurrent: 1 } },
  });
  for (let i = 0; i < 2; i++)
    expect((await h.llm.chat({ model: 'a/m', messages: USER })).routing.resolved).toBe('a/m');
});
