import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createFetchHandler, createNodeHandler, type RequestLogEntry } from '../../src/http/index.js';
import { ConfigError, type ProviderAdapter, ProviderHTTPError } from '../../src/index.js';
import { registerPrometheusMetrics } from '../../src/prometheus/index.js';
import { closeAll, harness, KEY, waitFor } from '../helpers/client.js';
import { serveHttp } from '../helpers/http.js';
import { hangingUpstream, rawUpstream } from '../helpers/raw-upstream.js';

afterEach(closeAll);

const CHAT = { model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] };

async function setup(options: Parameters<typeof serveHttp>[1] = {}) {
  const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
  const log: RequestLogEntry[] = [];
  const served = await serveHttp(h.llm, { onRequest: (e) => log.push(e), ...options });
  return { ...h, served, log };
}

function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    ...(signal ? { signal } : {}),
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('SSE framing on the wire', () => {
  it('data: frames separated by a blank line, then data: [DONE]; the status and headers come before any frame', async () => {
    const { served, up, log } = await setup();
    up.a?.enqueue({ reply: 'One two', chunks: 2 });
    const res = await post(`${served.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-mana-llm-resolved')).toBe('a/m1');
    const text = await res.text();
    const frames = text.split('\n\n');
    expect(frames.pop()).toBe('');
    expect(frames.at(-1)).toBe('data: [DONE]');
    for (const f of frames.slice(0, -1)) {
      expect(f.startsWith('data: {')).toBe(true);
      expect(JSON.parse(f.slice(6))).toMatchObject({ object: 'chat.completion.chunk', model: 'a/m1' });
    }
    const content = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)).choices[0]?.delta.content ?? '');
    expect(content.join('')).toBe('One two');
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', status: 200, stream: true });
    expect(log[0]).not.toHaveProperty('error');
  });

  it('a failure after the commit: one error frame in the OpenAI shape, then [DONE]', async () => {
    const { served, up, log } = await setup();
    up.a?.enqueue({ streamThenReset: 2 });
    const res = await post(`${served.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect(res.status).toBe(200);
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const error = JSON.parse((frames.at(-2) as string).slice(6));
    expect(error).toEqual({
      error: {
        message: expect.stringContaining('stream interrupted'),
        type: 'server_error',
        code: 'stream_interrupted',
        param: null,
      },
    });
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({
      status: 200,
      stream: true,
      error: 'stream_interrupted',
      resolved: 'a/m1',
    });
  });

  it('a routing failure of a stream is a JSON error with its status, not a 200 event stream', async () => {
    const { served } = await setup();
    const res = await post(`${served.url}/v1/chat/completions`, {
      ...CHAT,
      model: 'mana/nope',
      stream: true,
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-mana-llm-resolved')).toBeNull();
    expect(await res.json()).toEqual({
      error: {
        message: 'Unknown model alias "mana/nope"',
        type: 'invalid_request_error',
        code: 'unknown_alias',
        param: 'model',
      },
    });
  });
});

describe('a slow reader (createNodeHandler)', () => {
  /** A stream far larger than the socket buffers, read by a client that pauses until the server waits for drain. */
  async function pausedStream() {
    const { served, up, log } = await setup();
    let waiting = false;
    served.server.on('request', (_req, res) => {
      const write = res.write.bind(res);
      res.write = ((chunk: string) => {
        const ok = write(chunk);
        if (!ok) waiting = true;
        return ok;
      }) as typeof res.write;
    });
    up.a?.enqueue({ reply: 'x'.repeat(16 * 1024 * 1024), chunks: 1024 });
    const body = JSON.stringify({ ...CHAT, stream: true });
    const client = httpRequest(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    const res = await new Promise<import('node:http').IncomingMessage>((resolve) => {
      client.on('response', resolve);
      client.end(body);
    });
    res.pause();
    await waitFor(() => waiting, 'the server to wait for drain', 10_000);
    return { res, client, log };
  }

  it('gets every frame: the writer waits for drain and goes on', async () => {
    const { res, log } = await pausedStream();
    let text = '';
    res.setEncoding('utf8');
    for await (const piece of res) text += piece;
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const content = text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => JSON.parse(f.slice(6)).choices[0]?.delta.content ?? '')
      .join('');
    expect(content.length).toBe(16 * 1024 * 1024);
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).not.toHaveProperty('error');
  });

  it('that goes away while the writer waits for drain ends the stream as client_closed', async () => {
    const { client, log } = await pausedStream();
    client.destroy();
    await waitFor(() => log.length === 1, 'log line', 5000);
    expect(log[0]).toMatchObject({ status: 200, stream: true, error: 'client_closed' });
  });
});

describe('Retry-After', () => {
  it("is the chain's soonest cool-down in whole seconds, rounded up, and never 0", async () => {
    for (const [hint, seconds] of [
      ['1100', '2'],
      ['0', '1'],
    ]) {
      const { served, up } = await setup();
      up.a?.enqueue({ status: 429, headers: { 'retry-after-ms': hint as string } });
      const res = await post(`${served.url}/v1/chat/completions`, CHAT);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe(seconds);
    }
  });
});

describe('request bodies', () => {
  it('bad JSON, a non-object, a wrong content type and a non-boolean stream are 400/415 before any call', async () => {
    const { served, up } = await setup();
    const url = `${served.url}/v1/chat/completions`;
    const cases: [Promise<Response>, number, string][] = [
      [post(url, '{"model": '), 400, 'invalid_json'],
      [post(url, '[1,2]'), 400, 'invalid_json'],
      [post(url, ''), 400, 'invalid_json'],
      [post(url, CHAT, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
      [post(url, { ...CHAT, stream: 'yes' }), 400, 'invalid_request'],
      [post(`${served.url}/v1/embeddings`, { model: 'mana/x', input: [1, 2] }), 400, 'invalid_request'],
      // Not dropped: vectors of the model's full size would reach an index built for 256.
      [
        post(`${served.url}/v1/embeddings`, { model: 'mana/x', input: 'a', dimensions: '256' }),
        400,
        'invalid_request',
      ],
      [
        post(`${served.url}/v1/embeddings`, { model: 'mana/x', input: 'a', dimensions: 0 }),
        400,
        'invalid_request',
      ],
      // Not dropped either: the answer would have no length cap.
      [post(url, { ...CHAT, max_completion_tokens: '100' }), 400, 'invalid_request'],
    ];
    for (const [res, status, code] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(up.a?.count()).toBe(0);
  });

  it('a JSON body without a Content-Type, or with parameters and upper case in it, is read', async () => {
    const { served, up } = await setup();
    const url = `${served.url}/v1/chat/completions`;
    up.a?.enqueue({ reply: 'typed' });
    const typed = await post(url, CHAT, { 'content-type': 'Application/JSON; charset=utf-8' });
    expect(typed.status).toBe(200);
    up.a?.enqueue({ reply: 'untyped' });
    // node:http sends no Content-Type unless told (fetch would add text/plain for a string body).
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(url, { method: 'POST', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(CHAT));
      });
    expect(await status({})).toBe(200);
    // An empty Content-Type says nothing, as an absent one.
    up.a?.enqueue({ reply: 'empty type' });
    expect(await status({ 'content-type': '' })).toBe(200);
  });

  it('a malformed model, messages, input or encoding_format is a 400 naming the field at fault, before any call', async () => {
    const { served, up } = await setup();
    const chat = `${served.url}/v1/chat/completions`;
    const embed = `${served.url}/v1/embeddings`;
    const cases: [Promise<Response>, string][] = [
      [post(chat, { ...CHAT, model: 5 }), 'model'],
      [post(chat, { ...CHAT, model: 5, stream: true }), 'model'],
      [post(chat, { model: 'mana/x' }), 'messages'],
      [post(chat, { model: 'mana/x', messages: [] }), 'messages'],
      [post(chat, { model: 'mana/x', messages: 'Hi', stream: true }), 'messages'],
      [post(embed, { model: 5, input: 'a' }), 'model'],
      [post(embed, { model: 'mana/x' }), 'input'],
      [post(embed, { model: 'mana/x', input: ['a', 2] }), 'input[1]'],
      [post(embed, { model: 'mana/x', input: 'a', encoding_format: 'hex' }), 'encoding_format'],
    ];
    for (const [res, param] of cases) {
      const r = await res;
      expect(r.status).toBe(400);
      const { error } = (await r.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param });
      expect(error.message).toContain(param);
    }
    expect(up.a?.count()).toBe(0);
  });

  it('a body over maxBodyBytes is 413, whether declared by Content-Length or sent chunked', async () => {
    const { served, up } = await setup({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ ...CHAT, messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
    const declared = await post(`${served.url}/v1/chat/completions`, big);
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    // Chunked: no Content-Length, the cap is enforced while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${served.url}/v1/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(big.slice(i * 500, (i + 1) * 500));
      req.end();
    });
    expect(status).toBe(413);
    expect(up.a?.count()).toBe(0);
  });

  it('a Content-Length over maxBodyBytes is refused before any byte of the body is sent (no wait for it)', async () => {
    const { served, up } = await setup({ maxBodyBytes: 1024 });
    const s = connect(Number(new URL(served.url).port), '127.0.0.1');
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = once(s, 'close');
    await once(s, 'connect');
    // The head only: the body is never sent, so an answer proves the declared length was enough.
    s.write(
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1025\r\n\r\n',
    );
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"request_too_large"');
    expect(up.a?.count()).toBe(0);
  });

  /** Sends a request head by hand, and `body` once a `100 Continue` came (at once without `Expect`); the answer. */
  async function rawPost(url: string, head: string, body?: string): Promise<string> {
    const s = connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    let sent = false;
    s.on('data', (d: Buffer) => {
      answer += d.toString();
      if (body !== undefined && !sent && answer.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        s.write(body);
      }
    });
    const closed = once(s, 'close');
    await once(s, 'connect');
    const length = `Content-Length: ${body === undefined ? 10 : Buffer.byteLength(body)}\r\n`;
    s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${head}${length}\r\n`);
    if (body !== undefined && !head.includes('Expect')) s.write(body);
    await closed;
    return answer;
  }

  it("Expect: 100-continue through the server's checkContinue event: 100 only when the body is read, never before a 401, 413 or 415", async () => {
    const { served, up } = await setup({ apiKeys: [KEY], maxBodyBytes: 1024 });
    served.server.on('checkContinue', (req, res) => served.server.emit('request', req, res));
    const expect100 = 'Expect: 100-continue\r\nContent-Type: application/json\r\n';
    const auth = `Authorization: Bearer ${KEY}\r\n`;
    // The head only: any answer but a 100 comes without the body.
    expect(await rawPost(served.url, `${expect100}Authorization: Bearer wrong\r\n`)).toMatch(
      /^HTTP\/1\.1 401 /,
    );
    expect(await rawPost(served.url, `${expect100}${auth}`, 'x'.repeat(1025))).toMatch(/^HTTP\/1\.1 413 /);
    const text = `Expect: 100-continue\r\nContent-Type: text/plain\r\n${auth}`;
    expect(await rawPost(served.url, text)).toMatch(/^HTTP\/1\.1 415 /);
    expect(up.a?.count()).toBe(0);
    up.a?.enqueue({ reply: 'after the 100' }, { reply: 'no 100' });
    const served200 = await rawPost(served.url, `${expect100}${auth}`, JSON.stringify(CHAT));
    expect(served200).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(served200.match(/100 Continue/g)).toHaveLength(1);
    expect(served200).toContain('after the 100');
    // A request that did not ask for one gets no 100.
    const plain = await rawPost(
      served.url,
      `Content-Type: application/json\r\n${auth}`,
      JSON.stringify(CHAT),
    );
    expect(plain).toMatch(/^HTTP\/1\.1 200 /);
    expect(plain).toContain('no 100');
  });

  it('Expect: 100-continue on a server without a checkContinue listener: node:http sends the one 100, the handler none', async () => {
    const { served, up } = await setup({ maxBodyBytes: 1024 });
    up.a?.enqueue({ reply: 'served' });
    const head = 'Expect: 100-continue\r\nContent-Type: application/json\r\n';
    const answer = await rawPost(served.url, head, JSON.stringify(CHAT));
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(answer.match(/100 Continue/g)).toHaveLength(1);
  });

  it('a body of exactly maxBodyBytes is served, declared by Content-Length or sent chunked', async () => {
    const body = JSON.stringify(CHAT);
    const { served, up } = await setup({ maxBodyBytes: Buffer.byteLength(body) });
    up.a?.enqueue({ reply: 'one' });
    expect((await post(`${served.url}/v1/chat/completions`, body)).status).toBe(200);
    up.a?.enqueue({ reply: 'two' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${served.url}/v1/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });

  it('a body sent to an answer that does not read it (401, 404, 415) is not read on: the connection is closed', async () => {
    // Otherwise node:http reads and drops the rest to keep the connection: a client without a key could send
    // gigabytes (far over maxBodyBytes) for as long as the request timeout allows.
    const { served, log } = await setup({ apiKeys: [KEY], maxBodyBytes: 1024 });
    const { port } = new URL(served.url);
    for (const [path, head] of [
      ['/v1/chat/completions', 'Content-Type: application/json'],
      ['/v1/nothing', 'Content-Type: application/json'],
      ['/v1/chat/completions', `Content-Type: text/plain\r\nAuthorization: Bearer ${KEY}`],
    ]) {
      const s = connect(Number(port), '127.0.0.1');
      let answer = '';
      s.on('data', (d: Buffer) => (answer += d.toString()));
      s.on('error', () => undefined);
      const closed = once(s, 'close');
      await once(s, 'connect');
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${head}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      // Chunked, without end: no declared length for the 413 check to refuse.
      const chunk = Buffer.concat([
        Buffer.from('10000\r\n'),
        Buffer.alloc(64 * 1024, 120),
        Buffer.from('\r\n'),
      ]);
      const pump = setInterval(() => s.writable && s.write(chunk), 5);
      const cut = await Promise.race([
        closed.then(() => true),
        new Promise((r) => setTimeout(r, 3000, false)),
      ]);
      clearInterval(pump);
      s.destroy();
      expect(cut).toBe(true);
      expect(answer).toMatch(/^HTTP\/1\.1 (401|404|415) /);
    }
    expect(log.map((e) => e.status)).toEqual([401, 404, 415]);
  });
});

describe('routes', () => {
  it('unknown paths are 404, wrong methods 405 with Allow, both in the OpenAI error shape', async () => {
    const { served } = await setup();
    const missing = await fetch(`${served.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const wrong = await fetch(`${served.url}/v1/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    // /v1/models/ with no id is no route, not a model that does not exist.
    const noId = await fetch(`${served.url}/v1/models/`);
    expect(noId.status).toBe(404);
    expect(((await noId.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('an embeddings request with dimensions: null is served at full size, as without it (not refused)', async () => {
    const { served, up } = await setup();
    const res = await post(`${served.url}/v1/embeddings`, { model: 'mana/x', input: 'a', dimensions: null });
    expect(res.status).toBe(200);
    expect(up.a?.requests.at(-1)?.body).not.toHaveProperty('dimensions');
  });

  it('GET /v1/models/{alias} answers from the aliases, without asking any provider for its models', async () => {
    const { served, up } = await setup();
    const res = await fetch(`${served.url}/v1/models/mana/x`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'mana/x', owned_by: 'mana-llm' });
    expect(up.a?.requests).toHaveLength(0);
  });

  it('a failure that is no mana-llm error is a 500 of type server_error that says nothing about it', async () => {
    const { served, log } = await setup({
      metrics: {
        metrics: () => {
          throw new Error(`registry broke at /srv/app with ${KEY}`);
        },
      },
    });
    const res = await fetch(`${served.url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: { message: 'internal error', type: 'server_error', code: 'internal_error', param: null },
    });
    expect(log.at(-1)).toMatchObject({ status: 500, error: 'internal_error' });
  });

  it('/metrics from a source without a contentType is Prometheus text format 0.0.4', async () => {
    const { served } = await setup({ metrics: { metrics: () => 'up 1\n' } });
    const res = await fetch(`${served.url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe('up 1\n');
  });

  it('a path or model id echoed in a 404 is cleaned: no line break, no bidi override, no key', async () => {
    const { served } = await setup();
    const odd = 'x%0A(node:1)%20forged%E2%80%AE%C2%85%20sk-proj-SECRETSECRET';
    for (const path of [`/v1/models/${odd}`, `/v1/nothing/${odd}`]) {
      const res = await fetch(`${served.url}${path}`);
      expect(res.status).toBe(404);
      const { message } = ((await res.json()) as { error: { message: string } }).error;
      expect(message).toMatch(/^(The model|no route)/);
      // The model id is decoded (a key in it is redacted); the path is echoed as sent, percent-encoded.
      expect(message).not.toMatch(
        path.startsWith('/v1/models/') ? /[\n\u202e\u0085]|SECRETSECRET/ : /[\n\u202e\u0085]/,
      );
    }
  });

  it('a path echoed in a 405 is cleaned and cut as in a 404: no key, not the whole path', async () => {
    const { served } = await setup();
    const message = async (path: string) => {
      const res = await post(`${served.url}${path}`, CHAT);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    const keyed = await message('/v1/models/sk-proj-SECRETSECRETSECRET');
    expect(keyed).toMatch(/^POST is not allowed on \/v1\/models\//);
    expect(keyed).not.toContain('SECRETSECRET');
    expect((await message(`/v1/models/${'x'.repeat(5000)}`)).length).toBeLessThan(300);
  });

  it('/v1/aliases, /v1/health, /health and /metrics answer with the library state', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const registry = new Registry();
    registerPrometheusMetrics(h.llm, { registry });
    const served = await serveHttp(h.llm, { metrics: registry });
    await h.llm.chat(CHAT as never);
    expect(await (await fetch(`${served.url}/v1/aliases`)).json()).toEqual({
      default: null,
      aliases: [{ name: 'mana/x', description: '', chain: ['a/m1'] }],
    });
    expect(await (await fetch(`${served.url}/v1/health`)).json()).toMatchObject({
      status: 'healthy',
      providers: { a: { healthy: true, state: 'closed' } },
    });
    expect(await (await fetch(`${served.url}/health`)).json()).toMatchObject({
      status: 'healthy',
      service: 'mana-llm',
    });
    const metrics = await fetch(`${served.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain(
      'mana_llm_llm_requests_total{provider="a",model="m1",streaming="false"} 1',
    );
  });

  it('/metrics is 404 without a registry; basePath mounts every route under a prefix', async () => {
    const { served } = await setup({ basePath: '/api/llm' });
    expect((await fetch(`${served.url}/api/llm/metrics`)).status).toBe(404);
    expect((await fetch(`${served.url}/api/llm/v1/aliases`)).status).toBe(200);
    expect((await fetch(`${served.url}/v1/aliases`)).status).toBe(404);
  });

  it('options read from unset environment variables (undefined) type-check and mean "absent", as docs/http.md writes them', async () => {
    // docs/http.md's Next.js route: `apiKeys: process.env.LLM_API_KEYS?.split(',')`. Under
    // exactOptionalPropertyTypes (this repository's tsconfig, and many apps') it must compile, as createManaLLM's
    // options do with `apiKey: process.env.GROQ_API_KEY`.
    const unset = process.env.MANA_TEST_SURELY_UNSET_LLM_API_KEYS;
    const { served } = await setup({
      basePath: '/api/llm',
      apiKeys: unset?.split(','),
      cors: undefined,
      maxBodyBytes: undefined,
      requestIdHeader: undefined,
      metrics: undefined,
    });
    // No key check, no CORS headers, the default request id header.
    const res = await fetch(`${served.url}/api/llm/v1/aliases`, { headers: { 'x-request-id': 'abc' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('x-request-id')).toBe('abc');
  });

  it('apiKeys from a list written with spaces (`LLM_API_KEYS="k1, k2"` split on commas) each open the door', async () => {
    // docs/http.md: `apiKeys: process.env.LLM_API_KEYS?.split(',')`. A presented key never has spaces around it.
    const { served } = await setup({ apiKeys: ' k1 , k2 '.split(',') });
    for (const headers of [
      { authorization: 'Bearer k1' },
      { authorization: 'Bearer k2' },
      { 'x-api-key': 'k2' },
    ]) {
      expect((await fetch(`${served.url}/v1/aliases`, { headers })).status).toBe(200);
    }
    expect(
      (await fetch(`${served.url}/v1/aliases`, { headers: { authorization: 'Bearer k3' } })).status,
    ).toBe(401);
  });

  it('a 401 says whether the key was missing or wrong', async () => {
    const { served } = await setup({ apiKeys: ['k1'] });
    const message = async (headers: Record<string, string>) => {
      const res = await fetch(`${served.url}/v1/aliases`, { headers });
      expect(res.status).toBe(401);
      const { error } = (await res.json()) as { error: { message: string; type: string } };
      expect(error.type).toBe('authentication_error');
      return error.message;
    };
    expect(await message({})).toMatch(/^Missing API key/);
    expect(await message({ authorization: 'Bearer k2' })).toBe('Invalid API key');
  });

  it('a 401 for an Authorization header not of the form Bearer <key> says so, without echoing the value', async () => {
    const { served } = await setup({ apiKeys: ['k1'] });
    for (const authorization of ['k1', 'Token secret-value', 'Bearer', 'Bearer a b']) {
      const res = await fetch(`${served.url}/v1/aliases`, { headers: { authorization } });
      expect(res.status).toBe(401);
      const text = await res.text();
      const { error } = JSON.parse(text) as { error: { message: string; code: string } };
      expect(error.code).toBe('invalid_api_key');
      expect(error.message).toBe(
        'The Authorization header is not of the form Bearer <key>: send Authorization: Bearer <key> or X-API-Key: <key>',
      );
      expect(text).not.toContain('secret-value');
    }
    // Blank is no key at all; an X-API-Key beside a malformed Authorization is checked as the key.
    const blank = await fetch(`${served.url}/v1/aliases`, { headers: { authorization: ' ' } });
    expect(((await blank.json()) as { error: { message: string } }).error.message).toMatch(
      /^Missing API key/,
    );
    const both = { authorization: 'k1', 'x-api-key': 'k2' };
    const wrong = await fetch(`${served.url}/v1/aliases`, { headers: both });
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toBe('Invalid API key');
  });

  it('a client that goes away before a plain answer is logged as 499 client_closed, not as the failure it caused', async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: {},
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/hang': ['h/m'] },
    });
    const log: RequestLogEntry[] = [];
    const served = await serveHttp(h.llm, { onRequest: (e) => log.push(e) });
    const ac = new AbortController();
    const res = post(`${served.url}/v1/chat/completions`, { ...CHAT, model: 'mana/hang' }, {}, ac.signal);
    res.catch(() => undefined);
    await waitFor(() => hang.received === 1, 'request at the upstream');
    ac.abort();
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({ status: 499, error: 'client_closed', stream: false });
  });

  it('llm.close() while a stream is served: an error frame (code closed) then [DONE], the upstream released', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const h = await harness({
      upstreams: {},
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/hang': ['h/m'] },
    });
    const log: RequestLogEntry[] = [];
    const served = await serveHttp(h.llm, { onRequest: (e) => log.push(e) });
    const res = await post(`${served.url}/v1/chat/completions`, {
      ...CHAT,
      model: 'mana/hang',
      stream: true,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('p1')) text += (await reader.read()).value ?? '';
    await h.llm.close();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
    const frames = text.split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse((frames.at(-2) as string).slice(6))).toMatchObject({
      error: { type: 'server_error', code: 'closed' },
    });
    await waitFor(() => hang.closedByClient === 1, 'upstream released');
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({ status: 200, stream: true, error: 'closed' });
  });

  it('a client that goes away cancels the upstream call of an embeddings request and of a model list', async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: {},
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/hang': ['h/m'] },
    });
    const log: RequestLogEntry[] = [];
    const served = await serveHttp(h.llm, { onRequest: (e) => log.push(e) });
    const calls = [
      (signal: AbortSignal) =>
        post(`${served.url}/v1/embeddings`, { model: 'mana/hang', input: 'a' }, {}, signal),
      (signal: AbortSignal) => fetch(`${served.url}/v1/models`, { signal }),
    ];
    for (const [i, call] of calls.entries()) {
      const ac = new AbortController();
      call(ac.signal).catch(() => undefined);
      await waitFor(() => hang.received === i + 1, 'request at the upstream');
      ac.abort();
      await waitFor(() => hang.closedByClient === i + 1, 'upstream call cancelled');
      await waitFor(() => log.length === i + 1, 'log line');
      expect(log[i]).toMatchObject({ status: 499, error: 'client_closed' });
    }
  });

  it("createFetchHandler: the request's own signal (the client went away) cancels the upstream call", async () => {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: {},
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/hang': ['h/m'] },
    });
    const log: RequestLogEntry[] = [];
    const handle = createFetchHandler(h.llm, { onRequest: (e) => log.push(e) });
    const ac = new AbortController();
    const answer = handle(
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...CHAT, model: 'mana/hang' }),
        signal: ac.signal,
      }),
    );
    await waitFor(() => hang.received === 1, 'request at the upstream');
    ac.abort();
    await waitFor(() => hang.closedByClient === 1, 'upstream call cancelled');
    await answer;
    expect(log).toMatchObject([{ status: 499, error: 'client_closed' }]);
  });

  it('a sane X-Request-Id is echoed, anything else is replaced by a fresh one', async () => {
    const { served, log } = await setup();
    const echoed = await fetch(`${served.url}/health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${served.url}/health`, { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(log.map((e) => e.requestId)).toEqual(['abc-123', replaced.headers.get('x-request-id')]);
  });

  it('a request id of up to 128 characters is echoed, a longer one replaced', async () => {
    const { served } = await setup();
    const id = async (sent: string) =>
      (await fetch(`${served.url}/health`, { headers: { 'x-request-id': sent } })).headers.get(
        'x-request-id',
      );
    expect(await id('a'.repeat(128))).toBe('a'.repeat(128));
    expect(await id('a'.repeat(129))).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('the Bearer scheme is matched in any case (RFC 9110: schemes are case-insensitive)', async () => {
    const { served } = await setup({ apiKeys: ['k1'] });
    for (const authorization of ['bearer k1', 'BEARER k1'])
      expect((await fetch(`${served.url}/v1/aliases`, { headers: { authorization } })).status).toBe(200);
  });

  it('Bearer and its key may be separated by several spaces or a tab; a raw key without the scheme is no key', async () => {
    const { served } = await setup({ apiKeys: ['k1'] });
    const status = async (authorization: string) =>
      (await fetch(`${served.url}/v1/aliases`, { headers: { authorization } })).status;
    for (const authorization of ['Bearer  k1', 'Bearer\tk1', 'Bearer \t k1'])
      expect(await status(authorization)).toBe(200);
    for (const authorization of ['k1', 'Bearer k1 k1', 'Token k1', 'Bearer K1'])
      expect(await status(authorization)).toBe(401);
  });

  it('a request sending both Authorization: Bearer and X-API-Key is checked by its Bearer key', async () => {
    const { served } = await setup({ apiKeys: ['k1'] });
    const status = async (headers: Record<string, string>) =>
      (await fetch(`${served.url}/v1/aliases`, { headers })).status;
    expect(await status({ authorization: 'Bearer k1', 'x-api-key': 'stale' })).toBe(200);
    expect(await status({ authorization: 'Bearer stale', 'x-api-key': 'k1' })).toBe(401);
  });

  it('under a basePath, /health and /metrics stay public with apiKeys; the other routes still need a key', async () => {
    const { served } = await setup({ basePath: '/api/llm', apiKeys: ['k1'], metrics: new Registry() });
    expect((await fetch(`${served.url}/api/llm/health`)).status).toBe(200);
    expect((await fetch(`${served.url}/api/llm/metrics`)).status).toBe(200);
    expect((await fetch(`${served.url}/api/llm/v1/health`)).status).toBe(401);
  });

  it('an onRequest that throws never breaks an answer, streamed or not', async () => {
    const { served, up } = await setup({
      onRequest: () => {
        throw new Error('logger down');
      },
    });
    up.a?.enqueue({ reply: 'One two', chunks: 2 });
    const stream = await post(`${served.url}/v1/chat/completions`, { ...CHAT, stream: true });
    expect((await stream.text()).endsWith('data: [DONE]\n\n')).toBe(true);
    const json = await post(`${served.url}/v1/chat/completions`, CHAT);
    expect(json.status).toBe(200);
  });

  it('invalid handler options are a ConfigError listing each problem', () => {
    expect(() => createFetchHandler({} as never, { apiKeys: [], maxBodyBytes: -1, basePath: 'x/' })).toThrow(
      ConfigError,
    );
    const issues = (options: unknown) => {
      try {
        createFetchHandler({} as never, options as never);
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(
      issues({
        apiKeys: ['ok', ' ', 3],
        cors: ['https://a.example', 1],
        maxBodyBytes: 1.5,
        requestIdHeader: 'x id',
        basePath: '/x/',
        metrics: {},
        onRequest: 'log',
      }),
    ).toEqual([
      { path: 'apiKeys[1]', message: 'must be a non-blank string' },
      { path: 'apiKeys[2]', message: 'must be a non-blank string' },
      { path: 'cors', message: "must be '*' or an array of origins" },
      { path: 'maxBodyBytes', message: 'must be a positive integer' },
      { path: 'requestIdHeader', message: 'must be a header name or false' },
      { path: 'basePath', message: "must start with '/' and not end with '/'" },
      { path: 'metrics', message: 'must have a metrics() method (e.g. a prom-client Registry)' },
      { path: 'onRequest', message: 'must be a function' },
    ]);
    // Not a string: refused when the handler is made, not with a TypeError on the first request.
    expect(issues({ requestIdHeader: 5 as unknown as string })).toEqual([
      { path: 'requestIdHeader', message: 'must be a header name or false' },
    ]);
    expect(issues({ apiKeys: [], cors: '+', maxBodyBytes: 0, basePath: 'api' })).toEqual([
      { path: 'apiKeys', message: 'must be a non-empty array (omit it to serve without a key check)' },
      { path: 'cors', message: "must be '*' or an array of origins" },
      { path: 'maxBodyBytes', message: 'must be a positive integer' },
      { path: 'basePath', message: "must start with '/' and not end with '/'" },
    ]);
    expect(
      issues({ apiKeys: ['k'], cors: '*', maxBodyBytes: 10, requestIdHeader: false, basePath: '' }),
    ).toEqual([]);
  });

  it('an unknown option is a ConfigError naming it, not a setting silently off (apikeys would serve with no key check)', async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const issues = (options: unknown) => {
      try {
        createNodeHandler(llm, options as never);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues({ apikeys: ['secret-key-1'], basepath: '/api', maxBodyBytes: 0 })).toEqual([
      { path: 'maxBodyBytes', message: 'must be a positive integer' },
      { path: 'apikeys', message: 'unknown key "apikeys": did you mean "apiKeys"?' },
      { path: 'basepath', message: 'unknown key "basepath": did you mean "basePath"?' },
    ]);
    expect(() => createFetchHandler(llm, { requestIdheader: 'x-id' } as never)).toThrow(
      'did you mean "requestIdHeader"?',
    );
    expect(issues({ logger: () => undefined })[0]?.message).toMatch(
      /^unknown key "logger" \(known keys: apiKeys, /,
    );
    // A prom-client Registry is a class instance: its own fields are not option keys.
    expect(issues({ metrics: new Registry() })).toEqual([]);
  });

  it('a cors entry no browser sends as its Origin is a ConfigError, not an origin silently never allowed', () => {
    const issues = (cors: unknown) => {
      try {
        createFetchHandler({} as never, { cors } as never);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).issues.map((i) => i.path);
      }
      return [];
    };
    expect(issues(['*'])).toEqual(['cors[0]']);
    expect(
      issues(['https://app.example/', 'app.example', 'https://App.example', 'https://a.example/x']),
    ).toEqual(['cors[0]', 'cors[1]', 'cors[2]', 'cors[3]']);
    expect(
      issues([
        'https://app.example',
        'http://localhost:5173',
        'http://[::1]:8080',
        'chrome-extension://abcdef',
        'null',
      ]),
    ).toEqual([]);
  });

  it('options whose getter or proxy trap throws are a ConfigError, as createManaLLM reports them', async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const thrown = new Error('boom\n(node:1) forged line \u202e');
    const getter = {
      get apiKeys(): never {
        throw thrown;
      },
    };
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw thrown;
        },
      },
    );
    for (const make of [createNodeHandler, createFetchHandler]) {
      for (const options of [getter, trap]) {
        let err: unknown;
        try {
          make(llm, options as never);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).cause).toBe(thrown);
        expect((err as ConfigError).issues[0]?.message).toMatch(/^cannot be read: /);
        expect((err as ConfigError).message).not.toMatch(/\n\(node:1\)|\u202e/);
      }
    }
  });
});

describe('CORS', () => {
  it('a preflight from an allowed origin gets the allow headers without a key; others get none', async () => {
    const { served } = await setup({ cors: ['https://app.example'], apiKeys: ['secret-key-1'] });
    const pre = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-headers')).toBe(
      'authorization, content-type, x-stainless-os',
    );
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    // HEAD is answered on the GET routes, so a preflight and Allow list it too.
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST, OPTIONS');
    expect(pre.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    // A browser caches the preflight for 10 minutes instead of sending one before every call.
    expect(pre.headers.get('access-control-max-age')).toBe('600');
    const other = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    for (const h of [
      'access-control-allow-methods',
      'access-control-allow-headers',
      'access-control-max-age',
    ])
      expect(other.headers.get(h)).toBeNull();
    expect(other.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('a preflight echoes at most 2048 characters of the headers a browser asks for', async () => {
    const { served } = await setup({ cors: '*' });
    const asked = `authorization, ${'x'.repeat(3000)}`;
    const pre = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-headers': asked },
    });
    expect(pre.headers.get('access-control-allow-headers')).toBe(asked.slice(0, 2048));
  });

  it('answers (a 401 too) carry the origin and expose X-Mana-LLM-Resolved to the browser', async () => {
    const { served } = await setup({ cors: ['https://app.example'], apiKeys: ['secret-key-1'] });
    const denied = await post(`${served.url}/v1/chat/completions`, CHAT, { origin: 'https://app.example' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const ok = await post(`${served.url}/v1/chat/completions`, CHAT, {
      origin: 'https://app.example',
      authorization: 'Bearer secret-key-1',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-expose-headers')).toContain('x-mana-llm-resolved');
    expect(ok.headers.get('vary')).toBe('Origin');
  });

  it('with a list of origins, an answer to a request without Origin says Vary: Origin too (a cache must not reuse it for a browser)', async () => {
    const { served } = await setup({ cors: ['https://app.example'] });
    const plain = await fetch(`${served.url}/v1/models`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    expect(plain.headers.get('vary')).toBe('Origin');
  });

  it("with cors '*', an answer to a request without Origin carries Access-Control-Allow-Origin: * too (a cache may reuse it for a browser)", async () => {
    const { served } = await setup({ cors: '*' });
    const plain = await fetch(`${served.url}/v1/models`);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('access-control-allow-origin')).toBe('*');
    expect(plain.headers.get('access-control-expose-headers')).toBe(
      'x-mana-llm-resolved, x-request-id, retry-after',
    );
    expect(plain.headers.get('vary')).toBeNull();
  });

  it('a custom requestIdHeader is the one exposed to the browser (none with requestIdHeader: false)', async () => {
    const { served } = await setup({ cors: '*', requestIdHeader: 'X-Correlation-Id' });
    const res = await post(`${served.url}/v1/chat/completions`, CHAT, { origin: 'https://app.example' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
    expect(res.headers.get('access-control-expose-headers')).toBe(
      'x-mana-llm-resolved, x-correlation-id, retry-after',
    );
    const none = await setup({ cors: ['https://app.example'], requestIdHeader: false });
    const bare = await post(`${none.served.url}/v1/chat/completions`, CHAT, {
      origin: 'https://app.example',
    });
    expect(bare.headers.get('access-control-expose-headers')).toBe('x-mana-llm-resolved, retry-after');
  });
});

describe('createFetchHandler', () => {
  it("a provider's own 403 (a custom adapter's) is answered 403 with the OpenAI type permission_error", async () => {
    const forbidden: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () =>
        Promise.reject(new ProviderHTTPError('mine: 403', { provider: 'mine', model: 'm', status: 403 })),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const h = await harness({
      upstreams: { b: 'openai' },
      providers: { mine: { type: 'custom', adapter: forbidden } },
      aliases: { 'mana/x': ['mine/m'] },
    });
    const res = await createFetchHandler(h.llm)(
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(CHAT),
      }),
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { type: 'permission_error', code: 'provider_http' } });
  });

  it('a body over maxBodyBytes is a 413 that asks the runtime to close the connection (the rest is not read)', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const handle = createFetchHandler(h.llm, { maxBodyBytes: 16 });
    const res = await handle(
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(CHAT),
      }),
    );
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(h.up.a?.count()).toBe(0);
  });

  it('a method named like an Object member (valueOf, constructor) is a 405, not a 200 with an empty body', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const handle = createFetchHandler(h.llm);
    for (const method of ['valueOf', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await handle(new Request('http://localhost/v1/models', { method }));
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
  });

  it('a 404 cleans and cuts the method it echoes, as a 405 does: no key, not a 5000-character method', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const handle = createFetchHandler(h.llm);
    const message = async (method: string) => {
      const res = await handle(new Request('http://localhost/nope', { method }));
      expect(res.status).toBe(404);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    expect(await message('sk-proj-SECRETSECRETSECRET')).not.toContain('SECRETSECRET');
    expect((await message('X'.repeat(5000))).length).toBeLessThan(300);
  });

  it('the onRequest log cleans and cuts the method as it does the path: no key, not a 5000-character method', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const log: RequestLogEntry[] = [];
    const handle = createFetchHandler(h.llm, { onRequest: (e) => log.push(e) });
    for (const method of ['sk-proj-SECRETSECRETSECRET', 'X'.repeat(5000)])
      await handle(new Request('http://localhost/nope', { method }));
    expect(log).toHaveLength(2);
    expect(log[0]?.method).not.toContain('SECRETSECRET');
    expect(log[1]?.method.length).toBeLessThan(300);
  });

  it('cancelling the body while the next frame waits for the upstream cancels the upstream at once', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const h = await harness({
      upstreams: {},
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/hang': ['h/m'] },
    });
    const res = await createFetchHandler(h.llm)(
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...CHAT, model: 'mana/hang', stream: true }),
      }),
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('p1')) text += new TextDecoder().decode((await reader.read()).value);
    // Every chunk the upstream sent is out: the next read waits for one that never comes.
    const next = reader.read();
    await new Promise((r) => setImmediate(r));
    await reader.cancel();
    expect((await next).done).toBe(true);
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
  });

  it('serves JSON and SSE as Web Responses; cancelling the body cancels the upstream', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const h = await harness({
      upstreams: { a: 'openai' },
      providers: { h: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'], 'mana/hang': ['h/m'] },
    });
    const handle = createFetchHandler(h.llm);
    const req = (body: unknown) =>
      new Request('http://localhost/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const json = await handle(req(CHAT));
    expect(json.headers.get('x-mana-llm-resolved')).toBe('a/m1');
    expect(
      ((await json.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content,
    ).toBe('Hello!');
    const res = await handle(req({ ...CHAT, model: 'mana/hang', stream: true }));
    expect(res.headers.get('x-mana-llm-resolved')).toBe('h/m');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first.startsWith('data: {')).toBe(true);
    await reader.cancel();
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
  });
});

describe('X-Mana-LLM-Resolved with a model name a header cannot carry', () => {
  // A direct model name is whatever the caller sent; an upstream that ignores it (llama.cpp) still answers.
  const MODELS = {
    'a/模型': 'a/%E6%A8%A1%E5%9E%8B',
    'a/x\r\nset-cookie: a=b': 'a/x%0D%0Aset-cookie:%20a=b',
    'a/ü': 'a/%C3%BC',
  };

  it('is served by both handlers, streamed or not, with the name percent-encoded (UTF-8)', async () => {
    const { served, up, llm } = await setup();
    const handle = createFetchHandler(llm);
    for (const [model, header] of Object.entries(MODELS)) {
      for (const stream of [false, true]) {
        const body = { ...CHAT, model, stream };
        up.a?.enqueue({ reply: 'Hi there', chunks: 1 });
        const res = await post(`${served.url}/v1/chat/completions`, body);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-mana-llm-resolved')).toBe(header);
        expect(await res.text()).toContain('Hi there');
        up.a?.enqueue({ reply: 'Hi there', chunks: 1 });
        const web = await handle(
          new Request('http://localhost/v1/chat/completions', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }),
        );
        expect(web.headers.get('x-mana-llm-resolved')).toBe(header);
        expect(await web.text()).toContain('Hi there');
      }
    }
  });

  it('reaches the request log as in the header: a caller cannot write a line of its own into `mana-llm serve` logs', async () => {
    const { served, up, log } = await setup();
    for (const [model, header] of Object.entries(MODELS)) {
      for (const stream of [false, true]) {
        up.a?.enqueue({ reply: 'Hi there', chunks: 1 });
        const res = await post(`${served.url}/v1/chat/completions`, { ...CHAT, model, stream });
        await res.text();
        await waitFor(() => log.at(-1)?.stream === stream && log.length % 2 === (stream ? 0 : 1), 'log line');
        expect(log.at(-1)?.resolved).toBe(header);
      }
    }
  });
});

describe('an upstream that answers with a redirect (a baseUrl on http:// behind an https redirect, a proxy)', () => {
  it('is the provider failing, not the caller: the alias falls back, a direct model is a 503, never a 301 relayed', async () => {
    const moved = await rawUpstream((_body, res) => {
      res.writeHead(301, { location: 'https://elsewhere.example/v1/chat/completions' });
      res.end();
    });
    const h = await harness({
      upstreams: { a: 'openai' },
      providers: { r: { type: 'openai', baseUrl: moved.url, apiKey: KEY } },
      aliases: { 'mana/x': ['r/m', 'a/m1'] },
    });
    const served = await serveHttp(h.llm);
    const viaAlias = await post(`${served.url}/v1/chat/completions`, CHAT);
    expect(viaAlias.status).toBe(200);
    expect(viaAlias.headers.get('x-mana-llm-resolved')).toBe('a/m1');
    const direct = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...CHAT, model: 'r/m' }),
    });
    expect(direct.status).toBe(503);
    expect(((await direct.json()) as { error: { code: string } }).error.code).toBe('no_healthy_provider');
    expect(h.llm.health().providers.r?.consecutiveFailures).toBe(2);
  });
});

describe('the request log never carries a key', () => {
  it('a key-shaped text or an accepted key in the path is redacted in onRequest (the 404 message already was)', async () => {
    const { served, log } = await setup({ apiKeys: ['server-key-0123456789'] });
    const auth = { authorization: 'Bearer server-key-0123456789' };
    const a = await fetch(`${served.url}/v1/models/sk-proj-abcdefghijklmnop`, { headers: auth });
    expect(a.status).toBe(404);
    const b = await fetch(`${served.url}/v1/models/server-key-0123456789`, { headers: auth });
    expect(b.status).toBe(404);
    await waitFor(() => log.length === 2, 'log lines');
    for (const e of log) {
      expect(e.path).not.toContain('abcdefghijklmnop');
      expect(e.path).not.toContain('server-key-0123456789');
      expect(e.path.startsWith('/v1/models/')).toBe(true);
    }
  });

  it('a key-shaped or accepted key sent as the request id is replaced by a fresh id, not echoed and logged', async () => {
    const { served, log } = await setup({ apiKeys: ['server-key-0123456789'] });
    const auth = { authorization: 'Bearer server-key-0123456789' };
    for (const id of ['sk-proj-abcdefghijklmnop', 'server-key-0123456789', 'Server-Key-0123456789']) {
      const res = await fetch(`${served.url}/v1/aliases`, { headers: { ...auth, 'x-request-id': id } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    }
    // An id that is no key is still echoed as sent.
    const kept = await fetch(`${served.url}/v1/aliases`, {
      headers: { ...auth, 'x-request-id': 'req-42.a:b_c' },
    });
    expect(kept.headers.get('x-request-id')).toBe('req-42.a:b_c');
    await waitFor(() => log.length === 4, 'log lines');
    for (const e of log.slice(0, 3)) expect(JSON.stringify(e)).not.toMatch(/abcdefghijklmnop|0123456789/i);
  });
});

describe('request targets', () => {
  it('a query string is not part of the routed or logged path', async () => {
    const { served, log } = await setup();
    const res = await fetch(`${served.url}/v1/models/mana%2Fx?api_key=abc&x=1`);
    expect(res.status).toBe(200);
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]?.path).toBe('/v1/models/mana%2Fx');
  });

  it('an absolute-form target (RFC 9112: a server must accept it) is routed by its path, as the fetch handler routes it', async () => {
    const { served, log } = await setup();
    const { port } = new URL(served.url);
    const s = connect(Number(port), '127.0.0.1');
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    await once(s, 'connect');
    s.write(`GET http://127.0.0.1:${port}/health?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    await once(s, 'close');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(answer).toContain('"service":"mana-llm"');
    expect(log.map((e) => e.path)).toEqual(['/health']);
  });
});

describe('chat request fields as OpenAI clients send them', () => {
  it('a field sent as null is left out (the default applies), not refused', async () => {
    const { served, up } = await setup();
    const res = await post(`${served.url}/v1/chat/completions`, {
      ...CHAT,
      temperature: null,
      tools: null,
      stream: null,
    });
    expect(res.status).toBe(200);
    // `stream: null` is no stream, as an absent one.
    expect(res.headers.get('content-type')).toBe('application/json');
    const sent = up.a?.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent).not.toHaveProperty('temperature');
    expect(sent).not.toHaveProperty('tools');
  });

  it('max_tokens wins over max_completion_tokens when both are sent', async () => {
    const { served, up } = await setup();
    const res = await post(`${served.url}/v1/chat/completions`, {
      ...CHAT,
      max_tokens: 5,
      max_completion_tokens: 9,
    });
    expect(res.status).toBe(200);
    const sent = up.a?.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.max_tokens ?? sent.max_completion_tokens).toBe(5);
  });
});

describe('request body types', () => {
  it('a +json media type (application/vnd.api+json) is read as JSON', async () => {
    const { served } = await setup();
    const url = `${served.url}/v1/chat/completions`;
    const typed = await post(url, CHAT, { 'content-type': 'application/vnd.api+json; charset=utf-8' });
    expect(typed.status).toBe(200);
  });

  it('an empty body is a 400 that says the body is empty', async () => {
    const { served } = await setup();
    const empty = await post(`${served.url}/v1/chat/completions`, '');
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/empty/);
  });
});

describe('/v1/models', () => {
  it('every entry, alias or provider model, carries the same Unix-seconds created time', async () => {
    const { served } = await setup();
    const res = await fetch(`${served.url}/v1/models`);
    const { data } = (await res.json()) as { data: { id: string; created: number }[] };
    expect(data.map((m) => m.id)).toContain('mana/x');
    expect(data.length).toBeGreaterThan(1);
    const times = new Set(data.map((m) => m.created));
    expect(times.size).toBe(1);
    expect([...times][0]).toBeGreaterThan(1_600_000_000);
  });
});

describe('stream_options on a request that does not stream', () => {
  it('is not read: the request is the same one for the response cache as without it', async () => {
    const h = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/x': { chain: ['a/m1'], cache: true } },
      options: { cache: { store: 'memory', ttlMs: 60_000 } },
    });
    const served = await serveHttp(h.llm);
    const first = await post(`${served.url}/v1/chat/completions`, CHAT);
    expect(first.status).toBe(200);
    const again = { ...CHAT, stream: false, stream_options: { include_usage: true } };
    const second = await post(`${served.url}/v1/chat/completions`, again);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(await first.json());
    expect(h.up.a?.requests.length).toBe(1);
  });
});
