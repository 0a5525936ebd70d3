import { once } from 'node:events';
import { connect } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createFetchHandler, type RequestLogEntry } from '../../src/http/index.js';
import { registerPrometheusMetrics } from '../../src/prometheus/index.js';
import { closeAll, harness } from '../helpers/client.js';
import { serveHttp } from '../helpers/http.js';

afterEach(closeAll);

const GET_ROUTES = ['/health', '/v1/health', '/v1/models', '/v1/models/mana%2Fx', '/v1/aliases', '/metrics'];

async function setup() {
  const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
  const metrics = new Registry();
  registerPrometheusMetrics(h.llm, { registry: metrics });
  const log: RequestLogEntry[] = [];
  return { ...h, metrics, log, onRequest: (e: RequestLogEntry) => log.push(e) };
}

/** Sends `HEAD path` then `GET path` on one connection and returns the raw bytes of both answers. */
async function headThenGet(port: string, path: string): Promise<string> {
  const s = connect(Number(port), '127.0.0.1');
  let answer = '';
  s.on('data', (d: Buffer) => (answer += d.toString()));
  const closed = once(s, 'close');
  await once(s, 'connect');
  s.write(
    `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  await closed;
  return answer;
}

describe('HEAD on the GET routes (uptime monitors, load balancers)', () => {
  it("createNodeHandler: the GET answer's status and headers, no body; the connection stays usable", async () => {
    const { llm, metrics, log, onRequest } = await setup();
    const served = await serveHttp(llm, { metrics, onRequest });
    const port = new URL(served.url).port;
    for (const path of GET_ROUTES) {
      const raw = await headThenGet(port, path);
      const [headHead, rest] = raw.split('\r\n\r\n', 2) as [string, string];
      expect(headHead, path).toMatch(/^HTTP\/1\.1 200 /);
      // No body: the next bytes are the GET's answer, whose body is as long as the HEAD said.
      expect(rest, path).toMatch(/^HTTP\/1\.1 200 /);
      const length = /\r\ncontent-length: (\d+)/i.exec(headHead)?.[1];
      const getBody = raw.slice(raw.indexOf('\r\n\r\n', headHead.length + 4) + 4);
      expect(Number(length), path).toBe(Buffer.byteLength(getBody));
      expect(/\r\ncontent-type: ([^\r]+)/i.exec(headHead)?.[1], path).toBe(
        path === '/metrics' ? metrics.contentType : 'application/json',
      );
    }
    expect(log.filter((e) => e.method === 'HEAD').map((e) => e.status)).toEqual(GET_ROUTES.map(() => 200));
  });

  it("createFetchHandler: the GET answer's status and headers with a null body", async () => {
    const { llm, metrics } = await setup();
    const handle = createFetchHandler(llm, { metrics });
    for (const path of GET_ROUTES) {
      const get = await handle(new Request(`http://localhost${path}`));
      const head = await handle(new Request(`http://localhost${path}`, { method: 'HEAD' }));
      expect(head.status, path).toBe(200);
      expect(head.body, path).toBeNull();
      expect(head.headers.get('content-type'), path).toBe(get.headers.get('content-type'));
      expect((await get.text()).length, path).toBeGreaterThan(0);
    }
    // A 404 or 405 to a HEAD has no body either.
    const missing = await handle(new Request('http://localhost/v1/nothing', { method: 'HEAD' }));
    expect(missing.status).toBe(404);
    expect(missing.body).toBeNull();
  });

  it('405 on a GET route names both methods in Allow; HEAD on a POST route is 405 with Allow: POST', async () => {
    const { llm, metrics } = await setup();
    const served = await serveHttp(llm, { metrics });
    for (const path of GET_ROUTES) {
      const res = await fetch(`${served.url}${path}`, { method: 'DELETE' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).toBe('GET, HEAD');
    }
    const head = await fetch(`${served.url}/v1/chat/completions`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('POST');
    const options = await fetch(`${served.url}/v1/models`, { method: 'OPTIONS' });
    expect(options.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
  });
});
