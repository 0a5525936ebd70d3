import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../../src/health/health-store.js';
import { type BreakerRecord, createManaLLM, type HealthStore } from '../../src/index.js';
import { createFakeClock } from '../../src/testing/index.js';
import { closeAll, consume, KEY, rejection, textOf, track, USER, waitFor } from '../helpers/client.js';
import { heldUpstream } from '../helpers/held-upstream.js';

afterEach(closeAll);

const REQ = { model: 'a/m', messages: USER };

/** A client on one held upstream, its breaker in a store (the public HealthStore interface) that logs every write. */
async function setup() {
  const held = await heldUpstream();
  const clock = createFakeClock();
  const inner = createMemoryHealthStore(clock);
  const writes: BreakerRecord[] = [];
  const store: HealthStore = {
    ...inner,
    setProvider: (p, r) => {
      writes.push(r);
      inner.setProvider(p, r);
    },
  };
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/unused': { chain: ['a/m'] } } },
      providers: { a: { type: 'openai', baseUrl: held.url, apiKey: KEY } },
      clock,
      health: { probes: false, store, failureThreshold: 1, cooldownMs: 1_000 },
    }),
  );
  return { held, clock, llm, writes };
}

describe('a stream that commits', () => {
  it('as the half-open trial: the breaker closes and the trial ends in the record the store holds', async () => {
    const { held, clock, llm, writes } = await setup();
    const failing = llm.chat(REQ);
    await waitFor(() => held.held === 1, 'the failing call');
    held.fail();
    await rejection(failing);
    await clock.advanceAsync(1_000);
    const s = consume(llm.stream(REQ));
    await waitFor(() => held.held === 1, 'the trial stream');
    expect(writes.at(-1)).toMatchObject({ trialInFlight: true });
    const open = held.startStream();
    await waitFor(() => s.chunks.length > 0, 'the commit');
    // Committed, not ended: closed, the count kept, and no trial left in flight.
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    expect(writes.at(-1)).toMatchObject({ openedUntil: null, trialInFlight: false, consecutiveFailures: 1 });
    open.end();
    expect(textOf(await s.done)).toBe('abc');
    expect(writes.at(-1)).toMatchObject({ trialInFlight: false, consecutiveFailures: 0 });
  });

  it('on a healthy provider: its commit is recorded as the provider’s last check', async () => {
    const { held, clock, llm } = await setup();
    expect(llm.health().providers.a?.lastCheckedAt).toBeNull();
    const s = consume(llm.stream(REQ));
    await waitFor(() => held.held === 1, 'the stream');
    await clock.advanceAsync(250);
    const open = held.startStream();
    await waitFor(() => s.chunks.length > 0, 'the commit');
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', lastCheckedAt: clock.now() });
    open.end();
    await s.done;
  });
});
