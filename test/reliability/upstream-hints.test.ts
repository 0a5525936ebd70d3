import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, type ProviderRateLimitError } from '../../src/index.js';
import { openaiCodec } from '../../src/testing/index.js';
import { closeAll as closeHelpers, coolingTargets } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';
import { client, closeAll, consume, mock, settle, waitFor } from './support.js';

afterEach(async () => {
  await closeAll();
  await closeHelpers();
});

const REQ = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
const HOUR = 3_600_000;

const GEMINI_429 = JSON.stringify({
  error: {
    code: 429,
    status: 'RESOURCE_EXHAUSTED',
    message: 'quota',
    details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '99999999999s' }],
  },
});

describe('retry hints from an upstream are capped', () => {
  async function hostileChain(limits?: { maxRetryAfterMs: number }) {
    const a = await mock('openai');
    const b = await mock('openai');
    const g = await mock('google');
    a.setDefault({ status: 429, headers: { 'retry-after-ms': '1e300' } });
    b.setDefault({ status: 429, headers: { 'retry-after': '99999999999' } });
    g.setDefault({ status: 429, body: GEMINI_429 });
    return client(
      {
        a: { type: 'openai', baseUrl: a.url },
        b: { type: 'openai', baseUrl: b.url },
        g: { type: 'google', baseUrl: g.url, apiKey: 'k' },
      },
      { 'mana/x': ['a/m', 'b/m', 'g/gemini-2.0-flash'] },
      limits ? { limits } : {},
    );
  }

  it('retry-after-ms: 1e300, retry-after: 99999999999 and retryDelay 99999999999s: one hour on errors and cool-downs', async () => {
    const { llm, clock } = await hostileChain();
    const { error } = await settle(llm.chat(REQ));
    expect(error).toBeInstanceOf(NoHealthyProviderError);
    const err = error as NoHealthyProviderError;
    expect(err.retryAfterMs).toBe(HOUR);
    const hints = err.attempts.map((a) => (a.error as ProviderRateLimitError).retryAfterMs);
    expect(hints).toEqual([HOUR, HOUR, HOUR]);
    expect(coolingTargets(llm).map((t) => t.until - clock.now())).toEqual([HOUR, HOUR, HOUR]);
    expect(JSON.stringify(err)).not.toContain('e+');
    // An hour later every target serves again.
    clock.advance(HOUR);
    expect(llm.resolve('mana/x').candidates.map((c) => c.state)).toEqual(['ready', 'ready', 'ready']);
  });

  it('limits.maxRetryAfterMs sets the cap', async () => {
    const { llm } = await hostileChain({ maxRetryAfterMs: 60_000 });
    const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
    expect(err.retryAfterMs).toBe(60_000);
    expect(err.attempts.map((a) => (a.error as ProviderRateLimitError).retryAfterMs)).toEqual([
      60_000, 60_000, 60_000,
    ]);
  });

  it('a hint just over the cap is capped too, on the error and the cool-down (retry-after: 120 with a 60 s cap)', async () => {
    const a = await mock('openai');
    const b = await mock('openai');
    a.setDefault({ status: 429, headers: { 'retry-after': '120' } });
    b.setDefault({ reply: 'from b' });
    const { llm, clock } = await client(
      { a: { type: 'openai', baseUrl: a.url }, b: { type: 'openai', baseUrl: b.url } },
      { 'mana/x': ['a/m', 'b/m'] },
      { limits: { maxRetryAfterMs: 60_000 } },
    );
    const res = await llm.chat(REQ);
    expect(res.routing.attempts[0]?.error).toMatchObject({ retryAfterMs: 60_000 });
    expect(coolingTargets(llm).map((t) => t.until - clock.now())).toEqual([60_000]);
  });
});

describe('a thundering herd on a provider that just failed', () => {
  it('after a failure only health.maxConcurrentAfterFailure calls (2) reach it until one succeeds; the rest go down the chain as unhealthy', async () => {
    const held: ServerResponse[] = [];
    let first = true;
    const a = await rawUpstream((_body, res) => {
      if (first) {
        first = false;
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}');
        return;
      }
      held.push(res);
    });
    const b = await mock('openai');
    const { llm } = client(
      { a: { type: 'openai', baseUrl: a.url }, b: { type: 'openai', baseUrl: b.url } },
      { 'mana/x': ['a/m', 'b/m'] },
      { health: { failureThreshold: 1000 } },
    );
    // The failure: a is still closed (threshold 1000) but its last call failed.
    expect((await llm.chat(REQ)).routing.resolved).toBe('b/m');
    expect(llm.health().providers.a?.state).toBe('closed');

    const herd = Array.from({ length: 200 }, () => llm.chat(REQ));
    await waitFor(() => b.requests.length === 199 && held.length === 2, 'the herd to spread', 10_000);
    expect(held.length).toBe(2);
    const served = await Promise.all(herd.slice(2));
    expect(served.every((r) => r.routing.resolved === 'b/m')).toBe(true);
    expect(served[0]?.routing.attempts[0]).toEqual({ target: 'a/m', reason: 'unhealthy' });

    // One of the two succeeds: the provider takes every call again.
    const ok = JSON.stringify(openaiCodec.chat({ reply: 'back' }, 'm'));
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end(ok);
    const recovered = await Promise.all(herd.slice(0, 2));
    expect(recovered.map((r) => r.routing.resolved)).toEqual(['a/m', 'a/m']);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
    const after = Array.from({ length: 20 }, () => llm.chat(REQ));
    await waitFor(() => held.length === 20, 'every call to reach a again');
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end(ok);
    expect((await Promise.all(after)).every((r) => r.routing.resolved === 'a/m')).toBe(true);
  });

  it('streams already committed to the provider do not count: they would shut a recovering provider out', async () => {
    const a = await mock('openai');
    const b = await mock('openai');
    a.enqueue({ streamThenStall: 2 }, { streamThenStall: 2 }, { streamThenStall: 2 }, { status: 503 });
    a.setDefault({ reply: 'a is back' });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: a.url }, b: { type: 'openai', baseUrl: b.url } },
      { 'mana/x': ['a/m', 'b/m'] },
      { health: { failureThreshold: 1000 } },
    );
    const ctl = new AbortController();
    const streams = Array.from({ length: 3 }, () => consume(llm.stream(REQ, { signal: ctl.signal })));
    await waitFor(() => streams.every((s) => s.chunks.length >= 2), 'three streams to commit');
    expect((await llm.chat(REQ)).routing.resolved).toBe('b/m');
    // Three calls in flight at a, its last call failed: the next one still goes to a, and a recovers.
    expect((await llm.chat(REQ)).routing.resolved).toBe('a/m');
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
    ctl.abort();
    await Promise.all(streams.map((s) => s.done));
  });
});

describe('a 429 whose retry hint cannot be read', () => {
  // `Date.parse` reads '-1' and 'later 5' as dates in 2001: taken for HTTP dates, they were a hint of 0 ms, so the
  // target never cooled and the provider's failures were never counted.
  it.each([
    ['retry-after', '-1'],
    ['retry-after', 'later 5'],
    ['retry-after', '1.5.2'],
    ['retry-after-ms', ''],
    ['retry-after-ms', ' '],
  ])('%s: %j is no hint: the 429 counts against the provider, which opens after two', async (name, value) => {
    const a = await mock('openai');
    a.setDefault({ status: 429, headers: { [name]: value } });
    const { llm } = client({ a: { type: 'openai', baseUrl: a.url } }, { 'mana/x': ['a/m'] });
    for (let i = 0; i < 2; i++) {
      const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
      expect(err).toBeInstanceOf(NoHealthyProviderError);
      expect((err.cause as ProviderRateLimitError).retryAfterMs).toBeUndefined();
    }
    expect(llm.health().providers.a?.state).toBe('open');
  });

  it("an HTTP date is read on the client's clock, like every other time (docs/testing.md)", async () => {
    const a = await mock('openai');
    const { llm, clock } = client({ a: { type: 'openai', baseUrl: a.url } }, { 'mana/x': ['a/m'] });
    // The injected fake clock starts in 2023: the upstream's date is 30 s after it (and years before the real now).
    a.setDefault({ status: 429, headers: { 'retry-after': new Date(clock.now() + 30_000).toUTCString() } });
    const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
    expect((err.cause as ProviderRateLimitError).retryAfterMs).toBe(30_000);
    expect(err.retryAfterMs).toBe(30_000);
    expect(coolingTargets(llm)).toEqual([{ target: 'a/m', until: clock.now() + 30_000 }]);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('an HTTP date in the past is still a hint of 0 ms (retry now)', async () => {
    const a = await mock('openai');
    a.setDefault({ status: 429, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' } });
    const { llm } = client({ a: { type: 'openai', baseUrl: a.url } }, { 'mana/x': ['a/m'] });
    const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
    expect((err.cause as ProviderRateLimitError).retryAfterMs).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it("Gemini's hint is its RetryInfo's retryDelay, not a retryDelay in another detail", async () => {
    const g = await mock('google');
    const details = [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', retryDelay: '99s' },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' },
    ];
    g.setDefault({ status: 429, body: JSON.stringify({ error: { code: 429, message: 'quota', details } }) });
    const { llm } = client(
      { g: { type: 'google', baseUrl: g.url, apiKey: 'k' } },
      { 'mana/x': ['g/gemini-2.0-flash'] },
    );
    const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
    expect((err.cause as ProviderRateLimitError).retryAfterMs).toBe(2000);
  });
});

describe('a 429 whose retry hint can be read', () => {
  it.each([
    // A blank retry-after-ms is no hint: the retry-after next to it is read.
    [{ 'retry-after-ms': ' ', 'retry-after': '30' }, 30_000],
    // Fractional seconds keep every digit.
    [{ 'retry-after': '1.25' }, 1250],
    [{ 'retry-after': '2.125s' }, 2125],
  ])('%j is a hint of %d ms', async (headers, ms) => {
    const a = await mock('openai');
    a.setDefault({ status: 429, headers });
    const { llm } = client({ a: { type: 'openai', baseUrl: a.url } }, { 'mana/x': ['a/m'] });
    const err = (await settle(llm.chat(REQ))).error as NoHealthyProviderError;
    expect((err.cause as ProviderRateLimitError).retryAfterMs).toBe(ms);
  });
});
