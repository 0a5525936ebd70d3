import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import { createManaLLM, type HealthStore, type HealthStoreStatus } from '../src/index.js';
import { closeAll, KEY, track } from './helpers/client.js';

afterEach(closeAll);

describe('health().store', () => {
  it("is the shared store's status as it reports it: why it is not connected too (docs/redis.md)", () => {
    let status: HealthStoreStatus = {
      kind: 'custom',
      connected: false,
      error: 'ECONNREFUSED 127.0.0.1:6379',
    };
    const store: HealthStore = { ...createMemoryHealthStore(), status: () => status };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: 'http://127.0.0.1:9', apiKey: KEY } },
        health: { probes: false, store },
      }),
    );
    expect(llm.health().store).toEqual({
      kind: 'custom',
      connected: false,
      error: 'ECONNREFUSED 127.0.0.1:6379',
    });
    status = { kind: 'custom', connected: true };
    expect(llm.health().store).toStrictEqual({ kind: 'custom', connected: true });
  });
});
