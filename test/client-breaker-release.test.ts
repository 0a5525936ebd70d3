import { afterEach, describe, expect, it, vi } from 'vitest';
import { HealthCache } from '../src/health/health-cache.js';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import type { HealthStore, HealthStoreUpdate } from '../src/index.js';
import { AttemptSignal } from '../src/routing/attempt.js';
import { closeAll, consume, harness, KEY, rejection, textOf, USER, waitFor } from './helpers/client.js';
import { heldUpstream } from './helpers/held-upstream.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll();
});

const REQ = { model: 'mana/x', messages: USER };

describe('a breaker that opens releases the calls waiting on it', () => {
  it('opened by a probe: the waiting call is answered by the backup at once, not after its timeout', async () => {
    const { llm, clock, up, events } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      // The recovery probe after the failed one waits a whole interval (not 1 s): with ±10 % jitter a 1 s recovery
      // probe could fall inside the 5.5 s window below, answer, and close the breaker before it is read.
      options: {
        health: { probes: true, probeIntervalMs: 5_000, recoveryProbeMs: 5_000, failureThreshold: 1 },
      },
    });
    const a = up.a!;
    await clock.advanceAsync(0);
    await waitFor(() => a.count('models') === 1 && up.b!.count('models') === 1, 'the first probes');
    a.setDefault({ hang: true });
    const call = llm.chat(REQ);
    await waitFor(() => a.count('chat') === 1, 'the call waiting at a');
    const t0 = clock.now();
    // The next periodic probe (5 s ± 10 %) is answered with a 500: a's breaker opens.
    a.enqueue({ status: 500 });
    await clock.advanceAsync(5_500);
    const res = await call;
    expect(res.model).toBe('b/m2');
    const [first, second] = res.routing.attempts;
    expect(first).toMatchObject({ target: 'a/m1', reason: 'breaker-open' });
    expect(first?.durationMs).toBeLessThanOrEqual(5_500);
    expect(first?.durationMs).toBeGreaterThanOrEqual(4_500);
    expect(second).toMatchObject({ target: 'b/m2', reason: 'ok' });
    // Answered well inside the attempt's own budget (60 s with defaults).
    expect(clock.now() - t0).toBeLessThanOrEqual(5_500);
    expect(events.of('fallback')).toEqual([
      expect.objectContaining({
        from: 'a/m1',
        to: 'b/m2',
        reason: 'breaker-open',
        durationMs: first?.durationMs,
      }),
    ]);
    // The release counts against no one: the probe's failure is the only one.
    expect(llm.health().providers.a).toMatchObject({
      state: 'open',
      consecutiveFailures: 1,
      lastError: 'probe-error: PROVIDER_HTTP',
    });
  });

  it('opened by other calls’ failures: the calls still waiting fall through after 5 s, not at their timeout (chat, stream and embed)', async () => {
    const { llm, clock, up, events } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      // Three calls already wait on a: let the failing ones reach it anyway.
      options: { health: { maxConcurrentAfterFailure: 10 } },
    });
    const a = up.a!;
    a.enqueue({ hang: true }, { hang: true }, { hang: true });
    const chat = llm.chat(REQ);
    const stream = consume(llm.stream(REQ));
    const embed = llm.embed({ model: 'mana/x', input: ['x'] });
    await waitFor(() => a.count() === 3, 'three calls waiting at a');
    // Two calls fail quickly (failureThreshold 2): the second opens a's breaker.
    a.enqueue({ status: 500 }, { status: 500 });
    await llm.chat(REQ);
    await llm.chat(REQ);
    expect(llm.health().providers.a).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    // Each waiting attempt may wait 5 s at least (RELEASE_AFTER_MS), not its 60 s.
    await clock.advanceAsync(4_999);
    expect(up.b!.count()).toBe(2);
    await clock.advanceAsync(1);
    const [c, chunks, e] = await Promise.all([chat, stream.done, embed]);
    expect(c.model).toBe('b/m2');
    expect(textOf(chunks)).toBe('Hello!');
    expect(chunks[0]?.model).toBe('b/m2');
    expect(e.model).toBe('b/m2');
    for (const r of [c.routing, e.routing]) {
      expect(r.attempts[0]).toEqual({ target: 'a/m1', reason: 'breaker-open', durationMs: 5_000 });
    }
    expect(events.of('fallback').filter((f) => f.reason === 'breaker-open')).toHaveLength(3);
    // The released attempts counted neither way.
    expect(llm.health().providers.a?.consecutiveFailures).toBe(2);
  });

  it('the caller’s abort in the same turn as the late release: rejects with the caller’s reason, no fall-through', async () => {
    const { llm, clock, up, events } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { maxConcurrentAfterFailure: 10 } },
    });
    const a = up.a!;
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat(REQ, { signal: ac.signal });
    await waitFor(() => a.count('chat') === 1, 'the call waiting at a');
    // Two calls fail quickly: a's breaker opens, and the waiting call may wait 5 s more.
    a.enqueue({ status: 500 }, { status: 500 });
    await llm.chat(REQ);
    await llm.chat(REQ);
    expect(llm.health().providers.a?.state).toBe('open');
    const servedByB = up.b!.count();
    // The caller aborts, and the late-release timer fires before the walk hears of it: the abort stays the caller's.
    const stop = new Error('stop');
    ac.abort(stop);
    clock.advance(5_000);
    expect(await rejection(call)).toBe(stop);
    expect(up.b!.count()).toBe(servedByB);
    // Read as a release, the walk would report a breaker-open fall-through to b/m2 before it saw the abort.
    expect(events.of('fallback').filter((f) => f.reason === 'breaker-open')).toEqual([]);
  });

  it('opened by another process through a shared store: the waiting call is released too', async () => {
    const listeners = new Set<(u: HealthStoreUpdate) => void>();
    const mem = createMemoryHealthStore();
    const store: HealthStore & { replicateOpen(provider: string, until: number): void } = {
      ...mem,
      subscribe(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      replicateOpen(provider, until) {
        const before = mem.getProvider(provider);
        mem.setProvider(provider, {
          consecutiveFailures: 2,
          openedUntil: until,
          trialInFlight: false,
          lastError: 'HTTP 503',
          lastCheckedAt: until - 60_000,
        });
        for (const l of listeners) l({ type: 'provider', provider, before });
      },
    };
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { store } },
    });
    up.a!.enqueue({ hang: true });
    const call = llm.chat(REQ);
    await waitFor(() => up.a!.count('chat') === 1, 'the call waiting at a');
    await clock.advanceAsync(6_000);
    store.replicateOpen('a', clock.now() + 60_000);
    const res = await call;
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'breaker-open', durationMs: 6_000 });
  });

  it('a committed stream is never cut: it runs to its end while its provider’s breaker opens', async () => {
    const held = await heldUpstream();
    const { llm, up } = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: held.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    const s = consume(llm.stream(REQ));
    await waitFor(() => held.held === 1, 'the stream at a');
    const open = held.startStream();
    await waitFor(() => s.chunks.length > 0, 'the commit');
    // Two failing calls open a's breaker while the committed stream is still reading.
    for (let i = 0; i < 2; i++) {
      const failing = llm.chat(REQ);
      await waitFor(() => held.held === 1, 'a failing call at a');
      held.fail();
      expect((await failing).model).toBe('b/m2');
    }
    expect(llm.health().providers.a?.state).toBe('open');
    open.end();
    const chunks = await s.done;
    expect(textOf(chunks)).toBe('abc');
    expect(chunks.every((c) => c.model === 'a/m1')).toBe(true);
    expect(up.b!.count('stream')).toBe(0);
  });

  it('a stream that commits while its opened breaker lets it wait is never cut by that breaker later', async () => {
    const held = await heldUpstream();
    const { llm, clock, up } = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: held.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { maxConcurrentAfterFailure: 10 } },
    });
    const s = consume(llm.stream(REQ));
    await waitFor(() => held.held === 1, 'the stream at a');
    // Two failing calls open a's breaker while the stream still waits: it may wait 5 s more.
    for (let i = 0; i < 2; i++) {
      const failing = llm.chat(REQ);
      await waitFor(() => held.held === 2, 'a failing call at a');
      held.fail(true);
      expect((await failing).model).toBe('b/m2');
    }
    expect(llm.health().providers.a?.state).toBe('open');
    // a answers within those 5 s: the stream commits, and the breaker no longer cuts it.
    const open = held.startStream();
    await waitFor(() => s.chunks.length > 0, 'the commit');
    // Its commit closed the breaker (the count stays 2); the wait runs out, and one more failure opens it again.
    await clock.advanceAsync(5_000);
    const failing = llm.chat(REQ);
    await waitFor(() => held.held === 1, 'a failing call at a');
    held.fail();
    expect((await failing).model).toBe('b/m2');
    expect(llm.health().providers.a?.state).toBe('open');
    open.end();
    const chunks = await s.done;
    expect(textOf(chunks)).toBe('abc');
    expect(chunks.every((c) => c.model === 'a/m1')).toBe(true);
    expect(up.b!.count('stream')).toBe(0);
  });

  it('a call still waiting when its breaker is half-open again goes on waiting, and its answer is served', async () => {
    const held = await heldUpstream();
    const { llm, clock, up } = await harness({
      upstreams: { b: 'openai' },
      providers: { a: { type: 'openai', baseUrl: held.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { maxConcurrentAfterFailure: 10, cooldownMs: 1_000 } },
    });
    const chat = llm.chat(REQ);
    await waitFor(() => held.held === 1, 'the call at a');
    for (let i = 0; i < 2; i++) {
      const failing = llm.chat(REQ);
      await waitFor(() => held.held === 2, 'a failing call at a');
      held.fail(true);
      expect((await failing).model).toBe('b/m2');
    }
    // Late after 5 s, but the 1 s cool-down has run out by then: the call is not let go.
    await clock.advanceAsync(5_000);
    expect(llm.health().providers.a?.state).toBe('half-open');
    held.answer();
    expect((await chat).model).toBe('a/m1');
    expect(up.b!.count('chat')).toBe(2);
  });

  it('leaves no attempt waiting or live behind, whatever way a call ends (280 calls)', async () => {
    // Only to reach the client's health cache (not public); calls go through as usual.
    const admit = vi.spyOn(HealthCache.prototype, 'admit');
    const told = vi.spyOn(AttemptSignal.prototype, 'breakerOpened');
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { failureThreshold: 1_000_000, maxConcurrentAfterFailure: 100 } },
    });
    const a = up.a!;
    await llm.chat(REQ);
    const health = admit.mock.contexts[0] as HealthCache;
    expect(health).toBeInstanceOf(HealthCache);
    // How many attempts a breaker opening now would release: none once every call has ended.
    const waiting = () => {
      told.mockClear();
      health.opened.emit('a');
      health.opened.emit('b');
      return told.mock.calls.length;
    };
    for (let round = 0; round < 40; round++) {
      // Served, failed over, a stream to its end, a stream interrupted after its commit, a stream left early.
      a.enqueue({ reply: 'ok' }, { status: 500 }, { reply: 'ok' }, { streamThenReset: 1 }, { reply: 'ok' });
      await llm.chat(REQ);
      await llm.chat(REQ);
      await consume(llm.stream(REQ)).done;
      await consume(llm.stream(REQ)).done.catch(() => undefined);
      for await (const _ of llm.stream(REQ)) break;
      // The caller's abort while waiting.
      a.enqueue({ hang: true });
      const ac = new AbortController();
      let seen = a.count('chat');
      const aborted = llm.chat(REQ, { signal: ac.signal });
      await waitFor(() => a.count('chat') === seen + 1, 'the call waiting at a');
      ac.abort(new Error('stop'));
      await rejection(aborted);
      // A timeout while waiting (the backup answers).
      a.enqueue({ hang: true });
      seen = a.count('chat');
      const timedOut = llm.chat(REQ, { timeoutMs: 100 });
      await waitFor(() => a.count('chat') === seen + 1, 'the call waiting at a');
      await clock.advanceAsync(100);
      expect((await timedOut).routing.attempts[0]?.reason).toBe('timeout');
      expect(waiting()).toBe(0);
    }
    // Nothing left in the client's live set: close() finds no attempt to abort.
    const abort = vi.spyOn(AttemptSignal.prototype, 'abort');
    await llm.close();
    expect(abort).not.toHaveBeenCalled();
  });
});
