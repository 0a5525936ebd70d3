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
