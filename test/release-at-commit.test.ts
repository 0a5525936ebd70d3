// A provider's breaker opening (told by a shared store) in the same moment a late stream attempt commits: whichever
// comes first, the call is served once, by one entry, and a stream let go is closed.
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import {
  type ChatChunk,
  createManaLLM,
  type HealthStore,
  type HealthStoreUpdate,
  NoHealthyProviderError,
  type ProviderAdapter,
} from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, KEY, recordEvents, track, USER, upstream, waitFor } from './helpers/client.js';

afterEach(closeAll);

const chunk = (content: string): ChatChunk => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'mine/m',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

/** A memory store whose test can say "another process opened `provider`'s breaker". */
function sharedStore(clock: ReturnType<typeof createFakeClock>) {
  const store: HealthStore = createMemoryHealthStore(clock);
  let listener: ((u: HealthStoreUpdate) => void) | undefined;
  store.subscribe = (l) => {
    listener = l;
    return () => undefined;
  };
  const openElsewhere = (provider: string) => {
    const before = store.getProvider(provider);
    store.setProvider(provider, {
      consecutiveFailures: 3,
      openedUntil: clock.now() + 30_000,
      trialInFlight: false,
      lastError: 'down elsewhere',
      lastCheckedAt: clock.now(),
    });
    listener?.({ type: 'provider', provider, before });
  };
  const closeElsewhere = (provider: string) => {
    const before = store.getProvider(provider);
    store.setProvider(provider, { ...before!, consecutiveFailures: 0, openedUntil: null, lastError: null });
    listener?.({ type: 'provider', provider, before });
  };
  return { store, openElsewhere, closeElsewhere };
}

/** A client whose `mana/x` is a custom adapter streaming `stream()`, then an OpenAI upstream at `bUrl`. */
function chainOf(
  stream: ProviderAdapter['stream'],
  bUrl: string,
  store: HealthStore,
  clock: ReturnType<typeof createFakeClock>,
) {
  const mine: ProviderAdapter = {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => Promise.reject(new Error('unused')),
    stream,
    embed: () => Promise.reject(new Error('unused')),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mine/m', 'b/m'] } } },
      providers: {
        mine: { type: 'custom', adapter: mine },
        b: { type: 'openai', baseUrl: bUrl, apiKey: KEY },
      },
      health: { probes: false, store },
      timeouts: { totalMs: 60_000 },
      clock,
    }),
  );
}

/** `n` microtask turns, then `fn`. */
function afterTurns(n: number, fn: () => void): void {
  if (n === 0) fn();
  else queueMicrotask(() => afterTurns(n - 1, fn));
}

describe("a late stream's commit and its breaker opening in the same moment", () => {
  // Every ordering of the two within a few microtask turns: before the commit reaches the walk, as the walk judges
  // it (7 turns when written: the attempt is released after its answer came but before it was judged), and after.
  for (const turns of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) {
    it(`is served once, by one entry, with no stream left open (the open ${turns} turns after the commit)`, async () => {
      const clock = createFakeClock();
      const { store, openElsewhere } = sharedStore(clock);
      const b = await upstream('openai');
      b.setDefault({ reply: 'from b', chunks: 1 });
      let go!: () => void;
      const ready = new Promise<void>((r) => (go = r));
      let closed = false;
      const llm = chainOf(
        async function* () {
          try {
            await ready;
            afterTurns(turns, () => openElsewhere('mine'));
            yield chunk('from mine');
            yield chunk(' more');
          } finally {
            closed = true;
          }
        },
        b.url,
        store,
        clock,
      );
      const events = recordEvents(llm);
      let opened: Awaited<ReturnType<typeof llm.openStream>> | undefined;
      let failed: unknown;
      llm.openStream({ model: 'mana/x', messages: USER }).then(
        (s) => (opened = s),
        (e: unknown) => (failed = e),
      );
      // Late: past the 5 s an attempt always gets before an opening breaker lets it go.
      await clock.advanceAsync(5_000);
      go();
      await waitFor(() => opened !== undefined || failed !== undefined, 'the stream to open');
      expect(failed).toBeUndefined();
      let text = '';
      for await (const c of opened!) text += c.choices[0]?.delta.content ?? '';
      const fallbacks = events.of('fallback');
      if (opened!.model === 'b/m') {
        expect(text).toBe('from b');
        expect(fallbacks.map((f) => [f.from, f.reason])).toEqual([['mine/m', 'breaker-open']]);
        await waitFor(() => closed, "the released attempt's stream closed");
      } else {
        expect(opened!.model).toBe('mine/m');
        expect(text).toBe('from mine more');
        expect(fallbacks).toEqual([]);
        expect(b.count('chat')).toBe(0);
      }
    });
  }
});

describe('an attempt released by a breaker that closed again before the walk judged it', () => {
  it('falls through as breaker-open, and a call that then runs out gives no retry-after from that breaker', async () => {
    const clock = createFakeClock();
    const { store, openElsewhere, closeElsewhere } = sharedStore(clock);
    const b = await upstream('openai');
    b.setDefault({ status: 500 });
    let go!: () => void;
    const ready = new Promise<void>((r) => (go = r));
    const llm = chainOf(
      async function* () {
        await ready;
        // Opened and closed again elsewhere in one moment: the attempt is let go, the breaker is closed by the
        // time the walk records it.
        openElsewhere('mine');
        closeElsewhere('mine');
        yield chunk('from mine');
      },
      b.url,
      store,
      clock,
    );
    let failed: unknown;
    llm.openStream({ model: 'mana/x', messages: USER }).then(
      () => undefined,
      (e: unknown) => (failed = e),
    );
    await clock.advanceAsync(5_000);
    go();
    await waitFor(() => failed !== undefined, 'the call to fail');
    expect(failed).toBeInstanceOf(NoHealthyProviderError);
    const err = failed as NoHealthyProviderError;
    expect(err.attempts.map((a) => [a.target, a.reason])).toEqual([
      ['mine/m', 'breaker-open'],
      ['b/m', 'http-error'],
    ]);
    expect(err.retryAfterMs).toBeUndefined();
  });
});
