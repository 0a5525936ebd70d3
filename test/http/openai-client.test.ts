import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness, KEY, refusedUrl, waitFor } from '../helpers/client.js';
import { serveHttp } from '../helpers/http.js';
import { hangingUpstream } from '../helpers/raw-upstream.js';

afterEach(closeAll);

const MESSAGES = [{ role: 'user' as const, content: 'Hi' }];

/** The official client pointed at a served handler, without its own retries (they would hide statuses). */
function client(url: string, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
}

async function setup(custom?: Parameters<typeof harness>[0]) {
  const h = await harness(
    custom ?? { upstreams: { a: 'openai', b: 'openai' }, aliases: { 'mana/x': ['a/m1', 'b/m2'] } },
  );
  const served = await serveHttp(h.llm);
  return { ...h, served, openai: client(served.url) };
}

async function thrown(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected an APIError');
}

describe('the official openai client against mana-llm/http', () => {
  it('chat: the answer, the resolved model in the body and in X-Mana-LLM-Resolved, no routing in the body', async () => {
    const { openai, up } = await setup();
    up.a?.enqueue({ status: 503 });
    const { data, response } = await openai.chat.completions
      .create({ model: 'mana/x', messages: MESSAGES })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello!');
    expect(data.model).toBe('b/m2');
    expect(response.headers.get('x-mana-llm-resolved')).toBe('b/m2');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(data).not.toHaveProperty('routing');
  });

  it('stream: every chunk, the resolved header on the SSE answer, and max_completion_tokens as max_tokens', async () => {
    const { openai, up } = await setup();
    up.a?.enqueue({ reply: 'One two three', chunks: 3 });
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'mana/x', messages: MESSAGES, stream: true, max_completion_tokens: 7 })
      .withResponse();
    expect(response.headers.get('x-mana-llm-resolved')).toBe('a/m1');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      expect(chunk.model).toBe('a/m1');
    }
    expect(text).toBe('One two three');
    expect(up.a?.requests[0]?.body).toMatchObject({ max_tokens: 7 });
  });

  it('stream: a failure before the commit falls back, and the header names who served', async () => {
    const { openai, up } = await setup();
    up.a?.enqueue({ reset: true });
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'mana/x', messages: MESSAGES, stream: true })
      .withResponse();
    expect(response.headers.get('x-mana-llm-resolved')).toBe('b/m2');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello!');
  });

  it('stream: a failure after the commit reaches the client as an APIError from the error frame', async () => {
    const { openai, up } = await setup();
    up.a?.enqueue({ streamThenReset: 2 });
    const stream = await openai.chat.completions.create({
      model: 'mana/x',
      messages: MESSAGES,
      stream: true,
    });
    let text = '';
    const err = await thrown(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
    );
    expect(text.length).toBeGreaterThan(0);
    expect(err.message).toContain('stream interrupted');
    expect(err.code).toBe('stream_interrupted');
    expect(up.b?.count()).toBe(0);
  });

  it('embeddings: the SDK default (base64) and float both decode to the vectors the library returns', async () => {
    const { llm, served, up } = await setup({
      upstreams: { e: 'openai' },
      aliases: { 'mana/embed': ['e/emb'] },
    });
    const openai = client(served.url);
    const direct = await llm.embed({ model: 'mana/embed', input: ['alpha', 'beta'] });
    const { data, response } = await openai.embeddings
      .create({ model: 'mana/embed', input: ['alpha', 'beta'] })
      .withResponse();
    expect(response.headers.get('x-mana-llm-resolved')).toBe('e/emb');
    expect(data.data).toHaveLength(2);
    expect(data.data[1]?.embedding).toEqual(direct.data[1]?.embedding.map(Math.fround));
    const floats = await openai.embeddings.create({
      model: 'mana/embed',
      input: 'alpha',
      encoding_format: 'float',
    });
    expect(floats.data[0]?.embedding).toEqual(direct.data[0]?.embedding);
    // The library asks upstream for base64 unless told otherwise; the server asks for what its client asked for.
    const formats = up.e?.requests.map((r) => (r.body as { encoding_format?: unknown }).encoding_format);
    expect(formats).toEqual(['base64', 'base64', 'float']);
  });

  it('models: aliases and provider models are listed and retrievable; an unknown id is NotFoundError', async () => {
    const { openai, up } = await setup();
    // One model list per listing: list, retrieve a/m9, retrieve a/nope (an alias is found without listing).
    for (let i = 0; i < 3; i++) {
      up.a?.enqueue({ models: ['m1', 'm9'] });
      up.b?.enqueue({ models: ['m2'] });
    }
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual(['mana/x', 'a/m1', 'a/m9', 'b/m2']);
    expect((await openai.models.retrieve('mana/x')).owned_by).toBe('mana-llm');
    expect((await openai.models.retrieve('a/m9')).owned_by).toBe('a');
    const err = await thrown(openai.models.retrieve('a/nope'));
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('model_not_found');
  });

  it.each([
    ['unknown alias', 404, OpenAI.NotFoundError, 'unknown_alias', { model: 'mana/nope' }],
    ['invalid request', 400, OpenAI.BadRequestError, 'invalid_request', { messages: [] }],
    ['upstream 400 on a direct model', 400, OpenAI.BadRequestError, 'provider_http', { model: 'a/m1' }],
    [
      'blocked by the safety filter',
      422,
      OpenAI.UnprocessableEntityError,
      'provider_blocked',
      { model: 'a/m1' },
    ],
    ['no healthy provider', 503, OpenAI.InternalServerError, 'no_healthy_provider', { model: 'dead/m' }],
  ] as const)('%s → %i and the matching error class', async (_, status, cls, code, body) => {
    const { openai, up } = await setup({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': ['a/m1'] },
      providers: { dead: { type: 'openai', baseUrl: await refusedUrl(), apiKey: KEY } },
    });
    if (code === 'provider_http')
      up.a?.enqueue({ status: 400, body: '{"error":{"message":"bad field"}}' }, { status: 400 });
    if (code === 'provider_blocked') up.a?.enqueue({ blocked: true }, { blocked: true });
    const request = { model: 'mana/x', messages: MESSAGES, ...body } as {
      model: string;
      messages: typeof MESSAGES;
    };
    for (const stream of [false, true]) {
      const err = await thrown(openai.chat.completions.create({ ...request, stream }));
      expect(err).toBeInstanceOf(cls);
      expect(err.status).toBe(status);
      expect(err.code).toBe(code);
      expect(err.type).toBe(status >= 500 ? 'server_error' : 'invalid_request_error');
    }
  });

  it('auth: a wrong or missing key is AuthenticationError; Bearer and X-API-Key both work; /health is public', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const served = await serveHttp(h.llm, { apiKeys: ['key-one-1234', 'key-two-5678'] });
    const ok = await client(served.url, 'key-two-5678').chat.completions.create({
      model: 'mana/x',
      messages: MESSAGES,
    });
    expect(ok.choices[0]?.message.content).toBe('Hello!');
    const err = await thrown(
      client(served.url, 'key-three').chat.completions.create({ model: 'mana/x', messages: MESSAGES }),
    );
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.code).toBe('invalid_api_key');
    expect(err.message).not.toContain('key-three');
    const viaHeader = await fetch(`${served.url}/v1/aliases`, { headers: { 'x-api-key': 'key-one-1234' } });
    expect(viaHeader.status).toBe(200);
    expect((await fetch(`${served.url}/v1/aliases`)).status).toBe(401);
    expect((await fetch(`${served.url}/v1/health`)).status).toBe(401);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    expect(h.up.a?.count()).toBe(1);
  });

  it('disconnect: aborting a stream in the client cancels the upstream request', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const served = await serveHttp(h.llm);
    const ac = new AbortController();
    const stream = await client(served.url).chat.completions.create(
      { model: 'mana/x', messages: MESSAGES, stream: true },
      { signal: ac.signal },
    );
    let text = '';
    // The SDK ends an aborted stream quietly or with an abort error, depending on where the abort lands.
    await (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (text === 'p0p1') ac.abort();
      }
    })().catch(() => undefined);
    expect(text).toBe('p0p1');
    await waitFor(() => hang.closedByClient === 1, 'upstream request cancelled');
    expect(h.llm.health().providers.a?.consecutiveFailures).toBe(0);
  });

  it('disconnect: aborting a non-streamed call while the upstream thinks cancels the upstream request', async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const served = await serveHttp(h.llm);
    const ac = new AbortController();
    const call = client(served.url).chat.completions.create(
      { model: 'mana/x', messages: MESSAGES },
      { signal: ac.signal },
    );
    await waitFor(() => hang.received === 1, 'request at the upstream');
    ac.abort();
    await expect(call).rejects.toThrow();
    await waitFor(() => hang.closedByClient === 1, 'upstream request cancelled');
  });
});
