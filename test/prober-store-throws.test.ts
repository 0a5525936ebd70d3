// A caller's health store whose reads throw while probes run must not stop probing or leave a rejection behind.
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import { createManaLLM, type HealthStore } from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, KEY, recordEvents, track, upstream, waitFor } from './helpers/client.js';

afterEach(closeAll);

describe('probes with a health store of the caller whose reads throw', () => {
  it('go on on schedule with no unhandled rejection, and report again once the store reads', async () => {
    const a = await upstream('openai');
    const memory = createMemoryHealthStore();
    let broken = true;
    const store: HealthStore = {
      ...memory,
      getProvider: (p) => {
        if (broken) throw new Error('store unreachable');
        return memory.getProvider(p);
      },
    };
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        clock,
        health: { store, probeIntervalMs: 1_000 },
      }),
    );
    const events = recordEvents(llm);
    // Two intervals' probes, each failing to record its result.
    for (const ms of [0, 1_200]) {
      await clock.advanceAsync(ms);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(events.count('probe')).toBe(0);
    broken = false;
    await clock.advanceAsync(1_200);
    await waitFor(() => events.count('probe') === 1, 'a probe once the store reads again');
    expect(events.of('probe')[0]).toMatchObject({ provider: 'a', ok: true });
    expect(a.count('models')).toBe(1);
  });
});
