import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';
import { haveRedis, type RedisServer, startRedis, watchCommands } from './redis-server.js';
import { killWorkers, spawnWorker, type Worker } from './workers.js';

// Spawning 4 tsx processes on a loaded 2-core CI machine can take most of a minute. Every wait below resolves on
// the awaited event as soon as it happens; these bounds only decide when to give up, never what is asserted.
const STARTUP_MS = 60_000;

// Several real processes (each a mana-llm client) sharing one real Redis.
describe.skipIf(!haveRedis())('many processes sharing one Redis', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let a: MockUpstream;
  let b: MockUpstream;
  let run = 0;
  let workers: Worker[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close()));
    workers = [];
    await killWorkers();
    await a?.close();
    await b?.close();
  }, 60_000);

  async function start(n: number, config: Record<string, unknown> = {}): Promise<Worker[]> {
    a = await startMockUpstream('openai');
    b = await startMockUpstream('openai');
    const keyPrefix = `t${++run}:`;
    workers = Array.from({ length: n }, (_, i) =>
      spawnWorker(`w${i}`, {
        redisUrl: redis.url,
        keyPrefix,
        providers: { a: a.url, b: b.url },
        aliases: { 'mana/x': { chain: ['a/m', 'b/m'] }, 'mana/c': { chain: ['b/m'], cache: true } },
        health: { probes: false, cooldownMs: 60_000 },
        ...config,
      }),
    );
    await Promise.all(workers.map((w) => connected(w)));
    return workers;
  }

  const connected = (w: Worker, after = 0) =>
    w.waitFor(
      (l) => l.event === 'store' && l.payload.connected === true && l.at >= after,
      'store connected',
      STARTUP_MS,
    );

  it('a process whose Redis is down exits by itself once its client is closed', async () => {
    const down = await startRedis();
    await down.kill();
    await start(0); // the upstreams only
    const solo = spawnWorker('solo', {
      redisUrl: down.url,
      providers: { a: a.url },
      aliases: { 'mana/x': { chain: ['a/m'] } },
      health: { probes: false },
    });
    workers.push(solo);
    await solo.waitFor(
      (l) => l.event === 'store' && l.payload.connected === false,
      'store not connected',
      STARTUP_MS,
    );
    // Nothing of the store (a reconnect timer of its own client, say) may keep the process running.
    expect(await solo.close()).toBe(true);
  });

  it('a dead upstream found by one process is skipped by the others within 1 s, without calling it', async () => {
    const [first, ...others] = await start(4);
    a.setDefault({ status: 500 });
    await first!.send('chat');
    await first!.send('chat');
    expect(a.count('chat')).toBe(2);
    const opened = await first!.waitFor((l) => l.event === 'health' && !l.payload.healthy, 'a opens');
    const seen = await Promise.all(
      others.map((w) =>
        w.waitFor(
          (l) => l.event === 'health' && l.payload.provider === 'a' && !l.payload.healthy,
          'a open',
          // How soon it arrived is asserted below from the processes' own stamps; this only bounds the wait.
          STARTUP_MS,
        ),
      ),
    );
    for (const s of seen) {
      expect(s.payload).toMatchObject({ provider: 'a', healthy: false, state: 'open', reason: 'HTTP 500' });
      expect(s.at - opened.at).toBeLessThan(1_000);
    }
    for (const w of others) {
      const r = await w.send('chat');
      expect(r.ok).toBe(true);
      expect(r.result.routing.attempts[0]).toEqual({ target: 'a/m', reason: 'unhealthy' });
      expect(r.result.model).toBe('b/m');
    }
    expect(a.count('chat')).toBe(2);
    const h = await others[0]!.send('health');
    expect(h.result.providers.a).toMatchObject({
      state: 'open',
      consecutiveFailures: 2,
      lastError: 'HTTP 500',
    });
    expect(h.result.store).toEqual({ kind: 'redis', connected: true });
    const lags = seen.map((s) => s.at - opened.at);
    console.log(
      `[redis] discovery reached ${others.length} other processes in ${Math.max(...lags)} ms (max)`,
    );
  });

  it('with 4 processes only one probes each provider per interval', async () => {
    const intervalMs = 250;
    const ws = await start(4, { health: { probes: true, probeIntervalMs: intervalMs, cooldownMs: 60_000 } });
    // Every process probes once at start, before its store is connected; count from here.
    await new Promise((r) => setTimeout(r, intervalMs));
    // Counted against the lease requests Redis saw, not elapsed time: each process asks once per interval, and
    // one of the 4 gets the lease, so about 1 probe per 4 requests (uncoordinated: 1 per request, or none sent).
    const log = await watchCommands(redis.url);
    const [a0, b0, t0] = [a.count('models'), b.count('models'), Date.now()];
    await new Promise((r) => setTimeout(r, 2_500));
    const [pa, pb] = [a.count('models') - a0, b.count('models') - b0];
    await log.sync();
    const [ra, rb] = [log.count(['eval'], `t${run}:probe:a`), log.count(['eval'], `t${run}:probe:b`)];
    log.stop();
    expect(ra).toBeGreaterThanOrEqual(8);
    expect(pa * 2).toBeLessThanOrEqual(ra + 1);
    expect(pb * 2).toBeLessThanOrEqual(rb + 1);
    // ... and the lease does not stop probing: one holder probes every interval.
    expect(pa * 8).toBeGreaterThanOrEqual(ra);
    expect(pb * 8).toBeGreaterThanOrEqual(rb);
    const probers = ws.filter((w) => w.events('probe').some((l) => l.at > t0 && l.payload.provider === 'a'));
    expect(probers.length).toBeGreaterThanOrEqual(1);
    console.log(`[redis] 4 processes: ${pa} + ${pb} probes for ${ra} + ${rb} lease requests`);
  });

  it('when the probing process dies its lease expires and another takes over within one interval', async () => {
    const intervalMs = 300;
    const ws = await start(3, { health: { probes: true, probeIntervalMs: intervalMs, cooldownMs: 60_000 } });
    await new Promise((r) => setTimeout(r, intervalMs * 2));
    const t0 = Date.now();
    const holder = await Promise.race(
      ws.map((w) => w.waitFor((l) => l.event === 'probe' && l.at > t0, 'a probe').then(() => w)),
    );
    const killedAt = Date.now();
    await holder.kill();
    const rest = ws.filter((w) => w !== holder);
    const next = await Promise.race(
      rest.map((w) => w.waitFor((l) => l.event === 'probe' && l.at > killedAt, 'takeover', STARTUP_MS)),
    );
    // The lease outlives its holder by at most one interval; the next tick (±10 %) then takes it.
    expect(next.at - killedAt).toBeLessThan(intervalMs * 2.3);
    workers = rest;
  });

  it('Redis going down is not an outage: calls are served, state resyncs after the restart', async () => {
    const [w0, w1] = await start(2);
    const downAt = Date.now();
    await redis.kill();
    await Promise.all(
      [w0!, w1!].map((w) =>
        w.waitFor((l) => l.event === 'store' && !l.payload.connected && l.at >= downAt, 'store down'),
      ),
    );
    const served = await w0!.send('chat');
    expect(served).toMatchObject({ ok: true, result: { model: 'a/m' } });
    expect(served.at - downAt).toBeLessThan(2_000);
    a.setDefault({ status: 503 });
    await w0!.send('chat');
    const r = await w0!.send('chat');
    expect(r.result.model).toBe('b/m');
    const h0 = await w0!.send('health');
    expect(h0.result.providers.a.state).toBe('open');
    // With the reason when one came (a refused reconnect, say).
    expect(h0.result.store).toMatchObject({ kind: 'redis', connected: false });
    expect((await w1!.send('health')).result.providers.a.state).toBe('closed');

    const upAt = Date.now();
    await redis.restart();
    await Promise.all([connected(w0!, upAt), connected(w1!, upAt)]);
    // w0 pushes what it learnt while Redis was away; w1 hears it without calling a.
    await w1!.waitFor(
      (l) => l.event === 'health' && l.payload.provider === 'a' && !l.payload.healthy,
      'resync',
    );
    const h1 = await w1!.send('health');
    expect(h1.result.providers.a).toMatchObject({ state: 'open', lastError: 'HTTP 503' });
    expect(h1.result.store).toEqual({ kind: 'redis', connected: true });
    const chats = a.count('chat');
    expect((await w1!.send('chat')).result.routing.attempts[0]).toEqual({
      target: 'a/m',
      reason: 'unhealthy',
    });
    expect(a.count('chat')).toBe(chats);
    for (const w of [w0!, w1!]) expect(w.events('unhandledRejection')).toEqual([]);
  });

  it('shares the response cache: a miss in one process is a hit in another until it expires', async () => {
    // Long enough for the sends below on a loaded machine (real time: each process has its own clock).
    const ttlMs = 2000;
    const [w0, w1] = await start(2, { cacheTtlMs: ttlMs });
    const miss = await w0!.send('chat', { model: 'mana/c', text: 'q1' });
    expect(miss.result.routing).toMatchObject({
      resolved: 'b/m',
      attempts: [{ target: 'b/m', reason: 'ok' }],
    });
    expect(b.count('chat')).toBe(1);
    const hit = await w1!.send('chat', { model: 'mana/c', text: 'q1' });
    expect(hit.result.routing).toEqual({
      requested: 'mana/c',
      alias: 'mana/c',
      resolved: 'b/m',
      attempts: [],
      cached: true,
    });
    expect(hit.result.choices).toEqual(miss.result.choices);
    expect(b.count('chat')).toBe(1);
    const [missEvent] = w0!.events('cache');
    const [hitEvent] = w1!.events('cache');
    expect(missEvent!.payload).toMatchObject({ kind: 'chat', requested: 'mana/c', hit: false });
    expect(hitEvent!.payload).toMatchObject({ kind: 'chat', requested: 'mana/c', hit: true });
    expect(hitEvent!.payload.key).toBe(missEvent!.payload.key);

    await w1!.send('chat', { model: 'mana/c', text: 'q2' });
    expect(b.count('chat')).toBe(2);
    // An alias without `cache: true` uses the cache only when the call asks.
    await w0!.send('chat', { model: 'b/m', text: 'q3' });
    await w1!.send('chat', { model: 'b/m', text: 'q3' });
    expect(b.count('chat')).toBe(4);
    await w0!.send('chat', { model: 'b/m', text: 'q3', cache: true });
    expect((await w1!.send('chat', { model: 'b/m', text: 'q3', cache: true })).result.routing.cached).toBe(
      true,
    );
    expect(b.count('chat')).toBe(5);

    await new Promise((r) => setTimeout(r, ttlMs + 100));
    const expired = await w1!.send('chat', { model: 'mana/c', text: 'q1' });
    expect(expired.result.routing.cached).toBeUndefined();
    expect(b.count('chat')).toBe(6);
  });
});
