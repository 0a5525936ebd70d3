import { afterEach, describe, expect, it } from 'vitest';
import { client, closeAll, mock } from './support.js';

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
