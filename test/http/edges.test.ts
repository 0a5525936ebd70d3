import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/http/index.js';
import { closeAll, harness, KEY, waitFor } from '../helpers/client.js';
import { serveHttp } from '../helpers/http.js';

afterEach(closeAll);

const CHAT = { model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] };

async function setup(options: Parameters<typeof serveHttp>[1] = {}) {
  const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
  const log: RequestLogEntry[] = [];
  const served = await serveHttp(h.llm, { onRequest: (e) => log.push(e), ...options });
  return { ...h, served, log };
}

/** Writes `text` on a raw connection; the whole answer once the server closes it (or `until` matches). */
async function raw(url: string, text: string, destroyAfterWrite = false): Promise<string> {
  const s = connect(Number(new URL(url).port), '127.0.0.1');
  let answer = '';
  s.on('data', (d: Buffer) => (answer += d.toString()));
  s.on('error', () => undefined);
  const closed = once(s, 'close');
  await once(s, 'connect');
  s.write(text);
  if (destroyAfterWrite) s.destroy();
  await closed;
  return answer;
}

describe('request body edges', () => {
  it('a client that goes away in the middle of its body is logged as 499 client_closed, no provider called', async () => {
    const { served, up, log } = await setup();
    await raw(
      served.url,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":',
      true,
    );
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({ status: 499, error: 'client_closed' });
    expect(up.a?.count()).toBe(0);
  });

  it('a chunked body one byte over maxBodyBytes is a 413 (the exact size is served: raw-http.test.ts)', async () => {
    const body = JSON.stringify(CHAT);
    const { served, up } = await setup({ maxBodyBytes: Buffer.byteLength(body) - 1 });
    const answer = await raw(
      served.url,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(up.a?.count()).toBe(0);
  });

  it('only application/json and +json types are read: NDJSON is a 415; the type echoed is cleaned and cut', async () => {
    const { served, up } = await setup();
    const send = async (type: string) => {
      const r = await fetch(`${served.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: JSON.stringify(CHAT),
      });
      return [r.status, ((await r.json()) as { error: { code: string; message: string } }).error] as const;
    };
    expect((await send('application/x-ndjson'))[0]).toBe(415);
    const [status, error] = await send(`text/${KEY}${'x'.repeat(1000)}`);
    expect(status).toBe(415);
    expect(error.code).toBe('unsupported_media_type');
    expect(error.message).not.toContain(KEY);
    expect(error.message.length).toBeLessThan(200);
    expect(up.a?.count()).toBe(0);
  });

  it('chunked mid-body abort too', async () => {
    const { served, up, log } = await setup();
    await raw(
      served.url,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"model":\r\n',
      true,
    );
    await waitFor(() => log.length === 1, 'log line');
    expect(log[0]).toMatchObject({ status: 499, error: 'client_closed' });
    expect(up.a?.count()).toBe(0);
  });
});

describe('route edges', () => {
  it('paths match exactly: a trailing slash, a prefix look-alike or a bad percent-encoding is a 404; the query is ignored', async () => {
    const { served } = await setup({ basePath: '/api' });
    const get = async (p: string, method = 'GET') => {
      const r = await fetch(`${served.url}${p}`, { method });
      const code = method === 'HEAD' ? null : ((await r.json()) as { error?: { code: string } }).error?.code;
      return [r.status, r.headers.get('allow'), code];
    };
    for (const p of [
      '/api/v1/aliases/',
      '/api/v1/models/',
      '/api',
      '/api/',
      '/apix/health',
      '/api/v1/models/%E0%A4%A',
    ])
      expect(await get(p), p).toEqual([404, null, 'not_found']);
    expect(await get('/api/v1/aliases?x=1')).toEqual([200, null, undefined]);
    expect(await get('/api/v1/models/mana%2Fx?y')).toEqual([200, null, undefined]);
    expect(await get('/api/v1/chat/completions', 'HEAD')).toEqual([405, 'POST', null]);
    expect(await get('/api/health', 'DELETE')).toEqual([405, 'GET, HEAD', 'method_not_allowed']);
  });
});

describe('request id edges', () => {
  it('an id with a character outside [A-Za-z0-9_.:-] (/ + = @ % space) or an empty one is replaced, never echoed', async () => {
    const { served, log } = await setup();
    const sent = ['a/b', 'a+b', 'a=b', 'a@b', 'a%2Fb', 'a b', 'ab\u00e9', ''];
    for (const id of sent) {
      const res = await fetch(`${served.url}/health`, { headers: { 'x-request-id': id } });
      expect(res.headers.get('x-request-id'), id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    }
    await waitFor(() => log.length === sent.length, 'log lines');
    expect(new Set(log.map((e) => e.requestId)).size).toBe(sent.length);
  });
});

describe('preflight edges', () => {
  it('a preflight that names no headers is allowed the ones a key and a JSON body need; OPTIONS on any path is a 204', async () => {
    const { served, log } = await setup({ cors: '*', basePath: '/api', apiKeys: ['secret-key-1'] });
    for (const path of ['/api/v1/chat/completions', '/nowhere']) {
      const pre = await fetch(`${served.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      expect(pre.status, path).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-api-key');
      expect(pre.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
    }
    await waitFor(() => log.length === 2, 'log lines');
    expect(log.map((e) => [e.method, e.status])).toEqual([
      ['OPTIONS', 204],
      ['OPTIONS', 204],
    ]);
  });
});
