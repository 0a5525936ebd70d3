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
  it('timeouts.totalMs: an entry that hangs eats the budget and the rest are left with none', async () => {
    const { llm, clock, a, b, c, events } = await setup({ timeouts: { totalMs: 10_000 } });
    a.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(9_999);
    expect(b.count()).toBe(0);
    await clock.advanceAsync(1);
    const err = (await call) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 10_000 }),
      { target: 'b/m2', reason: 'deadline' },
      { target: 'c/m3', reason: 'deadline' },
    ]);
    expect(err.cause).toBeInstanceOf(ProviderTimeoutError);
    expect(b.count() + c.count()).toBe(0);
    expect(events.of('failure')).toEqual([expect.objectContaining({ durationMs: 10_000, error: err })]);
  });

  it('a call’s timeoutMs replaces totalMs', async () => {
    const { llm, clock, a, b } = await setup({ timeouts: { totalMs: 10_000 } });
    a.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ, { timeoutMs: 3000 }));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(3000);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts.map((x) => x.reason)).toEqual(['timeout', 'deadline', 'deadline']);
    expect(err.attempts[0]?.durationMs).toBe(3000);
    expect(b.count()).toBe(0);
  });

  it('a provider timeoutMs caps one attempt; the next entry gets what is left', async () => {
    const { llm, clock, a, b, c } = await setup(
      { timeouts: { totalMs: 10_000 } },
      { a: { timeoutMs: 4000 } },
    );
    a.enqueue({ hang: true });
    b.enqueue({ hang: true });
    const call = rejection(llm.chat(REQ));
    await waitFor(() => a.count('chat') === 1, 'request at a');
    await clock.advanceAsync(4000);
    await waitFor(() => b.count('chat') === 1, 'request at b');
    await clock.advanceAsync(5999);
    expect(c.count()).toBe(0);
    await clock.advanceAsync(1);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'timeout', durationMs: 4000 }),
      expect.objectContaining({ target: 'b/m2', reason: 'timeout', durationMs: 6000 }),
      { target: 'c/m3', reason: 'deadline' },
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

  it('a stream spends the same budget until it commits', async () => {
    const { llm, clock, a, b } = await setup({ timeouts: { totalMs: 5000, firstChunkMs: 60_000 } });
    a.enqueue({ stallAfterHeaders: true });
    const s = consume(llm.stream(REQ));
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(5000);
    const err = (await rejection(s.done)) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((x) => x.reason)).toEqual(['timeout', 'deadline', 'deadline']);
    expect(b.count()).toBe(0);
    expect(s.chunks).toEqual([]);
  });

  it('embeddings share the budget too', async () => {
    const { llm, clock, a } = await setup({ timeouts: { totalMs: 2000 } });
    a.enqueue({ hang: true });
    const call = rejection(llm.embed({ model: 'mana/x', input: 'x' }));
    await waitFor(() => a.count('embed') === 1, 'embed request at a');
    await clock.advanceAsync(2000);
    const err = (await call) as NoHealthyProviderError;
    expect(err.attempts.map((x) => x.reason)).toEqual(['timeout', 'deadline', 'deadline']);
  });
});
