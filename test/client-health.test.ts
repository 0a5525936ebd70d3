import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import {
  type BreakerRecord,
  createManaLLM,
  type HealthStore,
  type HealthStoreUpdate,
  NoHealthyProviderError,
} from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import {
  closeAll,
  collect,
  harness,
  KEY,
  refusedUrl,
  rejection,
  textOf,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';

afterEach(closeAll);

const CHAT = { model: 'mana/x', messages: USER };

async function setup(cooldownMs = 1000) {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    options: { health: { cooldownMs } },
  });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('the breaker', () => {
  it('opens after two failed calls, and the open provider receives no further request', async () => {
    const { llm, clock, a, b } = await setup(60_000);
    a.setDefault({ status: 500 });
    await llm.chat(CHAT);
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    await llm.chat(CHAT);
    expect(llm.health().providers.a).toMatchObject({
      healthy: false,
      state: 'open',
      consecutiveFailures: 2,
      lastError: 'HTTP 500',
      unhealthyUntil: clock.now() + 60_000,
    });
    for (let i = 0; i < 5; i++) await llm.chat(CHAT);
    expect(a.count('chat')).toBe(2);
    expect(b.count('chat')).toBe(7);
    const direct = (await rejection(llm.chat({ model: 'a/m1', messages: USER }))) as NoHealthyProviderError;
    expect(direct).toBeInstanceOf(NoHealthyProviderError);
    expect(direct.attempts).toEqual([{ target: 'a/m1', reason: 'unhealthy' }]);
    expect(direct.retryAfterMs).toBe(60_000);
    expect(a.count('chat')).toBe(2);
  });

  it('counts only consecutive failures: a success in between resets the count', async () => {
    const { llm, a } = await setup();
    a.enqueue({ status: 500 }, { reply: 'ok' }, { status: 500 });
    for (let i = 0; i < 3; i++) await llm.chat(CHAT);
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });

  it('failed streams count the same as failed calls', async () => {
    const { llm, a } = await setup();
    a.setDefault({ status: 502 });
    for (let i = 0; i < 2; i++) expect(textOf(await collect(llm.stream(CHAT)))).toBe('Hello!');
    expect(llm.health().providers.a?.state).toBe('open');
    await collect(llm.stream(CHAT));
    expect(a.count('stream')).toBe(2);
  });

  it('after the cooldown lets exactly one trial through; its success closes the breaker', async () => {
    const { llm, clock, a, b } = await setup(1000);
    a.enqueue({ status: 500 }, { status: 500 });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    await clock.advanceAsync(999);
    expect(llm.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(1);
    expect(llm.health().providers.a?.state).toBe('half-open');
    expect(llm.resolve('mana/x').candidates[0]?.state).toBe('half-open');

    a.setDefault({ reply: 'from a' });
    const [one, two] = await Promise.all([llm.chat(CHAT), llm.chat(CHAT)]);
    expect(a.count('chat')).toBe(3);
    expect([one?.model, two?.model].sort()).toEqual(['a/m1', 'b/m2']);
    const skipped = [one, two].find((r) => r?.model === 'b/m2');
    expect(skipped?.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'unhealthy' });
    expect(llm.health().providers.a).toMatchObject({
      healthy: true,
      state: 'closed',
      consecutiveFailures: 0,
    });
    expect(b.count('chat')).toBe(3);
    expect((await llm.chat(CHAT)).model).toBe('a/m1');
  });

  it('a failed trial re-opens the breaker for another cooldown from now', async () => {
    const { llm, clock, a } = await setup(1000);
    a.setDefault({ status: 500 });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    await clock.advanceAsync(1000);
    await llm.chat(CHAT);
    expect(a.count('chat')).toBe(3);
    expect(llm.health().providers.a).toMatchObject({ state: 'open', unhealthyUntil: clock.now() + 1000 });
    await llm.chat(CHAT);
    expect(a.count('chat')).toBe(3);
  });

  it('a trial ended by the caller’s abort frees the trial without a verdict', async () => {
    const { llm, clock, a } = await setup(1000);
    a.enqueue({ status: 500 }, { status: 500 }, { hang: true });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    await clock.advanceAsync(1000);
    const ac = new AbortController();
    const trial = llm.chat(CHAT, { signal: ac.signal });
    await waitFor(() => a.count('chat') === 3, 'trial request at a');
    expect((await llm.chat(CHAT)).routing.attempts[0]?.reason).toBe('unhealthy');
    ac.abort();
    await rejection(trial);
    expect(llm.health().providers.a?.state).toBe('half-open');
    expect((await llm.chat(CHAT)).model).toBe('a/m1');
  });

  it('a trial that fails with no verdict on the provider (a 404) frees the trial: the next call is a trial again', async () => {
    const { llm, clock, a } = await setup(1000);
    a.enqueue({ status: 500 }, { status: 500 }, { status: 404 });
    a.setDefault({ reply: 'from a' });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    await clock.advanceAsync(1000);
    const first = await llm.chat(CHAT);
    expect(first.routing.attempts[0]).toMatchObject({ target: 'a/m1', reason: 'model-not-found' });
    expect(llm.health().providers.a?.state).toBe('half-open');
    const next = await llm.chat(CHAT);
    expect(next.model).toBe('a/m1');
    expect(llm.health().providers.a?.state).toBe('closed');
  });

  it('emits health events only when healthy flips', async () => {
    const { llm, clock, a, events } = await setup(1000);
    a.enqueue({ status: 500 }, { status: 500 }, { status: 503 });
    await llm.chat(CHAT);
    expect(events.of('health')).toEqual([]);
    await llm.chat(CHAT);
    const opened = clock.now() + 1000;
    await clock.advanceAsync(1000); // cooldown expiring is not an event
    await llm.chat(CHAT); // failed trial: open again, still unhealthy
    await clock.advanceAsync(1000);
    await llm.chat(CHAT); // successful trial
    await llm.chat(CHAT);
    expect(events.of('health')).toEqual([
      {
        provider: 'a',
        healthy: false,
        state: 'open',
        reason: 'HTTP 500',
        consecutiveFailures: 2,
        unhealthyUntil: opened,
      },
      { provider: 'a', healthy: true, state: 'closed', consecutiveFailures: 0 },
    ]);
    expect(Object.isFrozen(events.of('health')[0])).toBe(true);
  });
});

describe('a 429 answering the half-open trial, its hint longer than the breaker cool-down', () => {
  it('counts neither way: the breaker stays half-open, only that model cools, another model is the next trial', async () => {
    const { llm, clock, a } = await setup(1_000);
    a.enqueue({ status: 500 }, { status: 500 });
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    await clock.advanceAsync(1_000);
    a.enqueue({ status: 429, headers: { 'retry-after': '5' } });
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    expect(llm.health().providers.a).toMatchObject({ state: 'half-open', consecutiveFailures: 2 });
    const err = (await rejection(llm.chat({ model: 'a/m1', messages: USER }))) as NoHealthyProviderError;
    expect(err.attempts).toEqual([{ target: 'a/m1', reason: 'cooling' }]);
    expect(err.retryAfterMs).toBe(5_000);
    const res = await llm.chat({ model: 'a/m2', messages: USER });
    expect(res.model).toBe('a/m2');
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(a.count('chat')).toBe(4);
  });
});

describe('the breaker in a store shared with a process of a lower failure threshold', () => {
  it("re-arms when this process's half-open trial fails, though its own count is below its threshold", async () => {
    const a = await upstream('openai', { status: 500 });
    const clock = createFakeClock();
    const store = createMemoryHealthStore(clock);
    const client = (failureThreshold: number) =>
      track(
        createManaLLM({
          aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
          providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
          clock,
          health: { probes: false, store, failureThreshold, cooldownMs: 1_000 },
        }),
      );
    const low = client(1);
    const high = client(3);
    await rejection(low.chat(CHAT)); // one failure opens the shared breaker (the other process's threshold)
    expect(high.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(1_000);
    expect(high.health().providers.a?.state).toBe('half-open');
    await rejection(high.chat(CHAT)); // this process's trial fails: 2 failures, below its own threshold of 3
    expect(a.count('chat')).toBe(2);
    expect(high.health().providers.a).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    expect(high.health().providers.a?.unhealthyUntil).toBe(clock.now() + 1_000);
  });
});

describe('health()', () => {
  it('lists every configured provider with every key, and an overall status', async () => {
    const { llm, clock, a, b } = await setup(1000);
    expect(llm.health()).toEqual({
      status: 'healthy',
      providers: {
        a: {
          healthy: true,
          state: 'closed',
          consecutiveFailures: 0,
          lastError: null,
          lastCheckedAt: null,
          unhealthyUntil: null,
        },
        b: {
          healthy: true,
          state: 'closed',
          consecutiveFailures: 0,
          lastError: null,
          lastCheckedAt: null,
          unhealthyUntil: null,
        },
      },
      targets: [],
    });
    a.setDefault({ status: 500 });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    expect(llm.health().status).toBe('degraded');
    expect(llm.health().providers.a).toEqual({
      healthy: false,
      state: 'open',
      consecutiveFailures: 2,
      lastError: 'HTTP 500',
      lastCheckedAt: clock.now(),
      unhealthyUntil: clock.now() + 1000,
    });
    expect(llm.health().providers.b?.lastCheckedAt).toBe(clock.now());
    b.setDefault({ reset: true });
    await rejection(llm.chat({ model: 'b/m2', messages: USER }));
    await rejection(llm.chat({ model: 'b/m2', messages: USER }));
    expect(llm.health().status).toBe('unhealthy');
  });
});

describe('background probes', () => {
  it('probe at their first tick a provider that went down before they started, and close its breaker', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai' },
      options: { health: { probes: true, probeIntervalMs: 10_000, cooldownMs: 60_000 } },
    });
    const a = up.a!;
    a.enqueue({ status: 500 }, { status: 500 });
    await rejection(llm.chat({ model: 'a/m', messages: USER }));
    await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect(llm.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(0);
    await waitFor(() => a.count('models') === 1, 'the first probe');
    await waitFor(() => llm.health().providers.a?.state === 'closed', 'the breaker closed by the probe');
  });

  it('start on the next tick, report each provider, and a successful probe closes an open breaker', async () => {
    const refused = await refusedUrl();
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: {
        down: { type: 'openai', baseUrl: refused },
        quiet: { type: 'openai', baseUrl: refused, probe: false },
      },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { probes: true, probeIntervalMs: 10_000 } },
    });
    const { llm, clock, events } = h;
    const a = h.up.a!;
    const b = h.up.b!;
    b.enqueue({ status: 401, body: '{"error":{"message":"bad key"}}' });
    expect(a.count('models')).toBe(0);
    await clock.advanceAsync(0);
    await waitFor(() => events.of('probe').length === 3, 'three probes');
    const probes = Object.fromEntries(events.of('probe').map((p) => [p.provider, p]));
    expect(probes.a).toEqual({ provider: 'a', ok: true, durationMs: expect.any(Number) });
    expect(probes.b).toMatchObject({ provider: 'b', ok: true, error: expect.stringContaining('401') });
    expect(probes.down).toMatchObject({
      provider: 'down',
      ok: false,
      error: expect.stringContaining('ECONNREFUSED'),
    });
    expect(probes.quiet).toBeUndefined();
    expect(llm.health().providers.b?.lastError).toContain('401');
    expect(llm.health().providers.b?.healthy).toBe(true);
    expect(llm.health().providers.down?.consecutiveFailures).toBe(1);
    expect(a.requests[0]?.path).toBe('/v1/models');

    // Open a's breaker with failed calls: its recovery probe (health.recoveryProbeMs, 1 s ± 10 %) closes it.
    a.enqueue({ status: 500 }, { status: 500 });
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    expect(llm.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(1_100);
    await waitFor(() => events.of('probe').length === 4, 'the recovery probe');
    expect(events.of('probe')[3]?.provider).toBe('a');
    expect(llm.health().providers.a).toMatchObject({ healthy: true, state: 'closed' });
    // The second round (10 s ± 10 %) opens `down`, which nothing called.
    await clock.advanceAsync(9_900);
    await waitFor(() => events.of('probe').length >= 7, 'second round of probes');
    expect(llm.health().providers.down?.state).toBe('open');
    const flips = events.of('health').map((e) => `${e.provider}:${e.healthy}`);
    expect(flips.slice(0, 3)).toEqual(['a:false', 'a:true', 'down:false']);
  });
});

/** A shared store as a host may write one (the public HealthStore interface): `report` tells its client of a status change. */
function sharedStore(records: Record<string, BreakerRecord> = {}) {
  const providers = new Map(Object.entries(records));
  const targets = new Map<string, number>();
  const listeners = new Set<(u: HealthStoreUpdate) => void>();
  let onWrite = (): void => undefined;
  const store: HealthStore = {
    getProvider: (p) => providers.get(p),
    setProvider: (p, r) => {
      providers.set(p, r);
      onWrite();
    },
    getTargetCooldown: (t) => targets.get(t),
    setTargetCooldown: (t, until) => void targets.set(t, until),
    listTargetCooldowns: () => [...targets].map(([target, until]) => ({ target, until })),
    status: () => ({ kind: 'custom', connected: true }),
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  const report = (connected: boolean, error?: string) => {
    for (const l of listeners) l({ type: 'status', kind: 'custom', connected, ...(error ? { error } : {}) });
  };
  return { store, report, onWrite: (fn: () => void) => void (onWrite = fn) };
}

describe('a shared store that loses and regains its connection', () => {
  it('is a store event of { connected, error } and then { connected } (no error key), frozen', async () => {
    const { store, report } = sharedStore();
    const { events } = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': ['a/m1'] },
      options: { health: { store } },
    });
    report(false, 'ECONNRESET');
    report(true);
    const [lost, back] = events.of('store');
    expect(lost).toStrictEqual({ connected: false, error: 'ECONNRESET' });
    expect(Object.keys(back ?? {})).toEqual(['connected']);
    expect(back).toStrictEqual({ connected: true });
    expect(Object.isFrozen(lost) && Object.isFrozen(back)).toBe(true);
  });

  it('a caller aborting in a store listener that runs as its attempt is admitted ends the call with its reason', async () => {
    // Another process's breaker, open until 0: this call's admission takes the half-open trial, a store write.
    const open: BreakerRecord = {
      consecutiveFailures: 2,
      openedUntil: 0,
      trialInFlight: false,
      lastError: 'HTTP 503',
      lastCheckedAt: 0,
    };
    const { store, report, onWrite } = sharedStore({ a: open });
    const { llm, up } = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': ['a/m1'] },
      options: { health: { store } },
    });
    // The write finds the connection gone; the host's listener gives up on the call.
    onWrite(() => report(false, 'ECONNRESET'));
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    llm.on('store', () => ac.abort(reason));
    expect(await rejection(llm.chat(CHAT, { signal: ac.signal }))).toBe(reason);
    expect(up.a?.count('chat')).toBe(0);
  });
});
