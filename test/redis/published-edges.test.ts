// Published health messages the hostile-state suite does not send: JSON that is not an object, a record that
// never checked.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManaLLM, type ManaLLM } from '../../src/index.js';
import { createRedisHealthStore } from '../../src/redis/index.js';
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';
import { haveRedis, type RedisServer, startRedis } from './redis-server.js';

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(!haveRedis())('published health messages', () => {
  let redis: RedisServer;
  let up: MockUpstream;
  let admin: Redis;
  let run = 0;
  const open: ManaLLM[] = [];

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
    for (const o of open.splice(0)) await o.close();
  });

  async function client(prefix: string): Promise<ManaLLM> {
    const store = createRedisHealthStore({ url: redis.url, keyPrefix: prefix });
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['up/m'] } } },
      providers: { up: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
      health: { store, probes: false },
    });
    open.push(llm);
    await until(() => llm.health().store?.connected === true, 'connected');
    return llm;
  }

  it('JSON that is not an object (null, a number, a string) is ignored; the next record is taken', async () => {
    const prefix = `p${++run}:`;
    const llm = await client(prefix);
    for (const m of ['null', '42', '"up"', 'not json']) await admin.publish(`${prefix}health`, m);
    const r = {
      consecutiveFailures: 3,
      openedUntil: Date.now() + 30_000,
      lastError: null,
      lastCheckedAt: null,
    };
    await admin.publish(`${prefix}health`, JSON.stringify({ s: 'other', p: 'up', r }));
    await until(() => llm.health().providers.up?.state === 'open', 'the published open');
    const p = llm.health().providers.up;
    expect(p?.consecutiveFailures).toBe(3);
    expect(p?.lastError ?? null).toBeNull();
    expect(p?.lastCheckedAt ?? null).toBeNull();
    expect(llm.health().store?.connected).toBe(true);
  });
});
