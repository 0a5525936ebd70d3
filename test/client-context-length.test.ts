import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, ProviderHTTPError } from '../src/index.js';
import { closeAll, collect, harness, rejection, USER } from './helpers/client.js';

afterEach(closeAll);

// OpenAI's answer to a prompt longer than the model's window.
const TOO_LONG = {
  status: 400,
  body: JSON.stringify({
    error: {
      message:
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens.",
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    },
  }),
};

async function setup() {
  const h = await harness({
    upstreams: { small: 'openai', big: 'openai' },
    aliases: { 'mana/x': ['small/m', 'big/m'] },
  });
  return { ...h, small: h.up.small!, big: h.up.big! };
}

describe('a prompt too long for one model', () => {
  it('falls through to the next entry (reason context-length, status 400) with no health penalty', async () => {
    const { llm, small, big, events } = await setup();
    small.setDefault(TOO_LONG);
    big.setDefault({ reply: 'fits' });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.choices[0]?.message.content).toBe('fits');
    expect(res.routing.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
      ['small/m', 'context-length', 400],
      ['big/m', 'ok', undefined],
    ]);
    expect(events.of('fallback').map((e) => e.reason)).toEqual(['context-length']);
    // twice over the failure threshold: still closed, no failure counted
    await llm.chat({ model: 'mana/x', messages: USER });
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(llm.health().providers.small).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('streams fall through the same way', async () => {
    const { llm, small, big } = await setup();
    small.setDefault(TOO_LONG);
    big.setDefault({ reply: 'fits' });
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('fits');
  });

  it('is the caller’s 400 when every entry says so: nothing bigger is left', async () => {
    const { llm, small, big } = await setup();
    small.setDefault(TOO_LONG);
    big.setDefault(TOO_LONG);
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err).toMatchObject({ status: 400, httpStatus: 400, contextLength: true, provider: 'big' });
    // a direct model alone is the same 400 as before
    const direct = await rejection(llm.chat({ model: 'small/m', messages: USER }));
    expect(direct).toMatchObject({ name: 'ProviderHTTPError', status: 400 });
  });

  it('an entry skipped before any call (unconfigured) was not tried: the 400 of the one that was still propagates', async () => {
    const h = await harness({
      upstreams: { small: 'openai' },
      aliases: { 'mana/x': ['small/m', 'nowhere/m'] },
    });
    h.up.small?.setDefault(TOO_LONG);
    const err = await rejection(h.llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toMatchObject({
      name: 'ProviderHTTPError',
      status: 400,
      contextLength: true,
      provider: 'small',
    });
  });

  it('when a later entry failed for another reason, it is NoHealthyProviderError as for any outage', async () => {
    const { llm, small, big } = await setup();
    small.setDefault(TOO_LONG);
    big.setDefault({ status: 503 });
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).attempts.map((a) => a.reason)).toEqual([
      'context-length',
      'http-error',
    ]);
  });

  it('another 400 still propagates at once (the caller’s request is wrong)', async () => {
    const { llm, small, big } = await setup();
    small.setDefault({
      status: 400,
      body: JSON.stringify({ error: { message: 'bad temperature', type: 'invalid_request_error' } }),
    });
    big.setDefault({ reply: 'never' });
    expect(await rejection(llm.chat({ model: 'mana/x', messages: USER }))).toMatchObject({ status: 400 });
    expect(big.count()).toBe(0);
  });
});

// Groq's answer to one request larger than the account's tokens-per-minute limit: waiting does not help (the
// request alone is over the limit), another provider may serve it.
const OVER_TPM = {
  status: 413,
  body: JSON.stringify({
    error: {
      message:
        'Request too large for model `llama-3.1-8b-instant` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 6000, Requested 12328, please reduce your message size and try again.',
      type: 'tokens',
      code: 'rate_limit_exceeded',
    },
  }),
};

describe("a request over the provider's per-request token limit (Groq's 413 rate_limit_exceeded)", () => {
  it('falls through like a too-long prompt (reason context-length, status 413), no health penalty', async () => {
    const { llm, small, big } = await setup();
    small.setDefault(OVER_TPM);
    big.setDefault({ reply: 'fits' });
    for (let i = 0; i < 3; i++) {
      const res = await llm.chat({ model: 'mana/x', messages: USER });
      expect(res.choices[0]?.message.content).toBe('fits');
      expect(res.routing.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
        ['small/m', 'context-length', 413],
        ['big/m', 'ok', undefined],
      ]);
    }
    expect(llm.health().providers.small).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('is the caller’s 413 when nothing is left', async () => {
    const { llm, small } = await setup();
    small.setDefault(OVER_TPM);
    const err = await rejection(llm.chat({ model: 'small/m', messages: USER }));
    expect(err).toMatchObject({
      name: 'ProviderHTTPError',
      status: 413,
      httpStatus: 413,
      contextLength: true,
    });
  });

  it('another 413 still propagates at once', async () => {
    const { llm, small, big } = await setup();
    small.setDefault({ status: 413, body: '<html>413 Request Entity Too Large</html>' });
    big.setDefault({ reply: 'never' });
    expect(await rejection(llm.chat({ model: 'mana/x', messages: USER }))).toMatchObject({ status: 413 });
    expect(big.count()).toBe(0);
  });
});

describe("xAI's way of saying it", () => {
  it('"This model\'s maximum prompt length is 131072 but the request contains 136973 tokens." falls through', async () => {
    const { llm, small, big } = await setup();
    small.setDefault({
      status: 400,
      body: JSON.stringify({
        code: 'Client specified an invalid argument',
        error: "This model's maximum prompt length is 131072 but the request contains 136973 tokens.",
      }),
    });
    big.setDefault({ reply: 'fits' });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
      ['small/m', 'context-length', 400],
      ['big/m', 'ok', undefined],
    ]);
  });
});

describe('a server that names it in the error type, not the code', () => {
  it('{ type: "context_length_exceeded" } with a message no phrase matches falls through', async () => {
    const { llm, small, big } = await setup();
    small.setDefault({
      status: 400,
      body: JSON.stringify({ error: { message: 'Input is too long.', type: 'context_length_exceeded' } }),
    });
    big.setDefault({ reply: 'fits' });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
      ['small/m', 'context-length', 400],
      ['big/m', 'ok', undefined],
    ]);
  });
});

describe('a 422 that says so', () => {
  it('falls through like a 400 (reason context-length, status 422)', async () => {
    const { llm, small, big } = await setup();
    small.setDefault({ ...TOO_LONG, status: 422 });
    big.setDefault({ reply: 'fits' });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts.map((a) => [a.target, a.reason, a.status])).toEqual([
      ['small/m', 'context-length', 422],
      ['big/m', 'ok', undefined],
    ]);
  });
});

describe('a message that says it only past its first 1000 characters', () => {
  it('is not read for it (the scan is bounded): the caller’s 400, nothing else tried', async () => {
    const { llm, small, big } = await setup();
    const message = `${'filler '.repeat(150)}prompt is too long: 208310 tokens > 200000 maximum`;
    small.setDefault({ status: 400, body: JSON.stringify({ error: { message } }) });
    big.setDefault({ reply: 'fits' });
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err).toMatchObject({ status: 400 });
    expect(big.count()).toBe(0);
  });
});
