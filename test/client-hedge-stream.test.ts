// Hedged streams: a hedge starts only before the commit point (the first content chunk), never after it.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatChunk, ProviderAdapter } from '../src/index.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, consume, harness, KEY, textOf, USER, waitFor } from './helpers/client.js';
import { type HangingUpstream, hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup(raw: Record<string, HangingUpstream>, mocks: string[], chain: string[]) {
  return harness({
    upstreams: Object.fromEntries(mocks.map((id) => [id, 'openai' as const])),
    providers: Object.fromEntries(
      Object.entries(raw).map(([id, up]) => [id, { type: 'openai' as const, baseUrl: up.url, apiKey: KEY }]),
    ),
    aliases: { 'mana/x': { chain: chain.map((id) => `${id}/m`), hedge: { afterMs: 300 } } },
  });
}

describe('hedged streams', () => {
  it('a stream whose first entry has not committed after afterMs commits on the backup; the first is cancelled', async () => {
    const a = await hangingUpstream();
    const { llm, clock, events } = await setup({ a }, ['b'], ['a', 'b']);
    const opening = llm.openStream(REQ);
    await waitFor(() => a.received === 1, 'stream request at a');
    await clock.advanceAsync(300);
    const stream = await opening;
    expect(stream.model).toBe('b/m');
    expect(stream.routing.attempts).toEqual([
      { target: 'a/m', reason: 'hedged-out', durationMs: 300 },
      { target: 'b/m', reason: 'ok', durationMs: 0 },
    ]);
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(textOf(chunks)).toBe('Hello!');
    expect(chunks.every((c) => c.model === 'b/m')).toBe(true);
    await waitFor(() => a.closedByClient === 1, 'a’s socket closed by the client');
    expect(events.of('hedge')).toEqual([
      { id: expect.any(String), kind: 'stream', from: 'a/m', to: 'b/m', afterMs: 300 },
    ]);
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('a first entry that commits before the backup does wins; the backup is cancelled', async () => {
    let held: { model: string; res: ServerResponse } | undefined;
    const a = await rawUpstream((text, res) => {
      held = { model: (JSON.parse(text) as { model: string }).model, res };
    });
    const b = await hangingUpstream();
    const { llm, clock } = await setup({ a, b }, [], ['a', 'b']);
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.received === 1, 'stream request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.received === 1, 'hedge at b');
    const frames = openaiCodec.stream({ reply: 'late but first', chunks: 2 }, held!.model);
    held!.res.writeHead(200, { 'content-type': frames.contentType });
    held!.res.end([...frames.prelude, ...frames.content, ...frames.end].join(''));
    const chunks = await s.done;
    expect(textOf(chunks)).toBe('late but first');
    expect(chunks.every((c) => c.model === 'a/m')).toBe(true);
    await waitFor(() => b.closedByClient === 1, 'b’s socket closed by the client');
    expect(llm.health().providers.b).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('never hedges after the commit: a committed stream that goes silent is not doubled', async () => {
    const a = await hangingUpstream({ chunks: 2 });
    const { llm, clock, up, events } = await setup({ a }, ['b'], ['a', 'b']);
    const s = consume(llm.stream(REQ));
    await waitFor(() => s.chunks.length > 0, 'a committed');
    await clock.advanceAsync(5000);
    expect(up.b!.count()).toBe(0);
    expect(events.of('hedge')).toEqual([]);
    expect(s.chunks.every((c) => c.model === 'a/m')).toBe(true);
  });
});

describe('hedged streams of adapters that ignore their signal', () => {
  /** A custom adapter whose stream waits for the test, then sends its name and a finish; `closed` once let go. */
  function gated(id: string) {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const chunk = (delta: object, finish: 'stop' | null): ChatChunk => ({
      id,
      object: 'chat.completion.chunk',
      created: 1,
      model: `${id}/m`,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const self = {
      calls: 0,
      closed: false,
      open: () => open(),
      adapter: {
        capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
        chat: () => Promise.reject(new Error('not used')),
        async *stream() {
          self.calls++;
          try {
            await gate;
            yield chunk({ content: `from ${id}` }, null);
            yield chunk({}, 'stop');
          } finally {
            self.closed = true;
          }
        },
        embed: () => Promise.reject(new Error('not used')),
        probe: () => Promise.resolve({ ok: true }),
        models: () => Promise.resolve(['m']),
      } satisfies ProviderAdapter,
    };
    return self;
  }

  it('both committing in the same turn: the loser is closed and none of its chunks reach the consumer', async () => {
    const a = gated('a');
    const b = gated('b');
    const { llm, clock } = await harness({
      upstreams: {},
      providers: { a: { type: 'custom', adapter: a.adapter }, b: { type: 'custom', adapter: b.adapter } },
      aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } } },
    });
    const opening = llm.openStream(REQ);
    await waitFor(() => a.calls === 1, 'stream at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.calls === 1, 'hedge at b');
    a.open();
    b.open();
    const stream = await opening;
    const [winner, loser] = stream.model === 'a/m' ? [a, b] : [b, a];
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(textOf(chunks)).toBe(`from ${stream.model.slice(0, 1)}`);
    expect(chunks.every((c) => c.model === stream.model)).toBe(true);
    expect(winner.closed).toBe(true);
    await waitFor(() => loser.closed, 'the loser’s stream closed');
  });
});
