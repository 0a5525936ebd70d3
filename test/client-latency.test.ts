import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, consume, harness, KEY, rejection, USER, waitFor } from './helpers/client.js';
import { heldUpstream } from './helpers/held-upstream.js';

afterEach(closeAll);

async function setup(options = {}) {
  const a = await heldUpstream();
  const h = await harness({
    upstreams: { b: 'openai' },
    providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    options,
  });
  return { ...h, a };
}

const latencyOf = (
  llm: { health(): { targets: readonly { target: string; latency: unknown }[] } },
  t: string,
) => llm.health().targets.find((x) => x.target === t)?.latency;

describe('latency as data', () => {
  it('a chat call feeds its whole duration on the injected clock into health().targets and resolve()', async () => {
    const { llm, clock, a } = await setup();
    expect(llm.health().targets).toEqual([]);
    for (const ms of [400, 200]) {
      const call = llm.chat({ model: 'mana/x', messages: USER });
      await waitFor(() => a.held === 1, 'request held at a');
      await clock.advanceAsync(ms);
      a.answer();
      expect((await call).model).toBe('a/m1');
    }
    // 400 then 200: deviation 200 + (|400 - 200| - 200) / 4 = 200, mean 400 + (200 - 400) / 8 = 375.
    const latency = { chat: { ms: 375, deviationMs: 200, samples: 2 }, stream: null, embed: null };
    expect(llm.health().targets).toEqual([{ target: 'a/m1', until: null, latency }]);
    expect(llm.resolve('mana/x').candidates).toEqual([
      { target: 'a/m1', provider: 'a', model: 'm1', state: 'ready', latency },
      {
        target: 'b/m2',
        provider: 'b',
        model: 'm2',
        state: 'ready',
        latency: { chat: null, stream: null, embed: null },
      },
    ]);
  });

  it('shows the smoothed latency rounded to the nearest millisecond', async () => {
    const { llm, clock, a } = await setup();
    for (const ms of [400, 198]) {
      const call = llm.chat({ model: 'mana/x', messages: USER });
      await waitFor(() => a.held === 1, 'request held at a');
      await clock.advanceAsync(ms);
      a.answer();
      await call;
    }
    // mean 400 + (198 - 400) / 8 = 374.75 → 375; deviation 200 + (202 - 200) / 4 = 200.5 → 201.
    expect(latencyOf(llm, 'a/m1')).toEqual({
      chat: { ms: 375, deviationMs: 201, samples: 2 },
      stream: null,
      embed: null,
    });
  });

  it('a stream feeds its time to the first content chunk, not the whole stream; embeddings are their own series', async () => {
    const { llm, clock, a } = await setup();
    const s = consume(llm.stream({ model: 'mana/x', messages: USER }));
    await waitFor(() => a.held === 1, 'stream held at a');
    await clock.advanceAsync(300);
    const open = a.startStream();
    await waitFor(() => s.chunks.length > 0, 'the first chunk');
    await clock.advanceAsync(5_000);
    open.end();
    await s.done;
    const e = llm.embed({ model: 'mana/x', input: ['x'] });
    await waitFor(() => a.held === 1, 'embed held at a');
    await clock.advanceAsync(40);
    a.answer();
    await e;
    expect(latencyOf(llm, 'a/m1')).toEqual({
      chat: null,
      stream: { ms: 300, deviationMs: 150, samples: 1 },
      embed: { ms: 40, deviationMs: 20, samples: 1 },
    });
  });

  it('failures and timeouts feed nothing: only answers tell how long an answer takes', async () => {
    const { llm, clock, a } = await setup({ timeouts: { totalMs: 1_000 } });
    const failed = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => a.held === 1, 'request held at a');
    await clock.advanceAsync(50);
    a.fail();
    expect((await failed).model).toBe('b/m2');
    const timedOut = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => a.held === 1, 'second request held at a');
    await clock.advanceAsync(500);
    expect((await timedOut).routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'timeout' });
    expect(latencyOf(llm, 'a/m1')).toBeUndefined();
    // The backup answered at once on the fake clock: its sample is 0 ms.
    expect(latencyOf(llm, 'b/m2')).toEqual({
      chat: { ms: 0, deviationMs: 0, samples: 2 },
      stream: null,
      embed: null,
    });
  });

  it('a target cooling after a 429 and measured shows both', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { b: 'openai' },
      aliases: { 'mana/x': ['b/m2'] },
    });
    await llm.chat({ model: 'mana/x', messages: USER });
    up.b?.enqueue({ status: 429, headers: { 'retry-after': '5' } });
    await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(llm.health().targets).toEqual([
      {
        target: 'b/m2',
        until: clock.now() + 5_000,
        latency: { chat: { ms: 0, deviationMs: 0, samples: 1 }, stream: null, embed: null },
      },
    ]);
  });
});

describe('latency bounds', () => {
  it('measures a target of exactly 256 characters, and not one of 257 (docs/limits.md)', async () => {
    const { llm } = await harness({ upstreams: { b: 'openai' }, aliases: { 'mana/x': ['b/m'] } });
    const at = `b/${'m'.repeat(254)}`;
    const over = `b/${'m'.repeat(255)}`;
    await llm.chat({ model: at, messages: USER });
    await llm.chat({ model: over, messages: USER });
    expect(llm.health().targets.map((t) => t.target)).toEqual([at]);
  });
});
