import { afterEach, describe, expect, it } from 'vitest';
import {
  AliasConfigError,
  ClosedError,
  ConfigError,
  createManaLLM,
  InvalidRequestError,
  NoHealthyProviderError,
  type ProviderAdapter,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
  UnknownAliasError,
} from '../../src/index.js';
import { closeAll, rejection, track, USER } from '../helpers/client.js';

afterEach(closeAll);

/** A client whose only chain entry is a custom adapter that rejects every chat with `thrown`. */
function failingWith(thrown: unknown) {
  const adapter: ProviderAdapter = {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => Promise.reject(thrown),
    stream: () => {
      throw thrown;
    },
    embed: () => Promise.reject(thrown),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
      providers: { mine: { type: 'custom', adapter } },
      health: { probes: false },
    }),
  );
}

describe('JSON.stringify of a mana-llm error (toJSON)', () => {
  it('gives the base fields, the own fields, each nested cause as its toJSON, and no stack', async () => {
    const llm = failingWith(new TypeError('adapter broke: Authorization: Bearer sk-live-abcdefgh12345'));
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const json = JSON.parse(JSON.stringify(err));
    expect(json).toMatchObject({
      name: 'NoHealthyProviderError',
      code: 'NO_HEALTHY_PROVIDER',
      httpStatus: 503,
      retryable: true,
      requested: 'mana/x',
      attempts: [{ target: 'mine/m', reason: 'bad-response', error: { name: 'ProviderResponseError' } }],
      cause: {
        name: 'ProviderResponseError',
        code: 'PROVIDER_RESPONSE',
        httpStatus: 502,
        retryable: true,
        provider: 'mine',
        model: 'm',
        cause: { name: 'TypeError', message: 'adapter broke: Authorization: Bearer [redacted]' },
      },
    });
    expect(json.message).toBe((err as Error).message);
    expect(Object.keys(json.cause.cause)).toEqual(['name', 'message']);
    for (const o of [json, json.cause, json.cause.cause]) expect(o).not.toHaveProperty('stack');
    expect(JSON.stringify(json)).not.toContain('sk-live');
  });

  it('leaves out a cause that is no Error (a thrown string)', async () => {
    const llm = failingWith('plain string thrown');
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    const json = JSON.parse(JSON.stringify(err));
    expect(json.cause.code).toBe('PROVIDER_RESPONSE');
    expect(json.cause).not.toHaveProperty('cause');
  });
});

describe('the error family (docs/errors.md table)', () => {
  const at = { provider: 'p', model: 'm' };
  const http = (status: number, more: { outage?: boolean; contextLength?: boolean } = {}) =>
    new ProviderHTTPError('x', { ...at, status, ...more });
  const partial = { content: '', toolCalls: [] };
  it.each([
    [new ConfigError('x'), 'ConfigError', 'CONFIG', 500, false],
    [new AliasConfigError('x'), 'AliasConfigError', 'ALIAS_CONFIG', 500, false],
    [new InvalidRequestError('x'), 'InvalidRequestError', 'INVALID_REQUEST', 400, false],
    [new UnknownAliasError('mana/x'), 'UnknownAliasError', 'UNKNOWN_ALIAS', 404, false],
    [new NoHealthyProviderError('mana/x', []), 'NoHealthyProviderError', 'NO_HEALTHY_PROVIDER', 503, true],
    [new ClosedError(), 'ClosedError', 'CLOSED', 503, false],
    [new ProviderConnectionError('x', at), 'ProviderConnectionError', 'PROVIDER_CONNECTION', 502, true],
    [new ProviderTimeoutError('x', at), 'ProviderTimeoutError', 'PROVIDER_TIMEOUT', 502, true],
    [new ProviderRateLimitError('x', at), 'ProviderRateLimitError', 'PROVIDER_RATE_LIMIT', 429, true],
    [new ProviderAuthError('x', at), 'ProviderAuthError', 'PROVIDER_AUTH', 502, false],
    [
      new ProviderCapabilityError('x', { ...at, capability: 'tools' }),
      'ProviderCapabilityError',
      'PROVIDER_CAPABILITY',
      400,
      false,
    ],
    [
      new ProviderBlockedError('x', { ...at, reason: 'safety' }),
      'ProviderBlockedError',
      'PROVIDER_BLOCKED',
      422,
      false,
    ],
    [new ProviderResponseError('x', at), 'ProviderResponseError', 'PROVIDER_RESPONSE', 502, true],
    [
      new StreamInterruptedError('x', { ...at, resolved: 'p/m', partial }),
      'StreamInterruptedError',
      'STREAM_INTERRUPTED',
      502,
      false,
    ],
    [http(500), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(503), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(302), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(402), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(408), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(498), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(400, { outage: true }), 'ProviderHTTPError', 'PROVIDER_HTTP', 502, true],
    [http(404), 'ProviderHTTPError', 'PROVIDER_HTTP', 404, true],
    [http(400), 'ProviderHTTPError', 'PROVIDER_HTTP', 400, false],
    [http(422), 'ProviderHTTPError', 'PROVIDER_HTTP', 422, false],
    [http(499), 'ProviderHTTPError', 'PROVIDER_HTTP', 499, false],
  ] as const)('%s: name, code, httpStatus, retryable', (err, name, code, httpStatus, retryable) => {
    expect({ name: err.name, code: err.code, httpStatus: err.httpStatus, retryable: err.retryable }).toEqual({
      name,
      code,
      httpStatus,
      retryable,
    });
  });

  it("keeps the upstream status, the retry hint and contextLength only for a 4xx that is the caller's", () => {
    expect(http(413, { contextLength: true }).contextLength).toBe(true);
    expect(http(500, { contextLength: true }).contextLength).toBeUndefined();
    expect(http(400, { outage: true, contextLength: true }).contextLength).toBeUndefined();
    expect(http(418).status).toBe(418);
    expect(new ProviderAuthError('x', at).status).toBeUndefined();
    expect(Object.hasOwn(new ClosedError(), 'cause')).toBe(false);
    expect(new ProviderRateLimitError('x', { ...at, retryAfterMs: 1500 }).retryAfterMs).toBe(1500);
    expect(new NoHealthyProviderError('mana/x', [], { retryAfterMs: 700 }).retryAfterMs).toBe(700);
    expect(new NoHealthyProviderError('mana/x', []).message).toBe(
      'No provider could serve "mana/x": empty chain',
    );
  });

  it('lists each issue under the title, an empty path as (root)', () => {
    const issues = [
      { path: '', message: 'must be an object' },
      { path: 'providers.groq', message: 'is required' },
    ];
    const want = 'Bad:\n  - (root): must be an object\n  - providers.groq: is required';
    expect(new ConfigError('Bad', issues).message).toBe(want);
    expect(new InvalidRequestError('Bad', issues).message).toBe(want);
    expect(new ConfigError('Bad', issues).issues).toEqual(issues);
  });

  it('redacts a key from any message, even one a custom adapter builds', () => {
    const err = new ProviderHTTPError('upstream said: Authorization: Bearer sk-live-abcdefgh12345', {
      ...at,
      status: 500,
    });
    expect(err.message).toBe('upstream said: Authorization: Bearer [redacted]');
  });
});

describe('JSON.stringify of an error whose cause is a hostile Error (found by a fourth review)', () => {
  it('never throws and keeps the cause short, whatever the cause holds', async () => {
    const odd = Object.assign(new Error('x'), { message: 42 });
    const throwing = new Error('x');
    Object.defineProperty(throwing, 'name', {
      get() {
        throw new Error('no name');
      },
    });
    const huge = new Error(`first\u0000line\n${'x'.repeat(1_000_000)}`);
    const shapes: [unknown, { name: string; message: string }][] = [
      [odd, { name: 'Error', message: '42' }],
      [throwing, { name: 'Error', message: 'x' }],
    ];
    for (const [thrown, cause] of shapes) {
      const err = await rejection(failingWith(thrown).chat({ model: 'mana/x', messages: USER }));
      expect(JSON.parse(JSON.stringify(err)).cause.cause).toEqual(cause);
    }
    const err = await rejection(failingWith(huge).chat({ model: 'mana/x', messages: USER }));
    const json = JSON.stringify(err);
    expect(json.length).toBeLessThan(5_000);
    expect(JSON.parse(json).cause.cause.message.startsWith('first line')).toBe(true);
  });
});

describe('JSON.stringify of an error whose cause chain is cyclic (found by a fifth review)', () => {
  it('never throws: a mana-llm cause seen before is shown short', async () => {
    const looped = new InvalidRequestError('looped');
    Object.defineProperty(looped, 'cause', { value: looped });
    const err = await rejection(failingWith(looped).chat({ model: 'mana/x', messages: USER }));
    const json = JSON.parse(JSON.stringify(err));
    expect(json.message).toBe('looped');
    expect(json.cause).toEqual({ name: 'InvalidRequestError', message: 'looped' });
  });
});
