import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createManaLLM,
  NoHealthyProviderError,
  ProviderBlockedError,
  ProviderResponseError,
} from '../../src/index.js';
import { closeAll, KEY, rejection, track, USER } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

// What of an upstream's error (and of the caller's model name) an error message may show: cut, cleaned, redacted.

afterEach(closeAll);

/** A client whose one provider `a` (of `type`) answers every request with `status` and `body`. */
async function answering(type: 'openai' | 'anthropic', status: number, body: string) {
  const raw = await rawUpstream(
    (_, res) => void res.writeHead(status, { 'content-type': 'application/json' }).end(body),
  );
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: { a: { type, baseUrl: raw.url, apiKey: KEY } },
      health: { probes: false },
    }),
  );
}

/** The provider's error a call failed with (the only attempt's, when the chain gave up). */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err = (await rejection(p)) as Error;
  return err instanceof NoHealthyProviderError ? (err.attempts[0]?.error as Error) : err;
}

describe('the model name in an error message', () => {
  it('is cleaned and cut like any caller text: no control characters, at most 200 characters', async () => {
    const llm = await answering('openai', 400, '{"error":{"message":"bad request"}}');
    const model = `m\u001b[31m\n${'y'.repeat(500)}`;
    const err = await failure(llm.chat({ model: `a/${model}`, messages: USER }));
    expect(err.message).toContain(`a/m ${'y'.repeat(198)}… POST /v1/chat/completions`);
    expect(err.message).not.toContain('\u001b');
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain('y'.repeat(201));
  });
});

describe("an upstream's block reason", () => {
  it('is cut to 64 characters (an enum word, never a paragraph)', async () => {
    const reason = `harassment${'z'.repeat(200)}`;
    const body = { error: { code: 403, message: 'flagged', metadata: { reasons: [reason] } } };
    const llm = await answering('openai', 403, JSON.stringify(body));
    const err = (await rejection(llm.chat({ model: 'a/m', messages: USER }))) as ProviderBlockedError;
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expect(err.reason).toBe(`${reason.slice(0, 64)}…`);
  });
});

describe('an in-band error event without its error object', () => {
  it('says it has no details', async () => {
    const llm = await answering('anthropic', 200, '{"type":"error"}');
    const err = await failure(llm.chat({ model: 'a/m', messages: USER }));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toMatch(/: upstream error in a 200 reply: no details$/);
  });
});

describe('an unparseable 200 reply', () => {
  it('quotes at most 120 characters of it', async () => {
    const body = `not json ${'zz '.repeat(400)}`;
    const llm = await answering('openai', 200, body);
    const err = await failure(llm.chat({ model: 'a/m', messages: USER }));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect(err.message).toMatch(new RegExp(`: unparseable JSON reply: ${body.slice(0, 120)}…$`));
  });

  it('never shows a key it echoes, past the quoted start either, in the message or the cause', async () => {
    for (const body of [`${KEY} not json`, `not json, the key is ${KEY}`, `{"a": 1, "key": ${KEY}}`]) {
      const llm = await answering('openai', 200, body);
      const err = await failure(llm.chat({ model: 'a/m', messages: USER }));
      expect(err).toBeInstanceOf(ProviderResponseError);
      expect(err.cause).toBeInstanceOf(SyntaxError);
      expect(inspect(err, { depth: 5 })).not.toContain(KEY);
      expect(inspect(err, { depth: 5 })).not.toContain(KEY.slice(0, 8));
      await closeAll();
    }
  });
});

describe('credentials sent as configured headers', () => {
  it('a cookie or a signature the upstream echoes is redacted like the key', async () => {
    const cookie = 'session=cookieSECRETvalue123';
    const signature = 'sigSECRETvalue456789';
    const body = JSON.stringify({ error: { message: `got cookie ${cookie} and signature ${signature}` } });
    const raw = await rawUpstream(
      (_, res) => void res.writeHead(500, { 'content-type': 'application/json' }).end(body),
    );
    const headers = { Cookie: cookie, 'X-Request-Signature': signature };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY, headers } },
        health: { probes: false },
      }),
    );
    const err = await failure(llm.chat({ model: 'a/m', messages: USER }));
    expect(err.message).toContain('got cookie');
    expect(err.message).not.toContain(cookie);
    expect(err.message).not.toContain(signature);
  });
});
