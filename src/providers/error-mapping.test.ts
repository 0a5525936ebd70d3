import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import {
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  type ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
} from '../errors.js';
import { DEFAULT_LIMITS } from '../options.js';
import { createHttp, type Http, type HttpBody, type HttpRequest } from '../wire/http.js';
import { type CallMeta, endpointCalls, readCapped, send } from './endpoint.js';
import { errorFromInBand, errorFromStatus, networkError, parseJson } from './error-mapping.js';
import { parseRetryAfter } from './retry-after.js';

const KEY = 'sk-test-SECRET123456';
const OTHER = 'custom-secret-value-42';
const meta: CallMeta = {
  provider: 'groq',
  model: 'llama-3.1-8b',
  method: 'POST',
  path: '/v1/chat/completions?key=AIzaSyQUERYKEY0123456789abcdef',
  secrets: [KEY, OTHER],
};
const NOW = Date.parse('2026-01-01T00:00:00Z');

type ErrorClass = abstract new (...args: never[]) => ProviderError;

function expectClass(err: ProviderError, type: ErrorClass, fields: Partial<Record<string, unknown>>): void {
  expect(err).toBeInstanceOf(type);
  expect(err).toMatchObject({ provider: 'groq', model: 'llama-3.1-8b', ...fields });
}

function expectNoSecret(err: unknown): void {
  const all = `${(err as Error).message} ${JSON.stringify(err)}`;
  for (const s of [KEY, OTHER, 'AIzaSyQUERYKEY0123456789abcdef', 'gsk_abcdefgh12345678'])
    expect(all).not.toContain(s);
}

describe('errorFromStatus', () => {
  it.each([
    [500, ProviderHTTPError, true, 502],
    [502, ProviderHTTPError, true, 502],
    [503, ProviderHTTPError, true, 502],
    [504, ProviderHTTPError, true, 502],
    [429, ProviderRateLimitError, true, 429],
    [401, ProviderAuthError, false, 502],
    [403, ProviderAuthError, false, 502],
    [404, ProviderHTTPError, true, 404],
    [400, ProviderHTTPError, false, 400],
    [409, ProviderHTTPError, false, 409],
    [413, ProviderHTTPError, false, 413],
    [422, ProviderHTTPError, false, 422],
    [402, ProviderHTTPError, true, 502],
    [408, ProviderHTTPError, true, 502],
    [498, ProviderHTTPError, true, 502],
    [301, ProviderHTTPError, true, 502],
    [307, ProviderHTTPError, true, 502],
  ] as const)('HTTP %i → %o', (status, type, retryable, httpStatus) => {
    const err = errorFromStatus(status, {}, '{"error":{"message":"nope"}}', meta);
    expectClass(err, type, { status, retryable, httpStatus });
  });

  it("a 400 about the account (Anthropic's credits or spend limit, Gemini's FAILED_PRECONDITION) is the provider's outage", () => {
    const credits = JSON.stringify({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing.',
      },
    });
    expectClass(errorFromStatus(400, {}, credits, meta), ProviderHTTPError, {
      status: 400,
      retryable: true,
      httpStatus: 502,
    });
    const spent =
      '{"error":{"type":"invalid_request_error","message":"You have reached your specified API usage limits."}}';
    expectClass(errorFromStatus(400, {}, spent, meta), ProviderHTTPError, {
      retryable: true,
      httpStatus: 502,
    });
    const region =
      '{"error":{"code":400,"message":"free tier not available","status":"FAILED_PRECONDITION"}}';
    expectClass(errorFromStatus(400, {}, region, meta), ProviderHTTPError, {
      retryable: true,
      httpStatus: 502,
    });
    // the same words in a 401 stay an auth error; another 400 stays the caller's
    expectClass(errorFromStatus(401, {}, credits, meta), ProviderAuthError, { status: 401 });
    expectClass(
      errorFromStatus(400, {}, '{"error":{"message":"max_tokens too big"}}', meta),
      ProviderHTTPError,
      {
        retryable: false,
        httpStatus: 400,
      },
    );
  });

  it("Ollama's 400 'does not support tools' is a ProviderCapabilityError, from either endpoint", () => {
    for (const body of [
      '{"error":"registry.ollama.ai/library/gemma3:4b does not support tools"}',
      '{"error":{"message":"registry.ollama.ai/library/gemma3:4b does not support tools","type":"api_error"}}',
    ])
      expectClass(errorFromStatus(400, {}, body, meta), ProviderCapabilityError, {
        capability: 'tools',
        httpStatus: 400,
      });
  });

  it('a 400 whose code says the model is retired or unknown is the 404 of the fallback table', () => {
    for (const code of ['model_decommissioned', 'model_not_found']) {
      const err = errorFromStatus(400, {}, JSON.stringify({ error: { message: 'gone', code } }), meta);
      expectClass(err, ProviderHTTPError, { status: 404, retryable: true, httpStatus: 404 });
      expect(err.message).toContain('HTTP 400: gone');
    }
  });

  it('names provider, model, method and path (no query) with the upstream message', () => {
    const err = errorFromStatus(500, {}, '{"error":{"message":"boom"}}', meta);
    expect(err.message).toBe('groq/llama-3.1-8b POST /v1/chat/completions → HTTP 500: boom');
  });

  it('falls back to the raw body, whitespace collapsed and truncated', () => {
    const err = errorFromStatus(502, {}, `<html>\n  <body>${'x'.repeat(1000)}</body>`, meta);
    expect(err.message).toMatch(/HTTP 502: <html> <body>x+…$/);
    expect(err.message.length).toBeLessThan(400);
  });

  it.each([
    ['Incorrect API key provided: sk-test-SECRET123456'],
    ['Authorization: Bearer gsk_abcdefgh12345678 rejected'],
    [`x-api-key: ${OTHER}`],
    ['GET /v1beta/models?key=AIzaSyQUERYKEY0123456789abcdef failed'],
  ])('never echoes a key from the body: %s', (msg) => {
    const err = errorFromStatus(401, {}, JSON.stringify({ error: { message: msg } }), meta);
    expectNoSecret(err);
    expect(err.message).toContain('[redacted]');
  });

  it("OpenRouter's 403 with moderation reasons is ProviderBlockedError; a bare 403 or reasons on a 400 are not", () => {
    const body = (reasons: unknown) =>
      JSON.stringify({ error: { code: 403, message: 'flagged', metadata: { reasons, flagged_input: 'x' } } });
    expectClass(errorFromStatus(403, {}, body(['harassment', 'violence']), meta), ProviderBlockedError, {
      reason: 'harassment, violence',
      status: 403,
      httpStatus: 422,
    });
    expectClass(errorFromStatus(403, {}, body([7, null]), meta), ProviderBlockedError, {
      reason: 'moderation',
    });
    expectClass(errorFromStatus(403, {}, body('harassment'), meta), ProviderAuthError, { status: 403 });
    expectClass(errorFromStatus(400, {}, body(['harassment']), meta), ProviderHTTPError, { status: 400 });
  });

  it.each([
    ['content_filter', 'code'],
    ['content_policy_violation', 'type'],
    ['moderation_blocked', 'code'],
  ])('a %s (%s) body is ProviderBlockedError, whatever the status', (value, field) => {
    for (const status of [400, 403]) {
      const err = errorFromStatus(
        status,
        {},
        JSON.stringify({ error: { message: 'flagged', [field]: value } }),
        meta,
      );
      expectClass(err, ProviderBlockedError, { reason: value, retryable: false, httpStatus: 422 });
    }
  });

  it('reads the retry hint of a 429', () => {
    const err = errorFromStatus(429, { 'retry-after': '3' }, '', meta);
    expect(err).toMatchObject({ retryAfterMs: 3000 });
    const gemini = JSON.stringify({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12s' }],
      },
    });
    expect(errorFromStatus(429, {}, gemini, meta)).toMatchObject({ retryAfterMs: 12_000 });
    expect((errorFromStatus(429, {}, '', meta) as ProviderRateLimitError).retryAfterMs).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it.each([
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after-ms': '250.7' }, 251],
    [{ 'retry-after-ms': '0' }, 0],
    [{ 'retry-after': '7' }, 7000],
    [{ 'retry-after': '1.5' }, 1500],
    [{ 'retry-after': ['4', '9'] }, 4000],
    [{ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, 30_000],
    [{ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, 0],
    [{ 'retry-after': 'Thursday, 01-Jan-26 00:00:30 GMT' }, 30_000],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after': '-1' }, undefined],
    [{ 'retry-after': 'Thu 5' }, undefined],
    [{ 'retry-after-ms': '', 'retry-after': '2' }, 2000],
    [{ 'retry-after-ms': 'x', 'retry-after': '2' }, 2000],
    [{ 'retry-after-ms': '-5', 'retry-after': '2' }, 2000],
    [{ 'retry-after-ms': '100', 'retry-after': '2' }, 100],
    [{}, undefined],
  ])('%o → %s', (headers, ms) => {
    expect(parseRetryAfter(headers, null, NOW)).toBe(ms);
  });

  it.each([
    ['12s', 12_000],
    ['0.5s', 500],
    ['3', 3000],
  ])('Gemini RetryInfo retryDelay %s → %i ms', (retryDelay, ms) => {
    const json = {
      error: {
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure' },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
        ],
      },
    };
    expect(parseRetryAfter({}, json, NOW)).toBe(ms);
  });

  it('prefers the headers over the body', () => {
    const json = { error: { details: [{ '@type': 'x.RetryInfo', retryDelay: '60s' }] } };
    expect(parseRetryAfter({ 'retry-after': '1' }, json, NOW)).toBe(1000);
  });

  it('skips detail entries that are not objects (a 429 stays a rate-limit error)', () => {
    const body = JSON.stringify({
      error: { details: [null, 7, { '@type': 'x.RetryInfo', retryDelay: '2s' }] },
    });
    expect(parseRetryAfter({}, JSON.parse(body), NOW)).toBe(2000);
    const err = errorFromStatus(429, {}, JSON.stringify({ error: { details: [null] } }), meta);
    expect(err).toBeInstanceOf(ProviderRateLimitError);
  });
});

describe('errorFromInBand', () => {
  it.each([
    [{ message: 'slow down', code: 429 }, ProviderRateLimitError, 429],
    [{ message: 'busy', code: '503' }, ProviderHTTPError, 503],
    [{ message: 'who are you', status: 401 }, ProviderAuthError, 401],
    [{ message: 'bad', code: 400, type: 'invalid_request_error' }, ProviderHTTPError, 400],
    [{ message: 'gone', code: 404 }, ProviderHTTPError, 404],
    // A code outside 4xx/5xx is not a status: the type decides.
    [{ message: 'odd', code: 200, type: 'server_error' }, ProviderHTTPError, 503],
  ] as const)('numeric code %o', (err, type, status) => {
    expectClass(errorFromInBand(err, meta), type, { status });
  });

  it.each([
    ['rate_limit_error', ProviderRateLimitError, 429],
    ['rate_limit_exceeded', ProviderRateLimitError, 429],
    ['RESOURCE_EXHAUSTED', ProviderRateLimitError, 429],
    ['insufficient_quota', ProviderRateLimitError, 429],
    ['overloaded_error', ProviderHTTPError, 503],
    ['api_error', ProviderHTTPError, 503],
    ['server_error', ProviderHTTPError, 503],
    ['UNAVAILABLE', ProviderHTTPError, 503],
    ['INTERNAL', ProviderHTTPError, 503],
    ['timeout_error', ProviderHTTPError, 503],
    ['authentication_error', ProviderAuthError, 401],
    ['permission_error', ProviderAuthError, 401],
    ['invalid_api_key', ProviderAuthError, 401],
    ['PERMISSION_DENIED', ProviderAuthError, 401],
    ['UNAUTHENTICATED', ProviderAuthError, 401],
    ['not_found_error', ProviderHTTPError, 404],
    ['model_not_found', ProviderHTTPError, 404],
    ['invalid_request_error', ProviderHTTPError, 400],
    ['INVALID_ARGUMENT', ProviderHTTPError, 400],
    ['context_length_exceeded', ProviderHTTPError, 400],
  ] as const)('type string %s → %o', (kind, type, status) => {
    for (const field of ['type', 'code', 'status']) {
      const err = errorFromInBand({ message: 'in band', [field]: kind }, meta);
      expectClass(err, type, { status });
      expect(err.message).toContain('in band');
    }
  });

  it('an unknown error, or a bare string, is a ProviderResponseError carrying its message', () => {
    const a = errorFromInBand({ message: 'mystery', type: 'weird' }, meta);
    expectClass(a, ProviderResponseError, { retryable: true });
    expect(a.message).toContain('mystery');
    const b = errorFromInBand('model is loading', meta);
    expectClass(b, ProviderResponseError, {});
    expect(b.message).toContain('model is loading');
    expectClass(errorFromInBand(null, meta), ProviderResponseError, {});
  });

  it.each([
    [{ message: 'flagged', type: 'invalid_request_error', code: 'content_filter' }],
    [{ message: 'flagged', code: 'content_filter' }],
    [{ message: 'flagged', code: 400, type: 'content_policy_violation' }],
  ])('a blocked code in band is ProviderBlockedError: %o', (err) => {
    expectClass(errorFromInBand(err, meta), ProviderBlockedError, { retryable: false, httpStatus: 422 });
  });

  it('reads Gemini RetryInfo from an in-band 429', () => {
    const err = errorFromInBand(
      {
        code: 429,
        message: 'Quota exceeded',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '20s' }],
      },
      meta,
    );
    expectClass(err, ProviderRateLimitError, { retryAfterMs: 20_000 });
  });

  it('never echoes a key', () => {
    for (const e of [
      { message: `bad key ${KEY}`, type: 'authentication_error' },
      { message: `bad key ${KEY}`, code: 401 },
      `bad key ${KEY}`,
      { message: `x-api-key: ${OTHER}`, type: 'weird' },
    ])
      expectNoSecret(errorFromInBand(e, meta));
  });
});

describe('networkError', () => {
  it('returns the abort reason untouched when the signal aborted', () => {
    const ac = new AbortController();
    const reason = new Error('deadline');
    ac.abort(reason);
    expect(networkError({ code: 'ECONNRESET' }, ac.signal, meta)).toBe(reason);
  });

  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', ProviderTimeoutError],
    ['UND_ERR_HEADERS_TIMEOUT', ProviderTimeoutError],
    ['UND_ERR_BODY_TIMEOUT', ProviderTimeoutError],
    ['ETIMEDOUT', ProviderTimeoutError],
    ['ECONNREFUSED', ProviderConnectionError],
    ['ECONNRESET', ProviderConnectionError],
    ['ENOTFOUND', ProviderConnectionError],
    ['UND_ERR_SOCKET', ProviderConnectionError],
  ] as const)('%s → %o', (code, type) => {
    const live = new AbortController().signal;
    const err = networkError(Object.assign(new Error('x'), { code }), live, meta) as ProviderError;
    expectClass(err, type, { retryable: true });
    expect(err.message).toContain(code);
    // undici wraps the system error: the code may sit on `cause`.
    expect(networkError({ cause: { code } }, live, meta)).toBeInstanceOf(type);
  });

  it('an error without a code is a connection failure', () => {
    expect(networkError(new TypeError('fetch failed'), new AbortController().signal, meta)).toBeInstanceOf(
      ProviderConnectionError,
    );
  });

  it("a reply undici cannot parse: the cause keeps name and code, not the upstream's raw bytes", async () => {
    const raw = 'HTTP/1.1 200 OK\r\nX-Bad\u0001: leaked-key-0123456789\r\n\r\n';
    const server = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(raw));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const http = createHttp({ connectMs: 1000, limits: DEFAULT_LIMITS });
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const signal = new AbortController().signal;
      const err = await http.send({ origin, path: '/', method: 'GET', headers: {}, signal }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // What undici throws: the bytes it could not parse, key included, in `data`.
      expect((err as { data?: unknown }).data).toContain('leaked-key');
      const mapped = networkError(err, signal, meta) as ProviderError;
      // Bytes that are not HTTP: a malformed reply, not a connection failure.
      expect(mapped).toBeInstanceOf(ProviderResponseError);
      const cause = mapped.cause as Error & { code?: string };
      expect(cause.name).toBe((err as Error).name);
      expect(cause.code).toBe((err as { code?: string }).code);
      expect('data' in cause).toBe(false);
      expect(JSON.stringify(mapped.toJSON())).not.toContain('leaked-key');
    } finally {
      await http.close();
      server.close();
    }
  });
});

function body(text: string): HttpBody & { destroyed: boolean } {
  const bytes = new TextEncoder().encode(text);
  return {
    destroyed: false,
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < bytes.length; i += 4) yield bytes.subarray(i, i + 4);
    },
    text: async () => text,
    dump: async () => undefined,
    destroy() {
      this.destroyed = true;
    },
  };
}

function fakeHttp(answer: (req: HttpRequest) => ReturnType<Http['send']>): Http {
  return { limits: DEFAULT_LIMITS, send: answer, close: async () => undefined };
}

describe('send', () => {
  const request = (signal = new AbortController().signal): HttpRequest => ({
    origin: 'http://127.0.0.1:1',
    path: '/v1/chat/completions',
    method: 'POST',
    headers: {},
    signal,
  });

  it('returns a 2xx answer untouched', async () => {
    const res = { status: 200, headers: {}, body: body('{}') };
    expect(
      await send(
        fakeHttp(async () => res),
        request(),
        meta,
      ),
    ).toBe(res);
  });

  it('throws the classified error for a non-2xx answer, reading and releasing its body', async () => {
    const b = body(`{"error":{"message":"Invalid key ${KEY}"}}`);
    const err = (await send(
      fakeHttp(async () => ({ status: 401, headers: {}, body: b })),
      request(),
      meta,
    ).catch((e: unknown) => e)) as ProviderError;
    expectClass(err, ProviderAuthError, { status: 401 });
    expect(err.message).toContain('Invalid key [redacted]');
    expect(b.destroyed).toBe(true);
  });

  it('passes the retry hint headers of a 429 on', async () => {
    const res = { status: 429, headers: { 'retry-after-ms': '750' }, body: body('') };
    await expect(
      send(
        fakeHttp(async () => res),
        request(),
        meta,
      ),
    ).rejects.toMatchObject({ retryAfterMs: 750 });
  });

  it('maps transport failures, and rethrows the abort reason', async () => {
    const refused = fakeHttp(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    await expect(send(refused, request(), meta)).rejects.toBeInstanceOf(ProviderConnectionError);
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    ac.abort(reason);
    await expect(send(refused, request(ac.signal), meta)).rejects.toBe(reason);
  });
});

describe('helpers', () => {
  it('readCapped stops at the limit and releases the body', async () => {
    const b = body('0123456789abcdef');
    expect(await readCapped(b, 6)).toBe('012345');
    expect(b.destroyed).toBe(true);
  });

  it('parseJson turns garbage into a redacted ProviderResponseError', () => {
    expect(parseJson('{"a":1}', meta)).toEqual({ a: 1 });
    let err: unknown;
    try {
      parseJson(`{"key":"${KEY}"`, meta, 'malformed stream frame');
    } catch (e) {
      err = e;
    }
    expectClass(err as ProviderError, ProviderResponseError, { retryable: true });
    expect((err as Error).message).toContain('malformed stream frame');
    expectNoSecret(err);
  });

  it.each([
    ['https://api.groq.com/openai/v1/', 'https://api.groq.com', '/openai/v1'],
    ['http://localhost:11434', 'http://localhost:11434', ''],
    ['http://10.0.0.5:8000/v1', 'http://10.0.0.5:8000', '/v1'],
  ])('endpointCalls splits %s into origin and path prefix', async (baseUrl, origin, basePath) => {
    let sent: HttpRequest | undefined;
    const http = {
      send: async (req: HttpRequest) => {
        sent = req;
        return { status: 200, headers: {}, body: {} };
      },
    } as unknown as Http;
    const calls = endpointCalls({ id: 'x', baseUrl, headers: {} }, http, systemClock);
    await calls.call(calls.meta('m', 'GET', `${calls.basePath}/models`), {}, new AbortController().signal);
    expect(sent).toMatchObject({ origin, path: `${basePath}/models` });
  });
});
