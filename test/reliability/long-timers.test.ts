import { afterEach, describe, expect, it } from 'vitest';
import { type Timers, timerClock } from '../../src/clock.js';
import { createManaLLM, type ProviderAdapter } from '../../src/index.js';
import { createFakeClock } from '../../src/testing/index.js';
import { waitFor } from '../helpers/client.js';
import { client, closeAll, mock, track } from './support.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
// Node's setTimeout holds at most 2^31 - 1 ms (24.8 days); a longer delay fires after 1 ms instead.
const LONG = 3_000_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delays longer than a Node timer holds (24.8 days), on the system clock', () => {
  it('health.probeIntervalMs of 35 days probes once at start, not every millisecond', async () => {
    const a = await mock('openai');
    client(
      { a: { type: 'openai', baseUrl: a.url } },
      { 'mana/x': ['a/m'] },
      { systemClock: true, health: { probes: true, probeIntervalMs: LONG } },
    );
    // The probe at start, however late a loaded machine runs it; then no other one in the next 150 ms.
    await waitFor(() => a.count('models') > 0, 'the probe at start');
    await sleep(150);
    expect(a.count('models')).toBe(1);
  });

  it('timeouts.totalMs of 35 days does not cut a call after a millisecond nor count it against the provider', async () => {
    const a = await mock('openai');
    a.setDefault({ reply: 'fine' });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: a.url } },
      { 'mana/x': ['a/m'] },
      { systemClock: true, timeouts: { totalMs: LONG } },
    );
    const res = await llm.chat(REQ);
    expect(res.choices[0]?.message.content).toBe('fine');
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });
});

/**
 * Timers that behave as Node's (a delay past 2^31 - 1 ms, or under 1 ms, fires after 1 ms) on a time of their own:
 * the system clock's chaining runs on them through `timerClock`, without faking the process's global timers.
 */
function nodeLikeTimers() {
  let now = 0;
  let seq = 0;
  const live = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers<{ id: number; unref(): void }> = {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      live.set(id, { at: now + (ms >= 1 && ms <= 2 ** 31 - 1 ? ms : 1), fn });
      return { id, unref() {} };
    },
    clearTimeout: (t) => void live.delete(t.id),
  };
  return {
    timers,
    get pending() {
      return live.size;
    },
    /** Moves time by `ms`, firing what falls due in time order and letting the promises it settles run. */
    async advance(ms: number): Promise<void> {
      const end = now + ms;
      for (;;) {
        const due = [...live].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        live.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      now = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('a delay longer than a Node timer holds, chained on the system clock (Node-like timers)', () => {
  const MAX = 2 ** 31 - 1;

  /** A client on the system clock's timers whose only provider answers each call when `answer` is called. */
  function hanging(totalMs: number) {
    const node = nodeLikeTimers();
    const answers: (() => void)[] = [];
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: (_req, { signal }) =>
        new Promise((resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
          answers.push(() =>
            resolve({
              id: 'c',
              object: 'chat.completion',
              created: 0,
              model: 'm',
              choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
            }),
          );
        }),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
      providers: { mine: { type: 'custom', adapter } },
      health: { probes: false },
      timeouts: { totalMs },
      clock: timerClock(node.timers),
    });
    return { llm, answers, node };
  }

  it('timeouts.totalMs of 35 days ends the call at 35 days, not 24.8 days later', async () => {
    const { llm, node } = hanging(LONG);
    const call = llm.chat(REQ).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    await node.advance(LONG - 1);
    let settled: string | undefined;
    void call.then((s) => {
      settled = s;
    });
    await node.advance(0);
    expect(settled).toBeUndefined();
    await node.advance(2);
    expect(await call).not.toBe('answered');
    expect(node.pending).toBe(0);
    await llm.close();
  });

  it('a call that ends after the first 24.8 days leaves no timer behind', async () => {
    const { llm, answers, node } = hanging(LONG);
    const call = llm.chat(REQ);
    await node.advance(MAX + 1_000);
    answers[0]?.();
    await call;
    await llm.close();
    expect(node.pending).toBe(0);
  });
});

describe('a probe that answers before its probeTimeoutMs', () => {
  it('leaves only the next probe tick scheduled on the clock (its deadline timer is cancelled)', async () => {
    const clock = createFakeClock();
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        clock,
      }),
    );
    const probed = new Promise((resolve) => llm.on('probe', resolve));
    clock.advance(0);
    await probed;
    await new Promise((r) => setImmediate(r));
    expect(clock.pending()).toBe(1);
  });
});
