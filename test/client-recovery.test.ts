import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../src/clock.js';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import { createManaLLM, type HealthStore } from '../src/index.js';
import { createFakeClock, openaiCodec } from '../src/testing/index.js';
import { closeAll, KEY, track, USER, upstream, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const CHAT = { model: 'mana/x', messages: USER };
// Only the probe deadline has this length, so a pending timer of it is a probe in flight (defaults otherwise).
const PROBE_TIMEOUT_MS = 2_345;

/** Provider `a` behind a switch (down: every connection is cut), `b` a healthy backup; default health options. */
async function setup() {
  const sw = { up: true, probes: 0, chats: 0 };
  const a = await rawUpstream((body: string, res: ServerResponse) => {
    if (!sw.up) {
      res.socket?.destroy();
      return;
    }
    if (body === '') {
      sw.probes++;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(openaiCodec.models(['m1'])));
      return;
    }
    sw.chats++;
    const model = (JSON.parse(body) as { model: string }).model;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(openaiCodec.chat({ reply: 'from a' }, model)));
  });
  const b = await upstream('openai');
  const fake = createFakeClock();
  const probing = { n: 0 };
  const clock: Clock = {
    now: fake.now,
    setTimer(ms, fn) {
      if (ms !== PROBE_TIMEOUT_MS) return fake.setTimer(ms, fn);
      probing.n++;
      let live = true;
      const done = (): void => {
        if (live) probing.n--;
        live = false;
      };
      const cancel = fake.setTimer(ms, () => {
        done();
        fn();
      });
      return () => {
        done();
        cancel();
      };
    },
  };
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m1', 'b/m2'] } } },
      providers: {
        a: { type: 'openai', baseUrl: a.url, apiKey: KEY },
        b: { type: 'openai', baseUrl: b.url, apiKey: KEY },
      },
      clock,
      health: { probeTimeoutMs: PROBE_TIMEOUT_MS },
    }),
  );
  // Moves fake time in small steps and lets every probe started on the way finish over its real socket.
  const step = async (ms: number): Promise<void> => {
    await fake.advanceAsync(ms);
    await waitFor(() => probing.n === 0, 'probes in flight to finish');
  };
  return { llm, fake, step, sw, a, b };
}

describe('recovery probes (default options, real sockets)', () => {
  it('a provider down for 5 s serves again about 2 s after it is back, not at the next 30 s probe', async () => {
    const { llm, fake, step, sw, b } = await setup();
    await step(0);
    sw.up = false;
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    expect(llm.health().providers.a?.state).toBe('open');
    const downAt = fake.now();
    await step(5_000);
    sw.up = true;
    const upAt = fake.now();
    while (!llm.health().providers.a?.healthy && fake.now() - upAt < 30_000) await step(100);
    const backAfter = fake.now() - upAt;
    const res = await llm.chat(CHAT);
    expect(res.choices[0]?.message.content).toBe('from a');
    expect(sw.chats).toBe(1);
    // Probes went out 1 s, 3 s and 7 s after the breaker opened (±10% jitter): the 7 s one found it back.
    expect(downAt).toBeLessThan(upAt);
    expect(backAfter).toBeGreaterThan(1_000);
    expect(backAfter).toBeLessThanOrEqual(2_800);
    expect(b.count('chat')).toBe(2);
  });

  it('probes a dead provider 5-6 times in the first minute after it went down, then every 30 s', async () => {
    const { llm, step, sw, a } = await setup();
    await step(0);
    expect(a.received).toBe(1);
    sw.up = false;
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    const before = a.received;
    for (let i = 0; i < 600; i++) await step(100);
    const firstMinute = a.received - before;
    for (let i = 0; i < 600; i++) await step(100);
    const secondMinute = a.received - before - firstMinute;
    // 1, 3, 7, 15, 31 s, then every probeIntervalMs (30 s): 61, 91, 121 s. Each wait is ±10% (Math.random), so a
    // sixth may fall before 60 s, and then the eighth after 120 s (about one run in ten): 7 or 8 in two minutes.
    expect(firstMinute).toBeGreaterThanOrEqual(5);
    expect(firstMinute).toBeLessThanOrEqual(6);
    expect(secondMinute).toBeGreaterThanOrEqual(1);
    expect(secondMinute).toBeLessThanOrEqual(3);
    expect(firstMinute + secondMinute).toBeGreaterThanOrEqual(7);
    expect(firstMinute + secondMinute).toBeLessThanOrEqual(8);
    expect(llm.health().providers.a?.state).toBe('open');
  });
});

describe('a recovery probe of a half-open provider is its trial', () => {
  it('a call while that probe hangs skips the provider; the probe answering closes the breaker', async () => {
    const sw = { down: false, hold: false, hung: [] as ServerResponse[] };
    const a = await rawUpstream((body: string, res: ServerResponse) => {
      if (body === '' && sw.hold) {
        sw.hung.push(res); // the recovery probe: held until the test answers it
        return;
      }
      if (sw.down) {
        res.socket?.destroy();
        return;
      }
      if (body === '') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(openaiCodec.models(['m1'])));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openaiCodec.chat({ reply: 'from a' }, 'm1')));
    });
    const b = await upstream('openai');
    const fake = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m1', 'b/m2'] } } },
        providers: {
          a: { type: 'openai', baseUrl: a.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: b.url, apiKey: KEY },
        },
        clock: fake,
        // The first recovery probe (1 s ±10%) comes after the 500 ms cool-down: the breaker is half-open then.
        health: { cooldownMs: 500, recoveryProbeMs: 1_000 },
      }),
    );
    await fake.advanceAsync(0);
    await waitFor(() => llm.health().providers.a?.lastCheckedAt !== null, 'the first periodic probe');
    sw.down = true;
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    expect(llm.health().providers.a?.state).toBe('open');
    sw.down = false;
    sw.hold = true;
    await fake.advanceAsync(1_200);
    await waitFor(() => sw.hung.length === 1, 'the recovery probe to reach the provider');
    expect(llm.health().providers.a?.state).toBe('half-open');
    const res = await llm.chat(CHAT);
    expect(res.model).toBe('b/m2');
    expect(res.routing.attempts[0]).toEqual({ target: 'a/m1', reason: 'unhealthy' });
    const probe = sw.hung[0] as ServerResponse;
    probe
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.models(['m1'])));
    await waitFor(() => llm.health().providers.a?.state === 'closed', 'the probe to close the breaker');
    expect((await llm.chat(CHAT)).model).toBe('a/m1');
  });
});

describe('the recovery schedule while another process holds the probe lease', () => {
  it('a provider left half-open (no probe ran here) stays on the fast schedule: it is not back yet', async () => {
    const dead = await rawUpstream((_body: string, res: ServerResponse) => void res.socket?.destroy());
    const b = await upstream('openai');
    const fake = createFakeClock();
    const asked: number[] = [];
    const mem = createMemoryHealthStore(fake);
    // Another process holds every lease: this one never probes, so its breaker goes half-open on the clock alone.
    const store: HealthStore = {
      ...mem,
      acquireProbe: (p) => {
        if (p === 'a') asked.push(fake.now());
        return false;
      },
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m1', 'b/m2'] } } },
        providers: {
          a: { type: 'openai', baseUrl: dead.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: b.url, apiKey: KEY },
        },
        clock: fake,
        health: { cooldownMs: 500, recoveryProbeMs: 1_000, store },
      }),
    );
    await fake.advanceAsync(0);
    await llm.chat(CHAT);
    await llm.chat(CHAT);
    expect(llm.health().providers.a?.state).toBe('open');
    const openedAt = fake.now();
    for (let i = 0; i < 200; i++) await fake.advanceAsync(100);
    expect(llm.health().providers.a?.state).toBe('half-open');
    // 1, 3, 7 and 15 s after it opened (±10%), not once and then only at the 30 s interval.
    expect(asked.filter((t) => t > openedAt && t <= openedAt + 20_000).length).toBeGreaterThanOrEqual(4);
  });
});
