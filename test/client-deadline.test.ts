import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, ProviderTimeoutError } from '../src/index.js';
import {
  closeAll,
  consume,
  type HarnessOptions,
  harness,
  rejection,
  USER,
  waitFor,
} from './helpers/client.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup(options: HarnessOptions, providers = {}) {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai', c: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2', 'c/m3'] },
    providers,
    options,
  });
  return { ...h, a: h.up.a!, b: h.up.b!, c: h.up.c! };
}

describe('one budget for the whole walk', () => {
  it('with default options a hung first entry is cut at half the budget and the backup answers', async () => {
    const { llm, clock, a, b } = await setup({});
    a.enqueue({ hang: true });
    const call = llm.chat(REQ);
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(59_999);
    expect(b.count()).toBe(0);
    await clock.advanceAsync(1);
    const res = await call;
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 60_000 }),
      expect.objectContaining({ target: 'b/m2', reason: 'ok' }),
    ]);
    expect(res.routing.attempts[0]?.error).toBeInstanceOf(ProviderTimeoutError);
  });

  it('with default options a stream whose first entry hangs commits on the backup', async () => {
    const { llm, clock, a, b } = await setup({});
    a.enqueue({ hang: true });
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(59_999);
    expect(b.count()).toBe(0);
    await clock.advanceAsync(1);
    const chunks = await s.done;
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks[0]?.model).toBe('b/m2');
    expect(b.count('stream')).toBe(1);
  });

  it('a stream’s attempt gets half of what is left until it commits, even with a longer firstChunkMs', async () => {
    const { llm, clock, a, b } = await setup({ timeouts: { totalMs: 10_000, firstChunkMs: 60_000 } });
    a.enqueue({ stallAfterHeaders: true });
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(4999);
    expect(b.count()).toBe(0);
    await clock.advanceAsync(1);
    const chunks = await s.done;
    expect(chunks[0]?.model).toBe('b/m2');
  });

  it('each entry gets half of what is left while entries remain, the last one all of the rest', async () => {
    const { llm, clock, a, b, c, events } = await setup({ timeouts: { totalMs: 10_000 } });
    a.enqueue({ hang: true });
    b.enqueue({ hang: true });
    c.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(5000);
    await waitFor(() => b.count('chat') === 1, 'request at b');
    await clock.advanceAsync(2500);
    await waitFor(() => c.count('chat') === 1, 'request at c');
    await clock.advanceAsync(2499);
    expect(events.of('failure')).toEqual([]);
    await clock.advanceAsync(1);
    const err = (await call) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 5000 }),
      expect.objectContaining({ target: 'b/m2', reason: 'timeout', durationMs: 2500 }),
      expect.objectContaining({ target: 'c/m3', reason: 'timeout', durationMs: 2500 }),
    ]);
    expect(err.cause).toBeInstanceOf(ProviderTimeoutError);
    expect(events.of('failure')).toEqual([expect.objectContaining({ durationMs: 10_000, error: err })]);
  });

  it('an attempt that fails exactly at the deadline leaves nothing: every later entry is recorded as deadline', async () => {
    const { llm, clock, a, b, c } = await setup({ timeouts: { totalMs: 1000 } });
    a.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    // a's share (500 ms) runs out on the way, and it fails with the clock on the deadline: left is 0.
    clock.advance(1000);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 1000 }),
      { target: 'b/m2', reason: 'deadline' },
      { target: 'c/m3', reason: 'deadline' },
    ]);
    expect(b.count() + c.count()).toBe(0);
  });

  it('an entry with nothing callable after it gets the whole budget', async () => {
    const { llm, clock, a, b } = await setup({ timeouts: { totalMs: 10_000 } });
    a.enqueue({ hang: true });
    const call = rejection(llm.chat({ ...REQ, model: 'a/m1' }));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(9_999);
    await clock.advanceAsync(1);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 10_000 }),
    ]);
    expect(b.count()).toBe(0);
  });

  it('later entries that would be skipped leave the current one the whole budget', async () => {
    const { llm, clock, a, b, c } = await setup({ timeouts: { totalMs: 10_000 } });
    // b and c answer 429 with a long Retry-After: both cool down and will be skipped by the next call.
    a.enqueue({ status: 503 });
    b.enqueue({ status: 429, headers: { 'retry-after': '600' } });
    c.enqueue({ status: 429, headers: { 'retry-after': '600' } });
    await rejection(llm.chat(REQ));
    a.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 2, 'second request at a');
    await clock.advanceAsync(9_999);
    await clock.advanceAsync(1);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 10_000 }),
      expect.objectContaining({ target: 'b/m2', reason: 'cooling' }),
      expect.objectContaining({ target: 'c/m3', reason: 'cooling' }),
    ]);
    expect(b.count() + c.count()).toBe(2);
  });

  it('a call’s timeoutMs replaces totalMs', async () => {
    const { llm, clock, a, b, c } = await setup({ timeouts: { totalMs: 10_000 } });
    a.enqueue({ hang: true });
    b.enqueue({ hang: true });
    c.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ, { timeoutMs: 3000 }));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(1500);
    await waitFor(() => b.count('chat') === 1, 'request at b');
    await clock.advanceAsync(750);
    await waitFor(() => c.count('chat') === 1, 'request at c');
    await clock.advanceAsync(750);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts.map((x) => [x.reason, x.durationMs])).toEqual([
      ['timeout', 1500],
      ['timeout', 750],
      ['timeout', 750],
    ]);
  });

  it('a provider timeoutMs caps one attempt below its share; the next entries share what is left', async () => {
    const { llm, clock, a, b, c } = await setup(
      { timeouts: { totalMs: 10_000 } },
      { a: { timeoutMs: 4000 } },
    );
    a.enqueue({ hang: true });
    b.enqueue({ hang: true });
    c.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(4000);
    await waitFor(() => b.count('chat') === 1, 'request at b');
    await clock.advanceAsync(2999);
    expect(c.count()).toBe(0);
    await clock.advanceAsync(1);
    await waitFor(() => c.count('chat') === 1, 'request at c');
    await clock.advanceAsync(3000);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 4000 }),
      expect.objectContaining({ target: 'b/m2', reason: 'timeout', durationMs: 3000 }),
      expect.objectContaining({ target: 'c/m3', reason: 'timeout', durationMs: 3000 }),
    ]);
  });

  it('an answer within the budget after a timed-out entry is served', async () => {
    const { llm, clock, a } = await setup({ timeouts: { totalMs: 10_000 } }, { a: { timeoutMs: 4000 } });
    a.enqueue({ hang: true });
    const call = llm.chat(REQ);
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(4000);
    const res = await call;
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts.map((x) => x.reason)).toEqual(['timeout', 'ok']);
  });

  it('embeddings share the budget the same way', async () => {
    const { llm, clock, a, b } = await setup({ timeouts: { totalMs: 2000 } });
    a.enqueue({ hang: true });
    const call = llm.embed({ model: 'mana/x', input: 'x' });
    await waitFor(() => a.count('embed') === 1, 'embed request at a');
    await clock.advanceAsync(999);
    expect(b.count()).toBe(0);
    await clock.advanceAsync(1);
    const res = await call;
    expect(res.routing.attempts.map((x) => [x.target, x.reason])).toEqual([
      ['a/m1', 'timeout'],
      ['b/m2', 'ok'],
    ]);
  });
});

describe("the caller's abort and its attempt's timeout in the same turn", () => {
  it("the abort came first: the call rejects with the caller's reason, counting nothing against the provider", async () => {
    const { llm, clock, a, events } = await setup({}, { a: { timeoutMs: 1_000 } });
    a.setDefault({ hang: true });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const call = rejection(llm.chat(REQ, { signal: ac.signal }));
    await waitFor(() => a.count('chat') === 1, 'the call waiting at a');
    ac.abort(reason);
    clock.advance(1_000); // the attempt's timer falls due before the walk has seen the abort
    expect(await call).toBe(reason);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
    expect(events.of('fallback')).toEqual([]);
  });
});
