// Hedged attempts on chat and embed: fake clock, real sockets. A hedged-out loser's socket is closed and its
// provider's health is untouched; at most two attempts are in flight; the per-client budget caps hedges.
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, InvalidRequestError, NoHealthyProviderError } from '../src/index.js';
import { closeAll, harness, KEY, rejection, USER, waitFor } from './helpers/client.js';
import { heldUpstream, hedgeSetup as setup } from './helpers/hedge.js';
import { hangingUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

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

  it("the caller's abort while both attempts run: rejects with its reason, cancels both, frees both places", async () => {
    const [a, b] = await Promise.all([hangingUpstream(), hangingUpstream()]);
    const one = { type: 'openai' as const, apiKey: KEY, maxConcurrent: 1 };
    const { llm, clock, events } = await harness({
      upstreams: {},
      providers: { a: { ...one, baseUrl: a.url }, b: { ...one, baseUrl: b.url } },
      aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } } },
    });
    const ac = new AbortController();
    const call = rejection(llm.chat(REQ, { signal: ac.signal }));
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.received === 1, 'hedge at b');
    const reason = new Error('user went away');
    ac.abort(reason);
    expect(await call).toBe(reason);
    await waitFor(() => a.closedByClient + b.closedByClient === 2, 'both sockets closed by the client');
    expect(llm.health().providers.a).toMatchObject(untouched);
    expect(llm.health().providers.b).toMatchObject(untouched);
    // Both are recorded as cut short by the call's end, counting for no one.
    expect(events.of('failure')).toEqual([
      expect.objectContaining({
        attempts: [
          { target: 'a/m', reason: 'hedged-out', durationMs: 300 },
          { target: 'b/m', reason: 'hedged-out', durationMs: 0 },
        ],
      }),
    ]);
    expect(events.count('fallback')).toBe(0);
    expect(llm.resolve('mana/x').candidates.map((c) => c.state)).toEqual(['ready', 'ready']);
  });

  it('no hedge when no later entry is callable at the delay: that entry is still tried when the first fails later', async () => {
    const a = await hangingUpstream();
    const b = await heldUpstream();
    const { llm, clock, events } = await harness({
      upstreams: {},
      providers: {
        a: { type: 'openai', apiKey: KEY, baseUrl: a.url, timeoutMs: 1000 },
        b: { type: 'openai', apiKey: KEY, baseUrl: b.url, maxConcurrent: 1 },
      },
      aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } } },
    });
    // b's one place is taken by a direct call while the hedge is due.
    const direct = llm.chat({ model: 'b/m', messages: USER });
    await waitFor(() => b.received === 1, 'direct request at b');
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    expect(events.count('hedge')).toBe(0);
    b.answer('direct');
    await direct;
    // a times out at 1000 ms; b, free again, is the next attempt (not left behind as `saturated` at the delay).
    await clock.advanceAsync(700);
    await waitFor(() => b.received === 2, 'fallback request at b');
    b.answer('from b');
    const res = await call;
    expect(res.model).toBe('b/m');
    expect(res.routing.attempts.map((x) => x.reason)).toEqual(['timeout', 'ok']);
  });

  it('close() while both attempts run: rejects with ClosedError, both sockets closed, no failure counted', async () => {
    const [a, b] = await Promise.all([hangingUpstream(), hangingUpstream()]);
    const { llm, clock, events } = await setup({ raw: { a, b }, chain: ['a', 'b'], hedge: 300 });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.received === 1, 'hedge at b');
    const closing = llm.close();
    expect(await call).toBeInstanceOf(ClosedError);
    await closing;
    await waitFor(() => a.closedByClient + b.closedByClient === 2, 'both sockets closed by the client');
    expect(llm.health().providers.a).toMatchObject(untouched);
    expect(llm.health().providers.b).toMatchObject(untouched);
    expect(events.count('fallback') + events.count('health')).toBe(0);
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

  it('each hedged call adds budgetRatio to the budget: a spent budget hedges again after enough calls', async () => {
    const a = await hangingUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 300,
      options: { hedging: { budgetMax: 1, budgetRatio: 0.5 } },
    });
    // One call at a time: the first hedges (the one token), the second finds half a token, the third a whole one.
    for (const [n, hedges] of [
      [1, 1],
      [2, 1],
      [3, 2],
    ] as const) {
      const call = llm.chat(REQ);
      await waitFor(() => a.received === n, `request ${n} at a`);
      await clock.advanceAsync(300);
      expect(events.of('hedge')).toHaveLength(hedges);
      await clock.advanceAsync(60_000);
      expect((await call).model).toBe('b/m');
    }
    expect(up.b!.count('chat')).toBe(3);
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
