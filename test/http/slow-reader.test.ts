import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createNodeHandler, type RequestLogEntry } from '../../src/http/index.js';
import { closeAll, harness, KEY, track, waitFor } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

afterEach(closeAll);

it('a client that stops reading a stream: after timeouts.idleMs without progress the upstream is released and the request logged once', async () => {
  // An upstream streaming a long answer in big frames, as fast as its socket takes them.
  let waitingSince: number | undefined;
  const raw = await rawUpstream((_, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const piece = 'x'.repeat(64 * 1024);
    const frame = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`;
    const pump = () => {
      while (!res.destroyed) {
        if (!res.write(frame)) {
          waitingSince = Date.now();
          res.once('drain', () => {
            waitingSince = undefined;
            pump();
          });
          return;
        }
      }
    };
    pump();
  });
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m'] },
  });
  const log: RequestLogEntry[] = [];
  const server = createServer(createNodeHandler(h.llm, { onRequest: (e) => log.push(e) }));
  // True while the handler's writer waits for the client to drain (a write returned false): it then reads nothing
  // from the stream, whose idle timer counts only a pending read.
  let writerBlocked = false;
  server.on('request', (_req, res) => {
    const write = res.write.bind(res);
    res.write = ((chunk: string) => {
      const ok = write(chunk);
      if (!ok) {
        writerBlocked = true;
        res.once('drain', () => {
          writerBlocked = false;
        });
      }
      return ok;
    }) as typeof res.write;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });

  const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  track({ close: async () => void socket.destroy() });
  socket.on('error', () => {});
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Reads the first bytes (the stream committed), then never again: the windows fill up to the upstream.
  await new Promise((resolve) => socket.once('data', resolve));
  socket.pause();
  await waitFor(
    () => waitingSince !== undefined && Date.now() - waitingSince > 300,
    'upstream backed up',
    10_000,
  );
  // No progress on the client's clock: past idleMs the connection is cut and the upstream released. The clock moves
  // only while the writer waits for the client: moved while a read of the stream was pending (the pipe still
  // flowing under load), it would expire the stream's own idle timer, which a real clock reaches only when the
  // upstream is silent for idleMs.
  const until = Date.now() + 3000;
  while (raw.closedByClient === 0 && Date.now() < until) {
    if (writerBlocked) h.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(raw.closedByClient).toBe(1);
  await waitFor(() => log.length === 1, 'log line', 1000);
  expect(log).toEqual([expect.objectContaining({ status: 200, stream: true, error: 'client_closed' })]);
});

it('a slow client that does drain is not cut: each wait for it gets its own timeouts.idleMs', async () => {
  // A long answer, as fast as the upstream's socket takes it, then its end.
  const raw = await rawUpstream(async (_, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const piece = 'x'.repeat(64 * 1024);
    const frame = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`;
    for (let i = 0; i < 300 && !res.destroyed; i++) if (!res.write(frame)) await once(res, 'drain');
    res.end('data: [DONE]\n\n');
  });
  const IDLE = 1000;
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m'] },
    options: { timeouts: { idleMs: IDLE } },
  });
  const server = createServer(createNodeHandler(h.llm));
  // Whether the handler's writer waits for the client, and how often the client drained it.
  let writerBlocked = false;
  let drains = 0;
  server.on('request', (_req, res) => {
    const write = res.write.bind(res);
    res.write = ((chunk: string) => {
      const ok = write(chunk);
      if (!ok) {
        writerBlocked = true;
        res.once('drain', () => {
          writerBlocked = false;
          drains++;
        });
      }
      return ok;
    }) as typeof res.write;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });

  const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  track({ close: async () => void socket.destroy() });
  socket.on('error', () => {});
  let tail = '';
  let ended = false;
  let closed = false;
  socket.on('data', (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-100);
    if (tail.includes('data: [DONE]')) ended = true;
  });
  socket.on('close', () => void (closed = true));
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await new Promise((resolve) => socket.once('data', resolve));
  socket.pause();
  await waitFor(() => writerBlocked, 'the writer waiting for the client', 10_000);
  // The client is slow: almost idleMs pass before it reads again (the clock moves only while nothing is read
  // from the stream, as in the test above)...
  h.clock.advance(IDLE - 1);
  const before = drains;
  socket.resume();
  await waitFor(() => drains > before, 'the client drained the writer', 10_000);
  // ... and once it has drained, the first wait's idleMs has no say: this passes it, not any later wait's.
  h.clock.advance(2);
  await waitFor(() => ended || closed, 'the end of the answer', 10_000);
  expect({ ended, closed }).toEqual({ ended: true, closed: false });
  expect(raw.closedByClient).toBe(0);
});

it('a client that stops reading is cut after exactly timeouts.idleMs on the client clock, not totalMs', async () => {
  let backedUp = false;
  const raw = await rawUpstream(async (_, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const frame = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'x'.repeat(64 * 1024) }, finish_reason: null }] })}\n\n`;
    while (!res.destroyed) {
      if (res.write(frame)) continue;
      backedUp = true;
      await once(res, 'drain').catch(() => undefined);
      backedUp = false;
    }
  });
  const IDLE = 1000;
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    aliases: { 'mana/x': ['a/m'] },
    options: { timeouts: { idleMs: IDLE, totalMs: 600_000 } },
  });
  const server = createServer(createNodeHandler(h.llm));
  let writerBlocked = false;
  server.on('request', (_req, res) => {
    const write = res.write.bind(res);
    res.write = ((chunk: string) => {
      const ok = write(chunk);
      if (!ok) {
        writerBlocked = true;
        res.once('drain', () => {
          writerBlocked = false;
        });
      }
      return ok;
    }) as typeof res.write;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  track({ close: async () => void socket.destroy() });
  socket.on('error', () => {});
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await new Promise((resolve) => socket.once('data', resolve));
  socket.pause();
  // Every window full up to the upstream: the writer waits for the client and reads nothing from the stream.
  await waitFor(() => writerBlocked && backedUp, 'the writer and the upstream waiting', 10_000);
  // The client never drains: idleMs on the clock cut it (the other test shows idleMs - 1 does not).
  h.clock.advance(IDLE);
  await waitFor(() => raw.closedByClient === 1, 'the upstream released', 5000);
});
