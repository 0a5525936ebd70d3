import { APICallError, generateText } from 'ai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createManaProvider } from '../src/ai-sdk/index.js';
import { createManaLLM } from '../src/index.js';
import { closeAll, KEY, rejection, track } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const COMPLETION = JSON.stringify({
  id: 'c1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

/** An upstream that answers its first `limited` requests with 429 and `retry-after-ms: 300`, then a completion. */
async function limitedUpstream(limited: number) {
  const at: number[] = [];
  const up = await rawUpstream((_body, res) => {
    at.push(performance.now());
    if (at.length <= limited) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '300' });
      res.end('{"error":{"message":"slow down","type":"rate_limit_exceeded"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(COMPLETION);
  });
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
      providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
      health: { probes: false },
    }),
  );
  return { at, mana: createManaProvider(llm) };
}

describe("mana-llm/ai-sdk: the AI SDK's retry waits as long as mana-llm says", () => {
  it('a rate-limited chain is retried after the cool-down (300 ms), not the default 2 s', async () => {
    const { at, mana } = await limitedUpstream(1);
    // The AI SDK waits with a real setTimeout: its delay is read from the call, not from how long the wait took
    // (which a loaded machine stretches), so no wall-clock bound can flake.
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      fn: () => void,
      ms?: number,
      ...args: []
    ) => {
      if (at.length === 1) delays.push(ms ?? 0);
      return real(fn, ms, ...args);
    }) as typeof setTimeout);
    try {
      const res = await generateText({ model: mana('mana/x'), prompt: 'Hi', maxRetries: 1 });
      expect(res.text).toBe('Hello!');
    } finally {
      spy.mockRestore();
    }
    expect(at).toHaveLength(2);
    // After the 429 the first timer set is the SDK's wait: the cool-down left (at most 300 ms), not its 2 s
    // default (the later ones are the retry's own connect and total timeouts).
    const wait = delays.find((ms) => ms > 100) as number;
    expect(wait).toBeGreaterThan(100);
    expect(wait).toBeLessThanOrEqual(300);
    expect(delays).not.toContain(2000);
    // And it did wait that long before the retry reached the upstream (a timer never fires early).
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(wait - 1);
  });

  it('the APICallError carries the hint as retry-after-ms; none without a hint', async () => {
    const { mana } = await limitedUpstream(1);
    const err = await rejection(generateText({ model: mana('mana/x'), prompt: 'Hi', maxRetries: 0 }));
    expect(APICallError.isInstance(err)).toBe(true);
    // The URL names the model the call was for.
    expect((err as APICallError).url).toBe('mana-llm:mana/x');
    const ms = Number((err as APICallError).responseHeaders?.['retry-after-ms']);
    expect(ms).toBeGreaterThan(200);
    expect(ms).toBeLessThanOrEqual(300);
    const plain = await rawUpstream((_body, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"boom"}}');
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/y': { chain: ['p/m'] } } },
        providers: { p: { type: 'openai', baseUrl: plain.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const outage = await rejection(
      generateText({ model: createManaProvider(llm)('mana/y'), prompt: 'Hi', maxRetries: 0 }),
    );
    expect(outage).toMatchObject({ isRetryable: true });
    expect((outage as APICallError).responseHeaders).toBeUndefined();
  });
});
