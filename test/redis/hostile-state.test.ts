import { EventEmitter } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createManaLLM, type ManaLLM } from '../../src/index.js';
import {
  createRedisHealthStore,
  type RedisClientLike,
  type RedisHealthStore,
} from '../../src/redis/index.js';
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';
import { haveRedis, type RedisServer, startRedis, watchCommands } from './redis-server.js';

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const YEAR_2100 = 4_102_444_800_000;
const USER = [{ role: 'user' as const, content: 'Hi' }];

describe.skipIf(!haveRedis())('a hostile or corrupted Redis', () => {
  let redis: RedisServer;
  let up: MockUpstream;
  let admin: Redis;
  let run = 0;
  const open: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    up = await startMockUpstream('openai');
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await up?.close();
    await redis?.stop();
  });
  afterEach(async () => {
    redis.thaw();
    for (const o of open.splice(0).reverse()) await o.close();
  });

  /** A client on a fresh key prefix with provider `up` (and `cooldownMs`), connected to Redis. */
  async function client(
    prefix: string,
    cooldownMs = 60_000,
    timeoutMs = 250,
  ): Promise<{ llm: ManaLLM; store: RedisHealthStore }> {
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix, timeoutMs });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { store, probes: false, cooldownMs },
      cache: { store, ttlMs: 60_000 },
    });
    open.push(llm);
    await until(() => llm.health().store?.connected === true, 'connected');
    return { llm, store };
  }

  it('a far-future open in the providers hash is clamped to one cool-down, and the next success heals Redis', async () => {
    const prefix = `h${++run}:`;
    const record = {
      consecutiveFailures: 1e12,
      openedUntil: YEAR_2100,
      lastError: 'x',
      lastCheckedAt: YEAR_2100,
    };
    await admin.hset(`${prefix}providers`, 'up', JSON.stringify(record));
    const t0 = Date.now();
    const { llm } = await client(prefix, 300);
    const seen = llm.health().providers.up!;
    expect(seen.state).toBe('open');
    expect(seen.unhealthyUntil).toBeLessThanOrEqual(Date.now() + 300);
    expect(seen.unhealthyUntil).toBeGreaterThanOrEqual(t0);
    expect(seen.lastCheckedAt).toBeLessThanOrEqual(Date.now());
    expect(seen.consecutiveFailures).toBeLessThanOrEqual(1_000_000);
    // Once the cool-down is over, a call is the trial; its success closes the breaker here and in Redis.
    await new Promise((r) => setTimeout(r, 350));
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(llm.health().providers.up?.state).toBe('closed');
    const stored = JSON.parse((await waitForClose(admin, `${prefix}providers`)) ?? 'null');
    expect(stored.openedUntil).toBeNull();
  });

  it('a huge value planted in the hashes is never fetched by a store loading them', async () => {
    const prefix = `h${++run}:`;
    const big = 'x'.repeat(5_000_000);
    await admin.hset(`${prefix}providers`, 'up', big, 'x'.repeat(600), '{}');
    await admin.hset(`${prefix}targets`, 'up/m', big, 'up/n', String(Date.now() + 60_000));
    // A huge field name (not only a value) is measured inside Redis too.
    await admin.hset(`${prefix}providers`, 'u'.repeat(2_000_000), '{}');
    const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await admin.info('stats'))?.[1]);
    const before = await sent();
    const { llm } = await client(prefix, 60_000, 2_000); // a loaded machine must not time the load out
    // What the others wrote in the expected shape is still loaded.
    expect(llm.health().targets.map((t) => t.target)).toEqual(['up/n']);
    expect((await sent()) - before).toBeLessThan(1_000_000);
    await admin.del(`${prefix}providers`, `${prefix}targets`);
  });

  it('published messages are bounded, clamped and filtered', async () => {
    const prefix = `h${++run}:`;
    const { llm } = await client(prefix, 60_000);
    const publish = (m: unknown) =>
      admin.publish(`${prefix}health`, typeof m === 'string' ? m : JSON.stringify(m));
    const t0 = Date.now();
    await publish({
      s: 'attacker',
      p: 'up',
      r: {
        consecutiveFailures: -5,
        openedUntil: YEAR_2100,
        lastError: `\u001b[2J\r\n\u202eFAKE LOG LINE sk-proj-STOLENKEY123 ${'x'.repeat(2_900)}`,
        lastCheckedAt: YEAR_2100,
      },
    });
    await publish({
      s: 'attacker',
      p: 'ghost',
      r: { consecutiveFailures: 9, openedUntil: YEAR_2100, lastError: null, lastCheckedAt: 1 },
    });
    await publish({ s: 'attacker', t: 'up/m', u: YEAR_2100 });
    await publish({ s: 'attacker', t: 'ghost/m', u: YEAR_2100 });
    await publish({ s: 'attacker', t: 'up/other', u: Date.now() + 60_000, pad: 'x'.repeat(10_000) });
    await until(() => llm.health().targets.length > 0, 'the cool-down');
    const h = llm.health();
    const p = h.providers.up!;
    expect(p.state).toBe('open');
    expect(p.unhealthyUntil).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(p.consecutiveFailures).toBe(0);
    expect(p.lastError!.length).toBeLessThanOrEqual(300);
    expect([...(p.lastError ?? '')].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    // Cleaned as any text from elsewhere: no bidirectional override, no key.
    expect(p.lastError).toBe('FAKE LOG LINE [redacted]…');
    expect(p.lastCheckedAt).toBeLessThanOrEqual(Date.now());
    expect(Object.keys(h.providers)).toEqual(['up']);
    // The retry cap (one hour by default) bounds a cool-down; an unknown provider's and an oversized message are ignored.
    expect(h.targets).toHaveLength(1);
    expect(h.targets[0]?.target).toBe('up/m');
    expect(h.targets[0]?.until).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(h.targets[0]?.until).toBeGreaterThan(t0);
  });

  it('a record of the wrong shape, or of a provider the client does not configure, is ignored; a 4 KiB message is not', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    const providers = Object.fromEntries(
      ['up', 'a', 'b', 'c', 'd'].map((p) => [p, { type: 'openai' as const, baseUrl: up.url, apiKey: 'k' }]),
    );
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers,
      health: { store, probes: false },
    });
    open.push(llm);
    await until(() => llm.health().store?.connected === true, 'connected');
    const publish = (m: unknown) => admin.publish(`${prefix}health`, JSON.stringify(m));
    const r = { consecutiveFailures: 1, openedUntil: YEAR_2100, lastError: null, lastCheckedAt: 1 };
    await publish({ s: 'x', p: 'a', r: { ...r, consecutiveFailures: undefined } });
    await publish({ s: 'x', p: 'b', r: { ...r, openedUntil: String(YEAR_2100) } });
    await publish({ s: 'x', p: 'c', r: { ...r, lastCheckedAt: '1' } });
    await publish({ s: 'x', p: 'd', r: { ...r, lastError: 5 } });
    await publish({ s: 'x', p: 'ghost', r });
    await publish({ s: 'x', t: 'up/', u: Date.now() + 60_000 });
    await publish({ s: 'x', t: `up/${'m'.repeat(510)}`, u: Date.now() + 60_000 }); // 513 characters
    await publish({
      s: 'x',
      p: 'up',
      r: { ...r, consecutiveFailures: 2.7, openedUntil: null, lastCheckedAt: 2 },
    });
    // A message one character too long is ignored; the marker, exactly as long as a message may be, is not (once
    // it is in, so are the messages before it).
    const sized = (t: string, chars: number) => {
      const m = JSON.stringify({ s: 'x', t, u: Date.now() + 60_000, pad: '' });
      return m.replace('"pad":""', `"pad":"${'x'.repeat(chars - m.length)}"`);
    };
    await admin.publish(`${prefix}health`, sized('up/n', 4_097));
    await admin.publish(`${prefix}health`, sized('up/m', 4_096));
    await until(() => llm.health().targets.length > 0, 'the marker');
    for (const p of ['a', 'b', 'c', 'd', 'ghost']) expect(store.getProvider(p)).toBeUndefined();
    expect(store.getProvider('up')?.consecutiveFailures).toBe(2);
    expect(llm.health().targets.map((t) => t.target)).toEqual(['up/m']);
  });

  it('a providers key of the wrong type (the state cannot be loaded) shows as not connected, with the reason', async () => {
    const prefix = `h${++run}:`;
    await admin.set(`${prefix}providers`, 'not a hash');
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().error !== undefined, 'the load refused');
    expect(store.status()).toMatchObject({
      kind: 'redis',
      connected: false,
      error: expect.stringMatching(/WRONGTYPE/),
    });
    // Once the key is repaired, the next resync (a second later) loads the state.
    await admin.del(`${prefix}providers`);
    await until(() => store.status().connected, 'connected once repaired');
  });

  it('listens on the channel it is given', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix, channel: `${prefix}own` });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const until1m = Date.now() + 60_000;
    await admin.publish(`${prefix}own`, JSON.stringify({ s: 'x', t: 'up/m', u: until1m }));
    await until(() => store.getTargetCooldown('up/m') !== undefined, 'the cool-down');
    expect(store.getTargetCooldown('up/m')).toBe(until1m);
  });

  it('a published cool-down is kept only for a provider/model target of at most 512 characters', async () => {
    const prefix = `h${++run}:`;
    // No client bound: any provider is accepted, so only the target's shape decides.
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const u = Date.now() + 60_000;
    const longest = `${'p'.repeat(509)}/mm`;
    for (const t of [longest, `${longest}m`, '/m', 'up/', 'nomodel', 'up/last'])
      await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t, u }));
    await until(() => store.getTargetCooldown('up/last') !== undefined, 'the last message');
    expect(longest).toHaveLength(512);
    expect(store.listTargetCooldowns().map((c) => c.target)).toEqual([longest, 'up/last']);
  });

  it('a store no client has bound clamps an open read from Redis to one hour', async () => {
    const prefix = `h${++run}:`;
    const record = { consecutiveFailures: 1, openedUntil: YEAR_2100, lastError: null, lastCheckedAt: 1 };
    await admin.hset(`${prefix}providers`, 'up', JSON.stringify(record));
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const until1h = Date.now() + 3_600_000;
    expect(store.getProvider('up')?.openedUntil).toBeLessThanOrEqual(until1h);
    expect(store.getProvider('up')?.openedUntil).toBeGreaterThan(until1h - 60_000);
  });

  it("what a store loaded before a client used it is judged again by that client's bounds", async () => {
    const prefix = `h${++run}:`;
    const record = { consecutiveFailures: 1, openedUntil: YEAR_2100, lastError: null, lastCheckedAt: 1 };
    await admin.hset(`${prefix}providers`, 'up', JSON.stringify(record), 'ghost', JSON.stringify(record));
    await admin.hset(`${prefix}targets`, 'up/m', String(YEAR_2100), 'ghost/m', String(YEAR_2100));
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().connected, 'loaded, unbound');
    expect(store.getProvider('ghost')).toBeDefined();
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { store, probes: false, cooldownMs: 60_000 },
      limits: { maxRetryAfterMs: 10_000 },
    });
    open.push(llm);
    // Clamped to this client's cool-down and retry cap (not the hour an unbound store allows); a provider it
    // does not configure is dropped.
    expect(llm.health().providers.up?.unhealthyUntil).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(llm.health().targets.map((t) => t.target)).toEqual(['up/m']);
    expect(llm.health().targets[0]?.until).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(store.getProvider('ghost')).toBeUndefined();
  });

  it("a cool-down from elsewhere is bounded by the client's retry cap (limits.maxRetryAfterMs)", async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { store, probes: false },
      limits: { maxRetryAfterMs: 10_000 },
    });
    open.push(llm);
    await until(() => llm.health().store?.connected === true, 'connected');
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'attacker', t: 'up/m', u: YEAR_2100 }));
    await until(() => llm.health().targets.length > 0, 'the cool-down');
    expect(llm.health().targets[0]?.until).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it('a closed record planted with a far-future check time does not block the next open from being written', async () => {
    const prefix = `h${++run}:`;
    const planted = { consecutiveFailures: 0, openedUntil: null, lastError: null, lastCheckedAt: YEAR_2100 };
    await admin.hset(`${prefix}providers`, 'up', JSON.stringify(planted));
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const now = Date.now();
    store.setProvider('up', {
      consecutiveFailures: 2,
      openedUntil: now + 60_000,
      trialInFlight: false,
      lastError: 'ECONNREFUSED',
      lastCheckedAt: now,
    });
    await until(() => store.status().connected, 'written');
    const stored = async () => JSON.parse((await admin.hget(`${prefix}providers`, 'up')) ?? '{}');
    const end = Date.now() + 2_000;
    while ((await stored()).openedUntil !== now + 60_000 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    expect((await stored()).openedUntil).toBe(now + 60_000);
  });

  it('a record planted with a NaN check time (Lua reads it as a number) does not block the next open from reaching the others', async () => {
    const prefix = `h${++run}:`;
    // JSON has no NaN, but Redis' cjson reads it; every comparison with it is false.
    const planted = '{"consecutiveFailures":0,"openedUntil":null,"lastError":null,"lastCheckedAt":NaN}';
    await admin.hset(`${prefix}providers`, 'up', planted);
    const [a, b] = [0, 1].map(() => createRedisHealthStore({ url: redis.url, keyPrefix: prefix }));
    open.push(a!, b!);
    await until(() => a!.status().connected && b!.status().connected, 'connected');
    const now = Date.now();
    a!.setProvider('up', {
      consecutiveFailures: 2,
      openedUntil: now + 60_000,
      trialInFlight: false,
      lastError: 'ECONNREFUSED',
      lastCheckedAt: now,
    });
    await until(() => b!.getProvider('up')?.openedUntil === now + 60_000, 'the open, in the other store');
    expect(JSON.parse((await admin.hget(`${prefix}providers`, 'up')) ?? '{}').openedUntil).toBe(now + 60_000);
  });

  it('a provider record planted as a bare JSON number loses to the next write, which reaches the others', async () => {
    const prefix = `h${++run}:`;
    await admin.hset(`${prefix}providers`, 'up', '42');
    const [a, b] = [0, 1].map(() => createRedisHealthStore({ url: redis.url, keyPrefix: prefix }));
    open.push(a!, b!);
    await until(() => a!.status().connected && b!.status().connected, 'connected');
    const now = Date.now();
    const record = { consecutiveFailures: 2, openedUntil: now + 60_000, trialInFlight: false };
    a!.setProvider('up', { ...record, lastError: 'ECONNREFUSED', lastCheckedAt: now });
    await until(() => b!.getProvider('up')?.openedUntil === now + 60_000, 'the open, in the other store');
  });

  it('a published record with an infinite stamp (1e999 in JSON) is ignored', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const r = '"consecutiveFailures":3,"openedUntil":null,"lastError":null';
    await admin.publish(`${prefix}health`, `{"s":"x","p":"up","r":{${r},"lastCheckedAt":-1e999}}`);
    await admin.publish(`${prefix}health`, `{"s":"x","p":"up2","r":{${r},"lastCheckedAt":1}}`);
    await until(() => store.getProvider('up2') !== undefined, 'the marker');
    expect(store.getProvider('up')).toBeUndefined();
  });

  it('a message with an earlier cool-down deadline does not shorten the one this process knows', async () => {
    const prefix = `h${++run}:`;
    const { llm } = await client(prefix, 60_000);
    const publish = (m: unknown) => admin.publish(`${prefix}health`, JSON.stringify(m));
    const later = Date.now() + 50_000;
    await publish({ s: 'other', t: 'up/m', u: later });
    await until(() => llm.health().targets.length === 1, 'the cool-down');
    await publish({ s: 'other', t: 'up/m', u: Date.now() + 5_000 });
    await publish({ s: 'other', t: 'up/n', u: later });
    await until(() => llm.health().targets.length === 2, 'the marker');
    expect(llm.health().targets.find((t) => t.target === 'up/m')?.until).toBe(later);
  });

  it('a flood of published cool-downs for new targets is mirrored only up to 10,000', async () => {
    const prefix = `h${++run}:`;
    const { llm } = await client(prefix, 60_000);
    const deadline = Date.now() + 60_000;
    const flood = admin.pipeline();
    for (let i = 0; i < 10_050; i++)
      flood.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: `up/m${i}`, u: deadline }));
    // Then a provider's record: once it arrives, every cool-down before it has been received.
    const r = { consecutiveFailures: 1, openedUntil: deadline, lastError: 'x', lastCheckedAt: Date.now() };
    flood.publish(`${prefix}health`, JSON.stringify({ s: 'other', p: 'up', r }));
    await flood.exec();
    await until(() => llm.health().providers.up?.state === 'open', 'the marker');
    expect(llm.health().targets).toHaveLength(10_000);
    // A later deadline for a target already mirrored is taken even so.
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: 'up/m0', u: deadline + 5_000 }));
    const m0 = () => llm.health().targets.find((t) => t.target === 'up/m0')?.until;
    await until(() => m0() === deadline + 5_000, 'the later deadline', 2_000);
  });

  it('a hash planted with more fields than a store mirrors is loaded only up to that many', async () => {
    const prefix = `h${++run}:`;
    const fields: string[] = [];
    for (let i = 0; i < 40_000; i++) fields.push(`up/m${i}`, 'x'.repeat(100));
    await admin.hset(`${prefix}targets`, ...fields);
    const sent = async () => Number(/total_net_output_bytes:(\d+)/.exec(await admin.info('stats'))?.[1]);
    const before = await sent();
    await client(prefix, 60_000, 5_000);
    // 10,000 fields of ~110 bytes, not all 40,000.
    expect((await sent()) - before).toBeLessThan(2_000_000);
    await admin.del(`${prefix}targets`);
  });

  it('a frozen Redis shows as not connected and calls stop waiting on it', async () => {
    const prefix = `h${++run}:`;
    const { llm } = await client(prefix, 60_000, 200);
    await llm.chat({ model: 'mana/x', messages: USER }, { cache: true });
    const log = await watchCommands(redis.url);
    await log.sync();
    redis.freeze();
    for (let i = 0; i < 5; i++) {
      await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: `q${i}` }] }, { cache: true });
    }
    expect(llm.health().store).toEqual({
      kind: 'redis',
      connected: false,
      error: 'Redis did not answer within 200 ms',
    });
    redis.thaw();
    await until(() => llm.health().store?.connected === true, 'connected again');
    // The first call found out (one cache read, never answered in time); the others did not wait for Redis at
    // all: they sent it nothing (a frozen Redis runs what it was sent once thawed, so MONITOR counts it).
    await log.sync();
    expect(log.count(['eval', 'evalsha'], `${prefix}cache:`)).toBe(1);
    // What found out that Redis answers again is a read of a key under the store's prefix (an ACL may allow no other).
    expect(log.count(['get'], `${prefix}alive`)).toBeGreaterThan(0);
    log.stop();
  });

  it('a probe lease Redis does not answer in time lets this process probe', async () => {
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: `h${++run}:`, timeoutMs: 100 });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    redis.freeze();
    expect(await store.acquireProbe('up', 60_000)).toBe(true);
    expect(store.status().connected).toBe(false);
  });

  it('a cool-down set while Redis is frozen is not sent to it then, only pushed once it answers again', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix, timeoutMs: 100 });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    const log = await watchCommands(redis.url);
    await log.sync();
    redis.freeze();
    await store.acquireProbe('up', 60_000);
    store.setTargetCooldown('up/m', Date.now() + 60_000);
    redis.thaw();
    await until(() => store.status().connected, 'connected again');
    await log.sync();
    expect(log.count(['eval', 'evalsha'], `${prefix}targets`)).toBe(2); // the push, then the load
    log.stop();
  });

  it('a Redis frozen for longer than one check is found answering again by a later one', async () => {
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: `h${++run}:`, timeoutMs: 100 });
    open.push(store);
    await until(() => store.status().connected, 'connected');
    redis.freeze();
    await store.acquireProbe('up', 60_000);
    expect(store.status().connected).toBe(false);
    // The first check (after 100 ms) gets no answer either; the next ones come every second.
    await new Promise((r) => setTimeout(r, 1_500));
    redis.thaw();
    await until(() => store.status().connected, 'connected again');
  });

  it('a cached value larger than the reply cap (limits.maxResponseBytes) is a miss, never read whole', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { probes: false },
      cache: { store, ttlMs: 60_000 },
      limits: { maxResponseBytes: 4_096 },
    });
    open.push(llm, store);
    await until(() => store.status().connected, 'connected');
    const keys: string[] = [];
    llm.on('cache', (e) => keys.push(e.key));
    const ask = () => llm.chat({ model: 'mana/x', messages: USER }, { cache: true });
    const served = (await ask()).choices[0]!.message.content;
    const cacheKey = `${prefix}cache:${keys[0]}`;
    let stored: string | null = null;
    await until(() => {
      void admin.get(cacheKey).then((v) => (stored = v));
      return stored !== null;
    }, 'the answer stored');
    const plant = (content: string) => {
      const value = JSON.parse(stored!);
      value.response.choices[0].message.content = content;
      return admin.set(cacheKey, JSON.stringify(value), 'PX', 60_000);
    };
    // Under the cap a planted answer is served (it is an answer of the call's kind)…
    await plant('planted');
    expect((await ask()).choices[0]!.message.content).toBe('planted');
    // …over it, it is a miss and the call goes upstream.
    await plant('x'.repeat(5_000));
    const before = up.count('chat');
    const again = await ask();
    expect(again.routing.cached).toBeUndefined();
    expect(again.choices[0]!.message.content).toBe(served);
    expect(up.count('chat')).toBe(before + 1);
  });

  it('a cache ttlMs too large for Redis to take as written (Number.MAX_VALUE: "forever") still caches', async () => {
    const prefix = `h${++run}:`;
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { probes: false },
      cache: { store, ttlMs: Number.MAX_VALUE },
    });
    open.push(llm, store);
    await until(() => store.status().connected, 'connected');
    const ask = () =>
      llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'ttl' }] }, { cache: true });
    await ask();
    await new Promise((r) => setTimeout(r, 100)); // the write is in the background
    expect((await ask()).routing.cached).toBe(true);
    expect(store.status()).toEqual({ kind: 'redis', connected: true });
  });

  it('an answer whose stored text is over the reply cap in bytes (multi-byte characters) is not written', async () => {
    const cjk = await startMockUpstream('openai');
    open.push(cjk);
    cjk.setDefault({ reply: '日'.repeat(300) });
    const USER2 = [{ role: 'user' as const, content: 'multi-byte' }];
    /** A client with this reply cap; the cache key of its call and the stored text, once a call was served. */
    const ask = async (maxResponseBytes: number) => {
      const prefix = `h${++run}:`;
      const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
        providers: { up: { type: 'openai', baseUrl: cjk.url, apiKey: 'k' } },
        health: { probes: false },
        cache: { store, ttlMs: 60_000 },
        limits: { maxResponseBytes },
      });
      open.push(llm, store);
      await until(() => store.status().connected, 'connected');
      const keys: string[] = [];
      llm.on('cache', (e) => keys.push(e.key));
      const first = await llm.chat({ model: 'mana/x', messages: USER2 }, { cache: true });
      expect(first.choices[0]!.message.content).toBe('日'.repeat(300));
      await new Promise((r) => setTimeout(r, 100)); // the write is in the background
      const stored = await admin.get(`${prefix}cache:${keys[0]}`);
      const second = await llm.chat({ model: 'mana/x', messages: USER2 }, { cache: true });
      return { stored, hit: second.routing.cached === true };
    };
    const { stored } = await ask(1_000_000);
    const bytes = Buffer.byteLength(stored!);
    expect(stored!.length).toBeLessThan(bytes - 1);
    // At a cap of one byte less than the stored text (its length in characters is well under it), the answer is
    // never read back (Redis measures bytes), so it is not written either.
    expect(await ask(bytes - 1)).toEqual({ stored: null, hit: false });
    expect(await ask(bytes)).toEqual({ stored, hit: true });
  });

  it('a published cool-down whose deadline is not a number or numeric text (an array) is ignored', async () => {
    const prefix = `h${++run}:`;
    const { store } = await client(prefix, 60_000);
    const later = Date.now() + 50_000;
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: 'up/m', u: [later] }));
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: 'up/n', u: later }));
    await until(() => store.getTargetCooldown('up/n') !== undefined, 'the marker');
    expect(store.listTargetCooldowns()).toEqual([{ target: 'up/n', until: later }]);
  });

  it('a cool-down ending exactly now is over: not written, pruned from Redis, ignored when published', async () => {
    const prefix = `h${++run}:`;
    const { store } = await client(prefix, 60_000);
    // Commands on one connection are answered in order: a cache read answers after the writes before it.
    const barrier = () => store.getResponse('none');
    const now = Date.now();
    // Times in Redis are Date.now() (other processes compare them): frozen at `now` for the boundary.
    const frozen = vi.spyOn(Date, 'now').mockReturnValue(now);
    try {
      store.setTargetCooldown('up/a', now + 1_000);
      await barrier();
      await admin.hset(`${prefix}targets`, 'up/planted', String(now));
      store.setTargetCooldown('up/m', now);
      await barrier();
      expect(Object.keys(await admin.hgetall(`${prefix}targets`)).sort()).toEqual(['up/a']);
      await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: 'up/p', u: now }));
      await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', t: 'up/q', u: now + 1 }));
      await until(() => store.getTargetCooldown('up/q') !== undefined, 'the marker');
      expect(store.getTargetCooldown('up/p')).toBeUndefined();
    } finally {
      frozen.mockRestore();
    }
  });

  it('a cool-down to the deadline Redis already holds is not written or published again', async () => {
    const prefix = `h${++run}:`;
    const { store } = await client(prefix, 60_000);
    const heard: string[] = [];
    const sub = new Redis(redis.url);
    open.push({ close: async () => sub.disconnect() });
    sub.on('message', (_ch: string, m: string) => heard.push(JSON.parse(m).t));
    await sub.subscribe(`${prefix}health`);
    const later = Date.now() + 50_000;
    store.setTargetCooldown('up/m', later);
    store.setTargetCooldown('up/m', later);
    store.setTargetCooldown('up/n', later);
    await until(() => heard.includes('up/n'), 'the marker');
    expect(heard).toEqual(['up/m', 'up/n']);
  });

  it('an open record planted exactly at the corrupt bound (now + cool-down + 60 s skew) is kept against a shorter open', async () => {
    const prefix = `h${++run}:`;
    const { store } = await client(prefix, 60_000);
    const now = Date.now();
    const planted = JSON.stringify({
      consecutiveFailures: 3,
      openedUntil: now + 120_000,
      lastError: 'x',
      lastCheckedAt: now - 1_000,
    });
    await admin.hset(`${prefix}providers`, 'up', planted);
    // Times in Redis are Date.now() (other processes compare them): frozen at `now` for the boundary.
    const frozen = vi.spyOn(Date, 'now').mockReturnValue(now);
    try {
      store.setProvider('up', {
        consecutiveFailures: 5,
        openedUntil: now + 60_000,
        trialInFlight: false,
        lastError: 'y',
        lastCheckedAt: now,
      });
      await store.getResponse('none');
      expect(await admin.hget(`${prefix}providers`, 'up')).toBe(planted);
    } finally {
      frozen.mockRestore();
    }
  });

  it('a stored record of exactly 4 KiB is loaded by a store starting up', async () => {
    const prefix = `h${++run}:`;
    const r = {
      consecutiveFailures: 3,
      openedUntil: Date.now() + 30_000,
      lastError: '',
      lastCheckedAt: Date.now(),
    };
    r.lastError = 'x'.repeat(4_096 - JSON.stringify(r).length);
    expect(JSON.stringify(r)).toHaveLength(4_096);
    await admin.hset(`${prefix}providers`, 'up', JSON.stringify(r));
    const { store } = await client(prefix, 60_000);
    expect(store.getProvider('up')?.consecutiveFailures).toBe(3);
  });
});

/** The stored record once it is no longer open (the trial's success is written in the background). */
async function waitForClose(admin: Redis, key: string): Promise<string | null> {
  const end = Date.now() + 3_000;
  for (;;) {
    const text = await admin.hget(key, 'up');
    if (text && JSON.parse(text).openedUntil === null) return text;
    if (Date.now() > end) return text;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a Redis error text', () => {
  /** A client that never connects and reports what it is told to: the text of an error is outside input. */
  function fakeClient(): RedisClientLike & EventEmitter {
    const c = Object.assign(new EventEmitter(), {
      status: 'wait',
      connect: () => new Promise<void>(() => {}),
      subscribe: () => new Promise<unknown>(() => {}),
      duplicate: () => fakeClient(),
      eval: () => Promise.reject(new Error('not connected')),
      hgetall: () => Promise.reject(new Error('not connected')),
      get: () => Promise.reject(new Error('not connected')),
      set: () => Promise.reject(new Error('not connected')),
      quit: () => Promise.resolve('OK'),
      disconnect: () => {},
    });
    return c as unknown as RedisClientLike & EventEmitter;
  }

  it('reaches health().store cut, with keys redacted and control characters (bidirectional overrides too) replaced', () => {
    const client = fakeClient();
    const store = createRedisHealthStore({ client });
    client.emit(
      'error',
      new Error(`ERR \u001b[2J\r\n\u202eFAKE LOG LINE sk-proj-STOLENKEY1234567890 ${'x'.repeat(2_000)}`),
    );
    const status = store.status();
    expect(status.connected).toBe(false);
    const error = status.error ?? '';
    expect(error).toMatch(/^ERR .*FAKE LOG LINE/);
    expect(error).not.toContain('STOLENKEY');
    expect([...error].some((c) => c.charCodeAt(0) < 0x20 || c === '\u202e')).toBe(false);
    expect(error.length).toBeLessThanOrEqual(201);
    void store.close();
  });

  it('is forgotten once the store is connected again: a later drop without an error shows no stale reason', async () => {
    // Both clients ready at once and every load answered empty: the store connects without a server.
    const up = (): RedisClientLike & EventEmitter =>
      Object.assign(fakeClient(), { status: 'ready', eval: async () => [], subscribe: async () => 1 });
    const client = Object.assign(up(), { duplicate: up }) as RedisClientLike &
      EventEmitter & { status: string };
    const store = createRedisHealthStore({ client });
    await until(() => store.status().connected, 'connected');
    const drop = (err?: Error) => {
      client.status = 'reconnecting';
      if (err) client.emit('error', err);
      client.emit('close');
    };
    drop(new Error('ECONNRESET first drop'));
    expect(store.status()).toEqual({ kind: 'redis', connected: false, error: 'ECONNRESET first drop' });
    client.status = 'ready';
    client.emit('ready');
    await until(() => store.status().connected, 'connected again');
    drop();
    expect(store.status()).toEqual({ kind: 'redis', connected: false });
    await store.close();
  });

  it("never shows a url's user or password (URL-encoded too), even when the server echoes them", async () => {
    // A server (a proxy, say) answering AUTH with an error that repeats what it was sent.
    const server = createServer((socket) =>
      socket.on('data', (d) => socket.write(`-ERR no such user: ${d.toString().replace(/\r\n/g, ' ')}\r\n`)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const store = createRedisHealthStore({ url: `redis://alice:pa%2F55@127.0.0.1:${port}` });
    await until(() => store.status().error !== undefined, 'the error');
    const error = store.status().error ?? '';
    await store.close();
    server.close();
    expect(error).toMatch(/no such user/);
    expect(error).not.toMatch(/alice|pa\/55|pa%2F55/);
  });
});
