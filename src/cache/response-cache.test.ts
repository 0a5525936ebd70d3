import { describe, expect, it } from 'vitest';
import type { AliasDefinition } from '../aliases/schema.js';
import { ManaEmitter } from '../events.js';
import { createFakeClock } from '../health/fake-clock.js';
import { DEFAULT_LIMITS } from '../options.js';
import type { CallPlan } from '../routing/context.js';
import type { ChatResponse } from '../types.js';
import { type CacheStore, createMemoryCacheStore } from './cache-store.js';
import { ResponseCache } from './response-cache.js';

const alias: AliasDefinition = {
  name: 'mana/c',
  chain: [{ target: 'p/m', provider: 'p', model: 'm' }],
  cache: true,
};
const plan: CallPlan = {
  id: '1',
  kind: 'chat',
  requested: 'mana/c',
  alias,
  chain: alias.chain,
  needs: {},
  signal: undefined,
  startedAt: 0,
  deadline: 1_000,
  attempts: [],
  trace: undefined,
};
const request = { model: 'mana/c', messages: [{ role: 'user' as const, content: 'Hi' }] };

const client = () => ({
  events: new ManaEmitter(),
  clock: createFakeClock(),
  opts: { limits: DEFAULT_LIMITS },
});

function answer(finish: 'stop' | null): ChatResponse {
  return {
    id: 'x',
    object: 'chat.completion',
    created: 0,
    model: 'p/m',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: finish }],
    routing: { requested: 'mana/c', alias: 'mana/c', resolved: 'p/m', attempts: [] },
  };
}

describe('ResponseCache', () => {
  it('does not even look when the call does not use the cache', () => {
    const cache = new ResponseCache(
      createMemoryCacheStore({ maxEntries: 5, maxBytes: 1_000, clock: createFakeClock() }),
      1_000,
      client(),
    );
    expect(cache.open(plan, request, { cache: false })).toBeUndefined();
    expect(cache.open({ ...plan, alias: { ...alias, cache: false } }, request, undefined)).toBeUndefined();
  });

  it('never stores an answer without a finish reason (cut short)', async () => {
    const cache = new ResponseCache(
      createMemoryCacheStore({ maxEntries: 5, maxBytes: 1_000, clock: createFakeClock() }),
      1_000,
      client(),
    );
    const t1 = await cache.open<ChatResponse>(plan, request, undefined);
    if (t1?.hit === undefined) t1?.save(answer(null));
    expect((await cache.open<ChatResponse>(plan, request, undefined))?.hit).toBeUndefined();
    const t2 = await cache.open<ChatResponse>(plan, request, undefined);
    if (t2?.hit === undefined) t2?.save(answer('stop'));
    expect((await cache.open<ChatResponse>(plan, request, undefined))?.hit?.routing.cached).toBe(true);
  });

  it('treats a store that throws, rejects or holds garbage as a miss', async () => {
    const broken: CacheStore[] = [
      {
        getResponse: () => {
          throw new Error('x');
        },
        setResponse: () => {
          throw new Error('x');
        },
      },
      {
        getResponse: () => Promise.reject(new Error('x')),
        setResponse: () => Promise.reject(new Error('x')),
      },
      { getResponse: () => '{not json', setResponse: () => undefined },
      { getResponse: () => '{"v":2}', setResponse: () => undefined },
    ];
    for (const store of broken) {
      const ticket = await new ResponseCache(store, 1_000, client()).open<ChatResponse>(
        plan,
        request,
        undefined,
      );
      expect(ticket?.hit).toBeUndefined();
      if (ticket?.hit === undefined) expect(() => ticket?.save(answer('stop'))).not.toThrow();
    }
  });
});
