import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError } from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, KEY, rejection, track, USER, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** An OpenAI-compatible upstream holding every request until the test answers it. */
async function holding() {
  const held: ServerResponse[] = [];
  const up = await rawUpstream((_body, res) => void held.push(res));
  return { url: up.url, held, received: () => up.received };
}

describe('NoHealthyProviderError.retryAfterMs after a slow 429', () => {
  it('is when the target stops cooling, counted from the 429, not from the start of the attempt', async () => {
    const up = await holding();
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        clock,
        health: { probes: false },
      }),
    );
    const call = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => up.held.length === 1, 'the request at the upstream');
    // The upstream takes 4 s to say "retry after 10 s".
    clock.advance(4_000);
    const res = up.held.shift() as ServerResponse;
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '10' });
    res.end('{"error":{"message":"slow down"}}');
    const err = (await rejection(call)) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const until = llm.health().targets.find((t) => t.target === 'a/m')?.until;
    expect(until).toBe(clock.now() + 10_000);
    // Retrying after retryAfterMs must find the target usable again.
    expect(err.retryAfterMs).toBe(10_000);
  });
});

describe('the half-open trial', () => {
  it('stays the only call let through while it runs, even when a call that started before the breaker opened ends without a verdict', async () => {
    const up = await holding();
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        clock,
        health: { probes: false, failureThreshold: 1, cooldownMs: 1_000, maxConcurrentAfterFailure: 10 },
      }),
    );
    const req = { model: 'a/m', messages: USER };
    // X waits at a while a's breaker opens (another call's 500): it is not late yet, so it goes on waiting.
    const ac = new AbortController();
    const x = llm.chat(req, { signal: ac.signal });
    x.catch(() => undefined);
    await waitFor(() => up.held.length === 1, 'X at the upstream');
    const y = llm.chat(req);
    await waitFor(() => up.held.length === 2, 'Y at the upstream');
    const yRes = up.held.pop() as ServerResponse;
    yRes.writeHead(500, { 'content-type': 'application/json' });
    yRes.end('{"error":{"message":"boom"}}');
    await rejection(y);
    expect(llm.health().providers.a?.state).toBe('open');
    // The cool-down runs out: the next call is the trial.
    clock.advance(1_000);
    const trial = llm.chat(req);
    trial.catch(() => undefined);
    await waitFor(() => up.held.length === 2, 'the trial at the upstream');
    // X's caller gives up: that says nothing about a, and must not end someone else's trial.
    ac.abort(new Error('caller gave up'));
    expect(((await rejection(x)) as Error).message).toBe('caller gave up');
    // While the trial runs, other calls skip a without calling it.
    const next = llm.chat(req);
    next.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(up.received()).toBe(3);
    const other = (await rejection(next)) as NoHealthyProviderError;
    expect(other).toBeInstanceOf(NoHealthyProviderError);
    expect(other.attempts).toEqual([expect.objectContaining({ target: 'a/m', reason: 'unhealthy' })]);
  });
});
