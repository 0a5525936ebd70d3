import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BreakerRecord } from '../../src/index.js';
import { ConfigError, createManaLLM, type HealthStoreUpdate } from '../../src/index.js';
import { createRedisHealthStore, type RedisHealthStore } from '../../src/redis/index.js';
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';
import { freePort, haveRedis, type RedisServer, startRedis } from './redis-server.js';

const openAt = (at: number, until: number): BreakerRecord => ({
  consecutiveFailures: 2,
  openedUntil: until,
  trialInFlight: false,
  lastError: 'ECONNREFUSED',
  lastCheckedAt: at,
});
const closedAt = (at: number): BreakerRecord => ({
  consecutiveFailures: 0,
  openedUntil: null,
  trialInFlight: false,
  lastError: null,
  lastCheckedAt: at,
});

/** Timers and sockets that keep the process alive (unref'd ones do not count). */
function refCounted(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r.startsWith('TCP')).length;
}

async function until(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(!haveRedis())('createRedisHealthStore against a real Redis', () => {
  let redis: RedisServer;
  let run = 0;
  const open: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  /** `n` stores sharing one fresh key prefix, each connected (loaded) before it is returned. */
  async function stores(n: number, prefix = `s${++run}:`, url = redis.url): Promise<RedisHealthStore[]> {
    const out = Array.from({ length: n }, () => createRedisHealthStore({ url, keyPrefix: prefix }));
    open.push(...out);
    await until(() => out.every((s) => s.status().connected), 'stores connected');
    return out;
  }

  it('replicates a breaker change to the other processes, which tell their listeners', async () => {
    const [a, b] = await stores(2);
    const heard: HealthStoreUpdate[] = [];
    b!.subscribe((u) => heard.push(u));
    a!.setProvider('ollama', openAt(1_000, 61_000));
    await until(() => b!.getProvider('ollama') !== undefined, 'replication');
    expect(b!.getProvider('ollama')).toEqual(openAt(1_000, 61_000));
    expect(heard).toEqual([{ type: 'provider', provider: 'ollama', before: undefined }]);
    // A trial in flight is local: flipping it writes nothing.
    a!.setProvider('ollama', { ...openAt(1_000, 61_000), trialInFlight: true });
    a!.setProvider('ollama', closedAt(2_000));
    await until(() => b!.getProvider('ollama')?.openedUntil === null, 'close');
    expect(heard).toHaveLength(2);
  });

  it('a record from elsewhere that changes nothing here is not told to the listeners', async () => {
    const prefix = `s${++run}:`;
    const [a] = await stores(1, prefix);
    const admin = new Redis(redis.url);
    const heard: HealthStoreUpdate[] = [];
    a!.subscribe((u) => heard.push(u));
    const { trialInFlight: _local, ...wire } = openAt(1_000, 61_000);
    for (const p of ['p', 'p', 'marker'])
      await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', p, r: wire }));
    await until(() => a!.getProvider('marker') !== undefined, 'the marker');
    expect(heard.map((u) => u.type === 'provider' && u.provider)).toEqual(['p', 'marker']);
    admin.disconnect();
  });

  it('a store starting up reports connected once, with no "not connected" before it (no false alarm)', async () => {
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: `s${++run}:` });
    open.push(store);
    const heard: HealthStoreUpdate[] = [];
    store.subscribe((u) => heard.push(u));
    await until(() => store.status().connected, 'connected');
    expect(heard).toEqual([{ type: 'status', kind: 'redis', connected: true }]);
  });

  it('merges monotonically, in the mirrors and in Redis: a stale close never undoes a newer open', async () => {
    const prefix = `s${++run}:`;
    const [writer, watcher] = await stores(2, prefix);
    writer!.setProvider('p', openAt(1_000, 61_000));
    writer!.setProvider('p', closedAt(500)); // older than the open it would close: ignored
    writer!.setProvider('p', openAt(3_000, 50_000)); // an earlier open-until: ignored
    writer!.setProvider('q', openAt(2_000, 62_000));
    writer!.setProvider('q', closedAt(3_000)); // newer than the open: applies
    await until(() => watcher!.getProvider('q')?.openedUntil === null, 'q closed');
    expect(watcher!.getProvider('p')).toEqual(openAt(1_000, 61_000));
    const [late] = await stores(1, prefix);
    expect(late!.getProvider('p')).toEqual(openAt(1_000, 61_000));
    expect(late!.getProvider('q')).toEqual(closedAt(3_000));
  });

  it('ties lose in Redis as in the mirrors: a close stamped as the open, or an open to the same deadline, is not written', async () => {
    const prefix = `s${++run}:`;
    const [writer] = await stores(1, prefix);
    writer!.setProvider('p', openAt(1_000, 61_000));
    writer!.setProvider('p', closedAt(1_000)); // no newer than the open: ignored
    writer!.setProvider('q', openAt(1_000, 61_000));
    writer!.setProvider('q', { ...openAt(2_000, 61_000), consecutiveFailures: 7 }); // same open-until: ignored
    writer!.setProvider('marker', openAt(1_000, 61_000));
    const [late] = await stores(1, prefix);
    await until(() => late!.getProvider('marker') !== undefined, 'loaded');
    expect(late!.getProvider('p')).toEqual(openAt(1_000, 61_000));
    expect(late!.getProvider('q')).toEqual(openAt(1_000, 61_000));
  });

  it('a process does not apply its own published record again: a later local change of it stands, and no event', async () => {
    const prefix = `s${++run}:`;
    const [writer, other] = await stores(2, prefix);
    const heard: HealthStoreUpdate[] = [];
    writer!.subscribe((u) => heard.push(u));
    writer!.setProvider('p', openAt(1_000, 61_000)); // written and published
    writer!.setProvider('p', closedAt(1_000)); // not written (a tie loses in Redis), but this process's own state
    writer!.setProvider('marker', openAt(1_000, 61_000));
    await until(() => other!.getProvider('marker') !== undefined, 'published');
    // A message published after the writer's own: once the writer has it, it has had its own ones too.
    const admin = new Redis(redis.url);
    const { trialInFlight: _local, ...wire } = openAt(1_000, 61_000);
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', p: 'late', r: wire }));
    admin.disconnect();
    await until(() => writer!.getProvider('late') !== undefined, 'the later message');
    expect(writer!.getProvider('p')).toEqual(closedAt(1_000));
    expect(heard).toEqual([{ type: 'provider', provider: 'late', before: undefined }]);
  });

  it('a record heard from elsewhere is what this process last knew: going back to its own earlier state is written again', async () => {
    const prefix = `s${++run}:`;
    const [a, b] = await stores(2, prefix);
    a!.setProvider('p', closedAt(1_000));
    await until(() => b!.getProvider('p') !== undefined, 'the first record');
    b!.setProvider('p', openAt(2_000, 62_000));
    await until(() => a!.getProvider('p')?.openedUntil === 62_000, 'the open heard');
    // The same state a wrote first (closed, no failures): it changed meanwhile, so it must reach b.
    a!.setProvider('p', closedAt(3_000));
    await until(() => b!.getProvider('p')?.openedUntil === null, 'the close replicated');
    expect(b!.getProvider('p')).toEqual(closedAt(3_000));
  });

  it('merges records stamped with real Date.now() times in Redis too: a stale close loses, an open no older than a close wins', async () => {
    const prefix = `s${++run}:`;
    const [writer] = await stores(1, prefix);
    const t = Date.now();
    writer!.setProvider('p', openAt(t, t + 60_000));
    writer!.setProvider('p', closedAt(t - 1_000)); // older than the open it would close: not written
    // A process whose clock runs 30 s fast (within the 60 s skew allowed): its stamps still count.
    writer!.setProvider('fast', openAt(t + 30_000, t + 90_000));
    writer!.setProvider('fast', closedAt(t)); // older than that open: not written
    // An open stamped as the close it follows is no older than it: written.
    writer!.setProvider('tie', closedAt(t));
    writer!.setProvider('tie', openAt(t, t + 60_000));
    writer!.setProvider('marker', openAt(t, t + 60_000));
    const [late] = await stores(1, prefix);
    await until(() => late!.getProvider('marker') !== undefined, 'loaded');
    expect(late!.getProvider('p')).toEqual(openAt(t, t + 60_000));
    expect(late!.getProvider('fast')?.openedUntil).toBe(t + 90_000);
    expect(late!.getProvider('tie')).toEqual(openAt(t, t + 60_000));
  });

  it('a store starting up loads the current state; cool-downs keep the later deadline', async () => {
    const prefix = `s${++run}:`;
    const [a, b] = await stores(2, prefix);
    // Deadlines in the future: one already over is neither written nor loaded.
    const t = Date.now() + 60_000;
    a!.setTargetCooldown('groq/llama', t + 5_000);
    a!.setProvider('groq', openAt(10, 60_010));
    await until(() => b!.getTargetCooldown('groq/llama') === t + 5_000, 'cool-down replicated');
    b!.setTargetCooldown('groq/llama', t + 3_000);
    b!.setTargetCooldown('groq/other', t + 7_000);
    await until(() => a!.getTargetCooldown('groq/other') === t + 7_000, 'second cool-down');
    expect(a!.getTargetCooldown('groq/llama')).toBe(t + 5_000);
    const [late] = await stores(1, prefix);
    expect(late!.listTargetCooldowns()).toEqual(
      expect.arrayContaining([
        { target: 'groq/llama', until: t + 5_000 },
        { target: 'groq/other', until: t + 7_000 },
      ]),
    );
    expect(late!.getProvider('groq')?.openedUntil).toBe(60_010);
  });

  it('a cool-down write deletes the cool-downs that are over from Redis; a store starting up ignores them', async () => {
    const prefix = `s${++run}:`;
    const key = `${prefix}targets`;
    const admin = new Redis(redis.url);
    const now = Date.now();
    // Left behind by processes long gone: one over, one still running.
    await admin.hset(key, 'old/over', String(now - 1_000), 'old/running', String(now + 60_000));
    // Beyond the longest cool-down (one hour for a store no client bound): corrupt, deleted as well.
    await admin.hset(key, 'old/corrupt', String(now + 100 * 3_600_000));
    // Not a number to JS, but one to Lua's tonumber (NaN: no comparison with it is true); and not a number at all.
    await admin.hset(key, 'old/nan', 'nan', 'old/text', 'soon');
    const [a, b] = await stores(2, prefix);
    expect(a!.getTargetCooldown('old/over')).toBeUndefined();
    expect(a!.getTargetCooldown('old/running')).toBe(now + 60_000);
    a!.setTargetCooldown('new/m', now + 30_000);
    // The script publishes after it has pruned: once b hears of the write, the hash is final.
    await until(() => b!.getTargetCooldown('new/m') !== undefined, 'cool-down replicated');
    expect(await admin.hgetall(key)).toEqual({
      'old/running': String(now + 60_000),
      'new/m': String(now + 30_000),
    });
    admin.disconnect();
  });

  it('a success that changes only lastCheckedAt writes and publishes nothing; a change of state does', async () => {
    const prefix = `s${++run}:`;
    const [a, b] = await stores(2, prefix);
    const heard: HealthStoreUpdate[] = [];
    b!.subscribe((u) => heard.push(u));
    const admin = new Redis(redis.url);
    let published = 0;
    await admin.psubscribe(`${prefix}*`);
    admin.on('pmessage', () => published++);
    a!.setProvider('p', closedAt(1_000));
    await until(() => heard.length === 1, 'first record heard');
    for (let t = 2_000; t < 12_000; t += 1_000) a!.setProvider('p', closedAt(t));
    a!.setProvider('p', openAt(20_000, 80_000));
    await until(() => heard.length === 2, 'the open heard');
    // One publish for the first record, one for the open: none for the ten successes between them.
    expect(published).toBe(2);
    expect(b!.getProvider('p')).toEqual(openAt(20_000, 80_000));
    admin.disconnect();
  });

  it('a write Redis refused (it holds a newer record) does not stop the next one of the same state', async () => {
    const prefix = `s${++run}:`;
    const admin = new Redis(redis.url);
    const [a] = await stores(1, prefix);
    // Another process's open, in Redis but not heard here (written straight into the hash).
    const { trialInFlight: _local, ...wire } = openAt(1_000, 61_000);
    await admin.hset(`${prefix}providers`, 'p', JSON.stringify(wire));
    a!.setProvider('p', closedAt(500)); // older than that open: refused
    await new Promise((r) => setTimeout(r, 50));
    a!.setProvider('p', closedAt(2_000)); // the same state, newer than the open: must be written
    let stored: { openedUntil?: unknown; lastCheckedAt?: unknown } = {};
    const end = Date.now() + 3_000;
    while (Date.now() < end) {
      stored = JSON.parse((await admin.hget(`${prefix}providers`, 'p')) ?? '{}');
      if (stored.lastCheckedAt === 2_000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(stored).toMatchObject({ openedUntil: null, lastCheckedAt: 2_000 });
    admin.disconnect();
  });

  it('a write Redis failed with an error (out of memory) is written again once Redis takes writes (cool-downs too)', async () => {
    const prefix = `s${++run}:`;
    const admin = new Redis(redis.url);
    const [a, b] = await stores(2, prefix);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      a!.setProvider('p', openAt(1_000, 61_000)); // refused: -OOM
      a!.setTargetCooldown('p/m', Date.now() + 60_000);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    // No further change in this process: the open must still reach the others.
    // The open and the cool-down are published one after the other: wait for both.
    await until(
      () => b!.getProvider('p') !== undefined && b!.getTargetCooldown('p/m') !== undefined,
      'the open and the cool-down replicated',
      4_000,
    );
    expect(b!.getProvider('p')).toEqual(openAt(1_000, 61_000));
    expect(b!.getTargetCooldown('p/m')).toBe(a!.getTargetCooldown('p/m'));
    admin.disconnect();
  });

  it('a probe lease has one holder, which renews it; when it lapses another process takes it', async () => {
    const [a, b] = await stores(2);
    expect(await a!.acquireProbe('ollama', 200)).toBe(true);
    expect(await b!.acquireProbe('ollama', 200)).toBe(false);
    expect(await a!.acquireProbe('ollama', 200)).toBe(true);
    expect(await b!.acquireProbe('groq', 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(await b!.acquireProbe('ollama', 200)).toBe(true);
    expect(await a!.acquireProbe('ollama', 200)).toBe(false);
  });

  it('a probe lease renewed by its holder lasts the new ttl from then on', async () => {
    const prefix = `s${++run}:`;
    const [a] = await stores(1, prefix);
    const admin = new Redis(redis.url);
    expect(await a!.acquireProbe('p', 1_000)).toBe(true);
    expect(await admin.pttl(`${prefix}probe:p`)).toBeLessThanOrEqual(1_000);
    expect(await a!.acquireProbe('p', 60_000)).toBe(true);
    expect(await admin.pttl(`${prefix}probe:p`)).toBeGreaterThan(59_000);
    admin.disconnect();
  });

  it('probe leases are per key prefix, and a ttl of a fractional number of ms still takes one', async () => {
    const [a] = await stores(1);
    const [b] = await stores(1);
    expect(await a!.acquireProbe('p', 60_000.4)).toBe(true);
    expect(await b!.acquireProbe('p', 60_000)).toBe(true);
    const [c] = await stores(1, `s${run - 1}:`);
    expect(await c!.acquireProbe('p', 60_000)).toBe(false);
  });

  it('a command Redis answers with an error (a planted cache value of the wrong type) keeps the store connected', async () => {
    const prefix = `s${++run}:`;
    const [a] = await stores(1, prefix);
    const admin = new Redis(redis.url);
    await admin.hset(`${prefix}cache:k`, 'f', 'v');
    admin.disconnect();
    expect(await a!.getResponse('k')).toBeUndefined();
    expect(a!.status()).toEqual({ kind: 'redis', connected: true });
  });

  it('caches responses with a TTL, shared between stores', async () => {
    const [a, b] = await stores(2);
    a!.setResponse('k', 'v', 200);
    await until(() => false, 'nothing', 30).catch(() => undefined);
    expect(await b!.getResponse('k')).toBe('v');
    expect(await b!.getResponse('other')).toBeUndefined();
    // The cap a call gives is checked inside Redis: a longer value is a miss, and never fetched.
    expect(await b!.getResponse('k', 1)).toBe('v');
    expect(await b!.getResponse('k', 0)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 250));
    expect(await b!.getResponse('k')).toBeUndefined();
  });

  it('uses a client you pass as is and leaves it open when the store closes', async () => {
    const client = new Redis(redis.url);
    const listening = () => ['ready', 'close', 'end', 'error'].map((e) => client.listenerCount(e));
    const before = listening();
    const store = createRedisHealthStore({ client, keyPrefix: `s${++run}:` });
    await until(() => store.status().connected, 'connected');
    store.setProvider('p', openAt(1, 2));
    store.setResponse('k', 'v', 60_000);
    await until(() => false, 'nothing', 50).catch(() => undefined);
    expect(await store.getResponse('k')).toBe('v');
    await store.close();
    expect(client.status).toBe('ready');
    // A closed store sends nothing more on your client: its cache is a miss.
    expect(await store.getResponse('k')).toBeUndefined();
    // Nor does it keep listening to it (a client that outlives many stores would collect their listeners).
    expect(listening()).toEqual(before);
    expect(await client.hget(`s${run}:providers`, 'p')).toContain('"openedUntil":2');
    await client.quit();
  });

  it('connects a client you pass that was created with lazyConnect', async () => {
    const client = new Redis(redis.url, { lazyConnect: true });
    const store = createRedisHealthStore({ client, keyPrefix: `s${++run}:` });
    open.push(store, { close: () => client.quit() });
    await until(() => store.status().connected, 'connected');
  });

  it('closing a store while Redis is up disconnects its subscriber too, even with a client you pass', async () => {
    const client = new Redis(redis.url);
    const subscribers = async () =>
      String(await client.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((l) => / sub=[1-9]/.test(l)).length;
    const before = await subscribers();
    const store = createRedisHealthStore({ client, keyPrefix: `s${++run}:` });
    await until(() => store.status().connected, 'connected');
    expect(await subscribers()).toBe(before + 1);
    await store.close();
    const end = Date.now() + 3_000;
    while ((await subscribers()) > before && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await subscribers()).toBe(before);
    await client.quit();
  });

  it('closing a store created from a url while Redis is up closes both its connections', async () => {
    const admin = new Redis(redis.url);
    const ids = async () => new Set(String(await admin.call('CLIENT', 'LIST')).match(/\bid=\d+/g));
    const before = await ids();
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: `s${++run}:` });
    await until(() => store.status().connected, 'connected');
    const mine = [...(await ids())].filter((id) => !before.has(id));
    expect(mine).toHaveLength(2);
    await store.close();
    const left = async () => {
      const now = await ids();
      return mine.filter((id) => now.has(id));
    };
    const end = Date.now() + 3_000;
    while ((await left()).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await left()).toEqual([]);
    admin.disconnect();
  });

  it('closing a store whose Redis is down leaves nothing running that holds the process', async () => {
    const before = refCounted();
    const store = createRedisHealthStore({ url: `redis://127.0.0.1:${await freePort()}` });
    await until(() => store.status().error !== undefined, 'the connection refused');
    await store.close();
    // ioredis ends a socket it is told to disconnect and destroys it after `disconnectTimeout` (2 s by default)
    // on a timer that keeps the process alive, even when the socket had already closed (refused).
    await until(() => refCounted() <= before, 'no timer or socket left', 500);
  });

  it('closing a store from a url whose Redis is down leaves no timer holding the process past timeoutMs', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const script = fileURLToPath(new URL('./fixtures/close-timers.ts', import.meta.url));
    const out = spawnSync(process.execPath, ['--import', 'tsx', script, url, '300'], { encoding: 'utf8' });
    const holding = JSON.parse(out.stdout) as number[];
    // The subscriber's SUBSCRIBE, queued until Redis answers, used to keep its 1 s ioredis commandTimeout.
    expect(holding.filter((ms) => ms > 300)).toEqual([]);
  });

  it('rejects options without exactly one of client and url', () => {
    expect(() => createRedisHealthStore({})).toThrow(ConfigError);
    expect(() => createRedisHealthStore({ url: 'http://x' })).toThrow(ConfigError);
    const client = new Redis({ lazyConnect: true });
    expect(() => createRedisHealthStore({ client, url: redis.url })).toThrow(/exactly one of client or url/);
    client.disconnect();
  });

  describe('when Redis goes away', () => {
    let own: RedisServer;
    let up: MockUpstream;
    beforeAll(async () => {
      own = await startRedis();
      up = await startMockUpstream('openai');
    });
    afterAll(async () => {
      await up.close();
      await own.stop();
    });

    it('reports degraded then connected, and pushes what it learnt meanwhile on reconnect', async () => {
      const prefix = `s${++run}:`;
      // `a` on a client of ours, to see when that client (not just the store's subscriber) has noticed.
      const mine = new Redis(own.url);
      open.push({ close: async () => mine.disconnect() });
      const [b] = await stores(1, prefix, own.url);
      const a = createRedisHealthStore({ client: mine, keyPrefix: prefix });
      open.push(a);
      await until(() => a.status().connected, 'a connected');
      const statuses: HealthStoreUpdate[] = [];
      a.subscribe((u) => u.type === 'status' && statuses.push(u));
      await own.kill();
      await until(
        () => mine.status !== 'ready' && !a.status().connected && !b!.status().connected,
        'disconnected',
      );
      a.setProvider('p', openAt(Date.now(), Date.now() + 60_000));
      a.setTargetCooldown('p/m', Date.now() + 60_000);
      // Nothing waits on a Redis that is not there: both answer within microtasks, before any timer or socket
      // event could run (a command sent would wait for the reconnect or the 250 ms command timeout).
      const io = new Promise((r) => setImmediate(() => r('waited on I/O')));
      expect(await Promise.race([a.getResponse('k'), io])).toBeUndefined();
      expect(await Promise.race([a.acquireProbe('p', 1_000), io])).toBe(true);
      await own.restart();
      await until(() => a.status().connected && b!.status().connected, 'reconnected', 8_000);
      await until(() => b!.getProvider('p') !== undefined, 'resync');
      expect(b!.getTargetCooldown('p/m')).toBe(a.getTargetCooldown('p/m'));
      expect(statuses.map((s) => s.type === 'status' && s.connected)).toEqual([false, true]);
    });

    it('a client keeps serving while Redis is paused, and reports the store in health() and events', async () => {
      const store = createRedisHealthStore({ url: own.url, keyPrefix: `s${++run}:`, timeoutMs: 100 });
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
        providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
        health: { store, probes: false },
        cache: { store, ttlMs: 10_000 },
      });
      open.push(llm);
      await until(() => llm.health().store?.connected === true, 'connected');
      expect(llm.health().store).toEqual({ kind: 'redis', connected: true });
      // Frozen until the call is done: the call is served while Redis answers nothing at all. Only the store's own
      // 100 ms timeout (not ioredis's 1 s one) marks the store not connected, as the call returns.
      own.freeze();
      const res = await llm.chat(
        { model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] },
        { cache: true },
      );
      expect(res.model).toBe('up/m');
      // The unanswered cache read marked the store not connected; it comes back once Redis answers again.
      expect(llm.health().store).toEqual({
        kind: 'redis',
        connected: false,
        error: 'Redis did not answer within 100 ms',
      });
      own.thaw();
      await until(() => llm.health().store?.connected === true, 'answering again', 5_000);
      const events: unknown[] = [];
      llm.on('store', (e) => events.push(e));
      await own.kill();
      await until(() => events.length > 0, 'store event');
      expect(events[0]).toMatchObject({ connected: false });
      // With the reason when one came (a reconnect refused may or may not have by now).
      expect(llm.health().store).toMatchObject({ kind: 'redis', connected: false });
      await own.restart();
      await until(() => llm.health().store?.connected === true, 'reconnected', 8_000);
      expect(events.at(-1)).toEqual({ connected: true });
    });
  });
});
