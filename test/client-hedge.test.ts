// Hedged attempts on chat and embed: fake clock, real sockets. A hedged-out loser's socket is closed and its
// provider's health is untouched; at most two attempts are in flight; the per-client budget caps hedges.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM, InvalidRequestError, NoHealthyProviderError } from '../src/index.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, type HarnessOptions, harness, KEY, rejection, USER, waitFor } from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

/** An OpenAI-compatible upstream that holds every request until the test answers it. */
async function heldUpstream() {
  const held: { model: string; res: ServerResponse }[] = [];
  const up = await rawUpstream((text, res) => {
    held.push({ model: (JSON.parse(text) as { model: string }).model, res });
  });
  const answer = (reply: string) => {
    const h = held.shift();
    if (!h) throw new Error('no request held');
    h.res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply }, h.model)));
  };
  return Object.assign(up, { answer });
}

/** A client whose chain is `ids` (each `<id>/m`), the given ones served by raw upstreams, the rest by mocks. */
async function setup(opts: {
  raw: Record<string, { url: string }>;
  mocks?: string[];
  hedge?: number | 'auto';
  options?: HarnessOptions;
  chain: string[];
}) {
  const providers = Object.fromEntries(
    Object.entries(opts.raw).map(([id, up]) => [
      id,
      { type: 'openai' as const, baseUrl: up.url, apiKey: KEY },
    ]),
  );
  const chain = opts.chain.map((id) => `${id}/m`);
  return harness({
    upstreams: Object.fromEntries((opts.mocks ?? []).map((id) => [id, 'openai' as const])),
    providers,
    aliases: {
      'mana/x': opts.hedge === undefined ? { chain } : { chain, hedge: { afterMs: opts.hedge } },
      'mana/e': opts.hedge === undefined ? { chain } : { chain, hedge: { afterMs: opts.hedge } },
    },
    ...(opts.options ? { options: opts.options } : {}),
  });
}

const untouched = { state: 'closed', healthy: true, consecutiveFailures: 0, lastError: null };

describe('hedged chat', () => {
  it('a hung first entry is answered by the backup just after afterMs; the hung attempt is cancelled, its health untouched', async () => {
    const a = await hangingUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 300,
      options: { health: { failureThreshold: 1 } },
    });
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(299);
    expect(up.b!.count()).toBe(0);
    await clock.advanceAsync(1);
    const res = await call;
    expect(res.model).toBe('b/m');
    expect(res.routing.attempts).toEqual([
      { target: 'a/m', reason: 'hedged-out', durationMs: 300 },
      { target: 'b/m', reason: 'ok', durationMs: 0 },
    ]);
    await waitFor(() => a.closedByClient === 1, 'a’s socket closed by the client');
    expect(llm.health().providers.a).toMatchObject(untouched);
    expect(events.of('hedge')).toEqual([
      { id: expect.any(String), kind: 'chat', from: 'a/m', to: 'b/m', afterMs: 300 },
    ]);
    expect(events.count('fallback') + events.count('failure') + events.count('health')).toBe(0);
    // The hung attempt's slot was freed: a is called again (not `saturated`), and hedged again.
    const again = llm.chat(REQ);
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(300);
    expect((await again).model).toBe('b/m');
  });

  it('a slow first entry that answers before the backup wins; the backup is cancelled, its health untouched', async () => {
    const a = await heldUpstream();
    const b = await hangingUpstream();
    const { llm, clock, events } = await setup({ raw: { a, b }, chain: ['a', 'b'], hedge: 300 });
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.received === 1, 'hedge at b');
    await clock.advanceAsync(150);
    a.answer('slow but here');
    const res = await call;
    expect(res.model).toBe('a/m');
    expect(res.choices[0]?.message.content).toBe('slow but here');
    expect(res.routing.attempts).toEqual([
      { target: 'a/m', reason: 'ok', durationMs: 450 },
      { target: 'b/m', reason: 'hedged-out', durationMs: 150 },
    ]);
    await waitFor(() => b.closedByClient === 1, 'b’s socket closed by the client');
    expect(llm.health().providers.b).toMatchObject(untouched);
    expect(events.of('hedge')).toHaveLength(1);
    expect(events.count('fallback')).toBe(0);
  });

  it('keeps at most one hedge in flight; a hedge is not hedged; the walk falls through after both as usual', async () => {
    const [a, b, c] = await Promise.all([hangingUpstream(), hangingUpstream(), hangingUpstream()]);
    const { llm, clock, events } = await setup({
      raw: { a: a!, b: b!, c: c! },
      chain: ['a', 'b', 'c'],
      hedge: 300,
      options: { timeouts: { totalMs: 10_000 } },
    });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a!.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b!.received === 1, 'hedge at b');
    // a's own budget (half of 10 s) runs out at 5000: b goes on alone, nothing new starts beside it.
    await clock.advanceAsync(4849);
    expect(c!.received).toBe(0);
    // b got half of what was left when it started (9700 / 2): it times out at 5150, then c is called.
    await clock.advanceAsync(1);
    await waitFor(() => c!.received === 1, 'request at c');
    await clock.advanceAsync(4850);
    const err = (await call) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m', reason: 'timeout', durationMs: 5000 }),
      expect.objectContaining({ target: 'b/m', reason: 'timeout', durationMs: 4850 }),
      expect.objectContaining({ target: 'c/m', reason: 'timeout', durationMs: 4850 }),
    ]);
    expect(events.of('hedge')).toEqual([expect.objectContaining({ from: 'a/m', to: 'b/m' })]);
  });

  it('when the original fails while its hedge runs, the hedge goes on and answers', async () => {
    const a = await heldUpstream();
    const b = await heldUpstream();
    const { llm, clock } = await setup({ raw: { a, b }, chain: ['a', 'b'], hedge: 300 });
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.received === 1, 'hedge at b');
    // a's request fails (its socket is cut): a counted failure, b is still the call's attempt.
    a.close();
    await waitFor(() => llm.health().providers.a!.consecutiveFailures === 1, 'a’s failure recorded');
    b.answer('from b');
    const res = await call;
    expect(res.model).toBe('b/m');
    expect(res.routing.attempts).toEqual([
      expect.objectContaining({ target: 'a/m', reason: 'connection' }),
      expect.objectContaining({ target: 'b/m', reason: 'ok' }),
    ]);
  });

  it('the hedge budget stops hedging during an outage', async () => {
    const a = await hangingUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 300,
    });
    const calls = Array.from({ length: 40 }, () => llm.chat(REQ));
    await waitFor(() => a.received === 40, 'all 40 requests at a');
    await clock.advanceAsync(300);
    await waitFor(() => up.b!.count('chat') === 10, 'hedges at b');
    // The budget starts with hedging.budgetMax (10) tokens: 10 calls hedge, the other 30 wait for a's timeout.
    await clock.advanceAsync(1000);
    expect(events.of('hedge')).toHaveLength(10);
    expect(up.b!.count('chat')).toBe(10);
    await clock.advanceAsync(60_000);
    const all = await Promise.all(calls);
    expect(all.every((r) => r.model === 'b/m')).toBe(true);
    expect(events.of('hedge')).toHaveLength(10);
    expect(all.filter((r) => r.routing.attempts[0]?.reason === 'hedged-out')).toHaveLength(10);
  });

  it('hedgeAfterMs on the call overrides the alias; 0 turns hedging off', async () => {
    const a = await hangingUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 300,
    });
    const later = llm.chat(REQ, { hedgeAfterMs: 1000 });
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(999);
    expect(up.b!.count()).toBe(0);
    await clock.advanceAsync(1);
    expect((await later).model).toBe('b/m');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ afterMs: 1000 })]);

    const stop = new AbortController();
    const off = rejection(llm.chat(REQ, { hedgeAfterMs: 0, signal: stop.signal }));
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(5000);
    expect(up.b!.count()).toBe(1);
    stop.abort(new Error('enough'));
    expect(await off).toMatchObject({ message: 'enough' });
    expect(events.of('hedge')).toHaveLength(1);
  });

  it('hedgeAfterMs on a call hedges an alias without hedge', async () => {
    const a = await hangingUpstream();
    const { llm, clock } = await setup({ raw: { a }, mocks: ['b'], chain: ['a', 'b'] });
    const call = llm.chat(REQ, { hedgeAfterMs: 200 });
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(200);
    expect((await call).routing.attempts.map((x) => x.reason)).toEqual(['hedged-out', 'ok']);
  });

  it.each([[-1], [Number.NaN], ['soon'], [null]])('rejects hedgeAfterMs %s before any I/O', async (bad) => {
    const a = await hangingUpstream();
    const { llm } = await setup({ raw: { a }, mocks: ['b'], chain: ['a', 'b'] });
    const err = await rejection(llm.chat(REQ, { hedgeAfterMs: bad as number }));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).issues).toEqual([
      { path: 'hedgeAfterMs', message: expect.stringMatching(/>= 0/) },
    ]);
    expect(a.received).toBe(0);
  });
});

describe("afterMs: 'auto'", () => {
  it('does not hedge a target with no latency sample, then hedges after its high estimate (mean + 3 deviations)', async () => {
    const a = await heldUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 'auto',
    });
    const first = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(2000);
    expect(up.b!.count()).toBe(0);
    a.answer('after 2 s');
    expect((await first).model).toBe('a/m');
    // One sample of 2000 ms: mean 2000, deviation 1000, high estimate 5000.
    expect(llm.health().targets).toEqual([
      expect.objectContaining({
        target: 'a/m',
        latency: expect.objectContaining({ chat: expect.objectContaining({ ms: 2000 }) }),
      }),
    ]);
    const second = llm.chat(REQ);
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(4999);
    expect(up.b!.count()).toBe(0);
    await clock.advanceAsync(1);
    expect((await second).model).toBe('b/m');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ from: 'a/m', to: 'b/m', afterMs: 5000 })]);
  });

  it('never hedges sooner than hedging.autoMinMs', async () => {
    const a = await heldUpstream();
    const { llm, clock, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 'auto',
      options: { hedging: { autoMinMs: 250 } },
    });
    const first = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    a.answer('at once');
    await first;
    const second = llm.chat(REQ);
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(250);
    expect((await second).model).toBe('b/m');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ afterMs: 250 })]);
  });
});

describe('hedged embed', () => {
  it('a hung first embedding entry is answered by the backup after afterMs', async () => {
    const a = await hangingUpstream();
    const { llm, clock, events } = await setup({ raw: { a }, mocks: ['b'], chain: ['a', 'b'], hedge: 250 });
    const call = llm.embed({ model: 'mana/e', input: ['x', 'y'] });
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(250);
    const res = await call;
    expect(res.model).toBe('b/m');
    expect(res.data).toHaveLength(2);
    expect(res.routing.attempts.map((x) => x.reason)).toEqual(['hedged-out', 'ok']);
    await waitFor(() => a.closedByClient === 1, 'a’s socket closed by the client');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ kind: 'embed', from: 'a/m', to: 'b/m' })]);
    expect(llm.health().providers.a).toMatchObject(untouched);
  });
});

describe('hedging options', () => {
  it('are validated with their paths, an unknown key with a suggestion', () => {
    let err: unknown;
    try {
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
        hedging: { budgetRatio: 2, budgetMax: 0, autoMinMs: -1, budgetMx: 3 } as never,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual(
      expect.arrayContaining([
        { path: 'hedging.budgetRatio', message: 'must be <= 1' },
        { path: 'hedging.budgetMax', message: 'must be >= 1' },
        { path: 'hedging.autoMinMs', message: 'must be >= 0' },
        { path: 'hedging.budgetMx', message: expect.stringMatching(/budgetMax/) },
      ]),
    );
  });
});
