import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createNodeHandler, type RequestLogEntry } from '../../src/http/index.js';
import { openaiCodec } from '../../src/testing/index.js';
import { closeAll, harness, KEY, track, waitFor } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

afterEach(closeAll);

it('a connection gone when the stream commits: the upstream is closed at once and the request is logged', async () => {
  const raw = await rawUpstream((_, res) => {
    const frames = openaiCodec.stream({ reply: 'abc', chunks: 3 }, 'm');
    res.writeHead(200, { 'content-type': frames.contentType });
    res.write([...frames.prelude, ...frames.content.slice(0, 1)].join('')); // then silent
  });
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m'] },
  });
  const log: RequestLogEntry[] = [];
  const handler = createNodeHandler(h.llm, { onRequest: (e) => log.push(e) });
  let current: ServerResponse | undefined;
  const server = createServer((req, res) => {
    current = res;
    handler(req, res);
  });
  // The connection goes in the very turn the stream commits (`resolved` is emitted there), before the answer is written.
  h.llm.on('resolved', () => current?.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const client = httpRequest(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    },
  );
  client.on('error', () => {});
  client.end(JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
  await waitFor(() => raw.closedByClient === 1, 'upstream closed', 1000);
  await waitFor(() => log.length === 1, 'log line', 1000);
  expect(log[0]).toMatchObject({ status: 200, stream: true, error: 'client_closed' });
});
