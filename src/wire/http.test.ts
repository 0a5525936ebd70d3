import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../options.js';
import { CancelToken } from './cancel.js';
import { bodyArrived, createHttp, type Http, type HttpBody, type HttpRequest } from './http.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The server saw the request end early: the client cancelled it or dropped the socket. */
  aborted: boolean;
  /** The response has closed, for whatever reason. */
  closed: boolean;
}

interface Served {
  origin: string;
  server: Server;
  /** TCP connections the server accepted. */
  connections: number;
  /** Server-side sockets that are still open. */
  open: Set<Socket>;
  /** Requests the server received, in order. */
  seen: Exchange[];
}

const servers: Served[] = [];
const clients: Http[] = [];

/** A real `node:http` server on a free loopback port, closed after each test. */
async function serve(handler: Handler): Promise<Served> {
  const server = createServer();
  const served: Served = { origin: '', server, connections: 0, open: new Set(), seen: [] };
  server.on('connection', (socket: Socket) => {
    served.connections++;
    served.open.add(socket);
    socket.on('close', () => served.open.delete(socket));
  });
  server.on('request', (req, res) => {
    const ex: Exchange = { req, res, aborted: false, closed: false };
    res.on('close', () => {
      ex.closed = true;
      ex.aborted = !res.writableFinished;
    });
    res.on('error', () => {}); // writes after the client has gone are expected here
    served.seen.push(ex);
    void handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  served.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(served);
  return served;
}

function client(): Http {
  const http = createHttp({ connectMs: 1000, limits: DEFAULT_LIMITS });
  clients.push(http);
  return http;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.server.closeAllConnections();
          s.server.close(() => resolve());
        }),
    ),
  );
});

function get(origin: string, signal: HttpRequest['signal'] = new CancelToken(), path = '/'): HttpRequest {
  return { origin, path, method: 'GET', headers: {}, signal };
}

/** Polls until `cond` holds, failing after `ms`. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(2);
  }
}

/** Fails if `p` does not settle within `ms`, so a hang fails fast instead of at the test timeout. */
function within<T>(p: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Resolves when the response can take more, or has closed (so a writer loop never hangs). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/** Writes `bytes` in `piece`-sized writes, honouring the socket's backpressure. */
async function pump(res: ServerResponse, bytes: Buffer, piece = 1024): Promise<void> {
  for (let at = 0; at < bytes.length && !res.destroyed; at += piece) {
    if (!res.write(bytes.subarray(at, at + piece))) await drained(res);
  }
}

/** A CancelToken that counts the abort listeners it holds, so a leak shows. */
class CountingToken extends CancelToken {
  readonly live = new Set<() => void>();
  override on(event: 'abort', fn: () => void): this {
    if (!this.aborted) this.live.add(fn);
    return super.on(event, fn);
  }
  override removeListener(event: 'abort', fn: () => void): this {
    this.live.delete(fn);
    return super.removeListener(event, fn);
  }
  override abort(reason?: unknown): void {
    this.live.clear();
    super.abort(reason);
  }
}

/** The undici or system error code on `err` or its cause. */
function codeOf(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
}

/** `n` distinct ASCII lines, so a lost or reordered piece shows in a text comparison. */
const numbered = (n: number): string =>
  Array.from({ length: n }, (_, i) => `${i.toString(36).padStart(4, '0')}-line\n`).join('');

const SOCKET_CODES = ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'];

describe('createHttp', () => {
  it('reports status and lower-cased headers; a repeated header becomes an array', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('X-Upper', 'Value');
      res.setHeader('x-dup', ['a', 'b']);
      res.setHeader('set-cookie', ['s=1', 't=2']);
      res.writeHead(201).end('ok');
    });
    const res = await client().send(get(s.origin));
    expect(res.status).toBe(201);
    expect(res.headers['x-upper']).toBe('Value');
    expect(res.headers['X-Upper']).toBeUndefined();
    expect(res.headers['x-dup']).toEqual(['a', 'b']);
    expect(res.headers['set-cookie']).toEqual(['s=1', 't=2']);
    expect(await res.body.text()).toBe('ok');
  });

  it('survives headers named constructor and __proto__ without touching Object.prototype', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('constructor', 'c');
      res.setHeader('__proto__', '{"polluted":"yes"}');
      res.end('ok');
    });
    const res = await client().send(get(s.origin));
    expect(res.status).toBe(200);
    expect(res.headers.constructor).toBe('c');
    expect(Object.getPrototypeOf(res.headers)).toBe(Object.prototype);
    expect((res.headers as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(await res.body.text()).toBe('ok');
  });

  it('sends the method, headers and body of a POST', async () => {
    const s = await serve(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      res.end(JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization, body }));
    });
    const res = await client().send({
      origin: s.origin,
      path: '/v1/chat?x=1',
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{"é":1}',
      signal: new CancelToken(),
    });
    expect(JSON.parse(await res.body.text())).toEqual({
      method: 'POST',
      url: '/v1/chat?x=1',
      auth: 'Bearer k',
      body: '{"é":1}',
    });
  });

  it('text() joins a multi-chunk body, multi-byte characters split across writes, and drops a BOM', async () => {
    const bytes = Buffer.from('\uFEFFhé€😀 – done', 'utf8');
    const s = await serve(async (_req, res) => {
      // One byte per write, each flushed apart: every character of more than one byte arrives in pieces.
      for (const byte of bytes) {
        res.write(Buffer.of(byte));
        await sleep(1);
      }
      res.end();
    });
    const res = await client().send(get(s.origin));
    expect(await res.body.text()).toBe('hé€😀 – done');
  });

  it('keeps a BOM that is not at the start', async () => {
    const s = await serve((_req, res) => res.end('a\uFEFFb'));
    const res = await client().send(get(s.origin));
    expect(await res.body.text()).toBe('a\uFEFFb');
  });

  it('skips an informational 103 answer and reports the final one', async () => {
    const s = await serve((_req, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.setHeader('x-final', '1');
      res.end('ok');
    });
    const res = await client().send(get(s.origin));
    expect(res.status).toBe(200);
    expect(res.headers['x-final']).toBe('1');
    expect(res.headers.link).toBeUndefined();
    expect(await res.body.text()).toBe('ok');
  });

  it('reads an empty body as an empty string and ends iteration at once', async () => {
    const s = await serve((req, res) => res.writeHead(req.url === '/204' ? 204 : 200).end());
    const http = client();
    const empty = await http.send(get(s.origin, new CancelToken(), '/204'));
    expect(empty.status).toBe(204);
    expect(await empty.body.text()).toBe('');
    const res = await http.send(get(s.origin));
    const chunks: Uint8Array[] = [];
    for await (const c of res.body) chunks.push(c);
    expect(chunks).toEqual([]);
    expect(bodyArrived(res.body)).toBe(true);
  });

  it('yields every byte in order to a slow consumer of a large body', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    let done = false;
    const s = await serve(async (_req, res) => {
      await pump(res, bytes);
      res.end(() => (done = true));
    });
    const res = await client().send(get(s.origin));
    const parts: Buffer[] = [];
    let n = 0;
    const consume = async () => {
      for await (const chunk of res.body) {
        parts.push(Buffer.from(chunk));
        // Stall now and then, long enough for the reader to run 64 kB ahead and pause the socket.
        if (++n % 256 === 1) await sleep(20);
      }
    };
    await within(consume());
    const got = Buffer.concat(parts);
    expect(got.length).toBe(bytes.length);
    expect(got.equals(bytes)).toBe(true);
    expect(n).toBeGreaterThan(1);
    expect(bodyArrived(res.body)).toBe(true);
    await until(() => done);
  });

  it('pauses the socket while the consumer does not read, then resumes to the end', async () => {
    // Far more than loopback socket buffers hold: a reader that never paused would take all of it at once.
    const total = 32 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    const s = await serve(async (_req, res) => {
      while (written < total && !res.destroyed) {
        written += piece.length;
        if (!res.write(piece)) await drained(res);
      }
      res.end();
    });
    const res = await client().send(get(s.origin));
    // Waits (bounded) until the writer has stood still for 50 ms: paused by the reader, or done writing. A fixed
    // wait flaked under load, when the first 150 ms were not enough for the buffers to fill up.
    const end = Date.now() + 5000;
    for (let seen = -1; seen !== written; ) {
      if (Date.now() > end) throw new Error('the writer never stood still');
      seen = written;
      await sleep(50);
    }
    // A reader that never paused would have taken it all by then.
    expect(written).toBeLessThan(total);
    let read = 0;
    const consume = async () => {
      for await (const chunk of res.body) read += chunk.length;
    };
    await within(consume());
    expect(read).toBe(total);
  });

  it('text() of a body whose socket is paused resumes it and reads to the end', async () => {
    const body = numbered(65536);
    const s = await serve(async (_req, res) => {
      await pump(res, Buffer.from(body), 16 * 1024);
      res.end();
    });
    const res = await client().send(get(s.origin));
    await sleep(50); // nobody reads: the reader runs 64 kB ahead and pauses
    expect(await within(res.body.text())).toBe(body);
  });

  it('destroy() drops what was queued: the next read rejects', async () => {
    const s = await serve(async (_req, res) => {
      res.write('first');
      await sleep(20);
      res.write('queued');
    });
    const res = await client().send(get(s.origin));
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    await sleep(60); // 'queued' has arrived and waits in the body
    res.body.destroy();
    await expect(within(it.next())).rejects.toMatchObject({ code: 'UND_ERR_ABORTED' });
  });

  it('destroy() mid-body cancels the request: a pending read rejects and the server sees the close', async () => {
    const s = await serve((_req, res) => {
      res.write('first');
    });
    const res = await client().send(get(s.origin));
    const it = res.body[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('first');
    const pending = it.next();
    res.body.destroy();
    await expect(within(pending)).rejects.toMatchObject({ code: 'UND_ERR_ABORTED' });
    await expect(it.next()).rejects.toMatchObject({ code: 'UND_ERR_ABORTED' });
    const ex = s.seen[0] as Exchange;
    await until(() => ex.closed);
    expect(ex.aborted).toBe(true);
    expect(bodyArrived(res.body)).toBe(false);
  });

  it('destroy(err) rejects a pending read with that error; a second destroy is a no-op', async () => {
    const s = await serve((_req, res) => {
      res.write('first');
    });
    const res = await client().send(get(s.origin));
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    const pending = it.next();
    const reason = new Error('enough');
    res.body.destroy(reason);
    res.body.destroy(new Error('again'));
    await expect(within(pending)).rejects.toBe(reason);
    await until(() => (s.seen[0] as Exchange).closed);
  });

  it('breaking out of for await cancels the request', async () => {
    const s = await serve((_req, res) => {
      res.write('first');
    });
    const res = await client().send(get(s.origin));
    for await (const _ of res.body) break;
    const ex = s.seen[0] as Exchange;
    await until(() => ex.closed);
    expect(ex.aborted).toBe(true);
  });

  it('dump() of a small unfinished body waits for its end and keeps the connection for the next request', async () => {
    let ended = false;
    const s = await serve(async (req, res) => {
      if (req.url === '/next') return void res.end('again');
      res.write('a');
      await sleep(30);
      res.write('b');
      await sleep(10);
      ended = true;
      res.end('c');
    });
    const http = client();
    const res = await http.send(get(s.origin));
    await within(res.body.dump());
    expect(ended).toBe(true);
    expect(bodyArrived(res.body)).toBe(true);
    // undici frees the connection for the pool a tick after the end (its own request() behaves the same).
    await new Promise(setImmediate);
    const next = await http.send(get(s.origin, new CancelToken(), '/next'));
    expect(await next.body.text()).toBe('again');
    expect(s.connections).toBe(1);
    const [first, second] = s.seen as [Exchange, Exchange];
    expect(first.aborted).toBe(false);
    expect(second.req.socket).toBe(first.req.socket);
  });

  it('dump() of a paused body under 128 kB reads it to the end and keeps the connection', async () => {
    const s = await serve(async (req, res) => {
      if (req.url === '/next') return void res.end('again');
      await pump(res, Buffer.alloc(100 * 1024, 2), 16 * 1024);
      res.end();
    });
    const http = client();
    const res = await http.send(get(s.origin));
    await sleep(50); // nobody reads: the reader runs 64 kB ahead and pauses
    await within(res.body.dump());
    expect(bodyArrived(res.body)).toBe(true);
    await new Promise(setImmediate);
    expect(await (await http.send(get(s.origin, new CancelToken(), '/next'))).body.text()).toBe('again');
    expect(s.connections).toBe(1);
    expect((s.seen[0] as Exchange).aborted).toBe(false);
  });

  it('dump() of a body past 128 kB resolves by closing the connection instead', async () => {
    const s = await serve(async (req, res) => {
      if (req.url === '/next') return void res.end('again');
      // 256 kB and then nothing: only a cancel can end this body.
      await pump(res, Buffer.alloc(256 * 1024, 1), 16 * 1024);
    });
    const http = client();
    const res = await http.send(get(s.origin));
    await within(res.body.dump());
    const first = s.seen[0] as Exchange;
    await until(() => first.closed);
    expect(first.aborted).toBe(true);
    expect(first.req.socket.destroyed).toBe(true);
    const next = await http.send(get(s.origin, new CancelToken(), '/next'));
    expect(await next.body.text()).toBe('again');
    expect((s.seen[1] as Exchange).req.socket).not.toBe(first.req.socket);
  });

  it('dump() and destroy() of a body already read are no-ops', async () => {
    const s = await serve((_req, res) => res.end('done'));
    const res = await client().send(get(s.origin));
    expect(await res.body.text()).toBe('done');
    await within(res.body.dump());
    res.body.destroy(); // a no-op once the body has ended
    expect(bodyArrived(res.body)).toBe(true);
  });
});

describe('createHttp cancellation', () => {
  it('a token aborted before send rejects with its reason without contacting the server', async () => {
    const s = await serve((_req, res) => res.end('no'));
    const token = new CountingToken();
    const reason = new Error('too late');
    token.abort(reason);
    await expect(client().send(get(s.origin, token))).rejects.toBe(reason);
    await sleep(20);
    expect(s.connections).toBe(0);
  });

  it('a token aborted right after send rejects with its reason before the request is written', async () => {
    const s = await serve((_req, res) => res.end('no'));
    const token = new CountingToken();
    const reason = new Error('changed my mind');
    const sent = client().send(get(s.origin, token));
    token.abort(reason);
    await expect(within(sent)).rejects.toBe(reason);
    await sleep(20);
    expect(s.seen).toHaveLength(0);
  });

  for (const kind of ['CancelToken', 'AbortController'] as const) {
    /** A signal of each kind, with a count of the abort listeners it holds. */
    const make = () => {
      if (kind === 'CancelToken') {
        const token = new CountingToken();
        return { signal: token, abort: (r: Error) => token.abort(r), listeners: () => token.live.size };
      }
      const ctl = new AbortController();
      return {
        signal: ctl.signal,
        abort: (r: Error) => ctl.abort(r),
        listeners: () => getEventListeners(ctl.signal, 'abort').length,
      };
    };

    it(`${kind}: aborting while waiting for headers rejects with the reason and drops the request`, async () => {
      const s = await serve(() => {}); // never answers
      const sig = make();
      const sent = client().send(get(s.origin, sig.signal));
      await until(() => s.seen.length === 1);
      expect(sig.listeners()).toBe(1);
      const reason = new Error('deadline');
      sig.abort(reason);
      await expect(within(sent)).rejects.toBe(reason);
      const ex = s.seen[0] as Exchange;
      await until(() => ex.closed);
      expect(ex.aborted).toBe(true);
      expect(sig.listeners()).toBe(0);
    });

    it(`${kind}: aborting mid-body rejects the pending read with the reason`, async () => {
      const s = await serve((_req, res) => {
        res.write('first');
      });
      const sig = make();
      const res = await client().send(get(s.origin, sig.signal));
      const it = res.body[Symbol.asyncIterator]();
      expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('first');
      const pending = it.next();
      const reason = new Error('idle');
      sig.abort(reason);
      await expect(within(pending)).rejects.toBe(reason);
      await expect(res.body.text()).rejects.toBe(reason);
      const ex = s.seen[0] as Exchange;
      await until(() => ex.closed);
      expect(ex.aborted).toBe(true);
      expect(sig.listeners()).toBe(0);
    });

    it(`${kind}: aborting mid-body drops what was queued: the next read rejects with the reason`, async () => {
      const s = await serve(async (_req, res) => {
        res.write('first');
        await sleep(20);
        res.write('queued');
      });
      const sig = make();
      const res = await client().send(get(s.origin, sig.signal));
      const it = res.body[Symbol.asyncIterator]();
      await it.next();
      await sleep(60); // 'queued' has arrived and waits in the body
      const reason = new Error('caller gave up');
      sig.abort(reason);
      await expect(within(it.next())).rejects.toBe(reason);
    });

    it(`${kind}: no abort listener is left once a body has been read, dumped or destroyed`, async () => {
      const s = await serve((req, res) => {
        if (req.url === '/open') res.write('x');
        else res.end('whole');
      });
      const http = client();
      const read = make();
      expect(await (await http.send(get(s.origin, read.signal))).body.text()).toBe('whole');
      const dumped = make();
      await within((await http.send(get(s.origin, dumped.signal))).body.dump());
      const cut = make();
      const open = await http.send(get(s.origin, cut.signal, '/open'));
      expect(cut.listeners()).toBe(1);
      open.body.destroy();
      expect([read.listeners(), dumped.listeners(), cut.listeners()]).toEqual([0, 0, 0]);
      // Aborting afterwards reaches nothing: no late rejection, no throw.
      read.abort(new Error('late'));
      cut.abort(new Error('late'));
    });
  }
});

describe('createHttp failures', () => {
  it('a socket reset mid-body yields the bytes already received, then rejects with a socket code', async () => {
    const s = await serve(async (_req, res) => {
      res.write('partial');
      await sleep(30);
      res.socket?.resetAndDestroy();
    });
    const http = client();
    const res = await http.send(get(s.origin));
    await sleep(60); // the bytes and the reset have both arrived before anything is read
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('partial');
    const err = await it.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(SOCKET_CODES).toContain(codeOf(err));

    const again = await http.send(get(s.origin));
    await expect(again.body.text()).rejects.toSatisfy((e) => SOCKET_CODES.includes(codeOf(e) ?? ''));
  });

  it('a socket closed before the headers rejects send() with a socket code', async () => {
    const s = await serve((req) => req.socket.destroy());
    const token = new CountingToken();
    const err = await client()
      .send(get(s.origin, token))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(SOCKET_CODES).toContain(codeOf(err));
    expect(token.live.size).toBe(0);
  });

  it('connection refused rejects with ECONNREFUSED', async () => {
    const s = await serve(() => {});
    const origin = s.origin;
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    servers.splice(servers.indexOf(s), 1);
    const token = new CountingToken();
    const err = await client()
      .send(get(origin, token))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(codeOf(err)).toBe('ECONNREFUSED');
    expect(token.live.size).toBe(0);
  });
});

describe('bodyArrived', () => {
  it('is false until the whole body has arrived and been read', async () => {
    const s = await serve(async (_req, res) => {
      res.write('ab');
      await sleep(30);
      res.end('cd');
    });
    const res = await client().send(get(s.origin));
    expect(bodyArrived(res.body)).toBe(false);
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    expect(bodyArrived(res.body)).toBe(false); // read so far, but not ended
    await sleep(60);
    expect(bodyArrived(res.body)).toBe(false); // ended, but 'cd' is unread
    expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('cd');
    expect(bodyArrived(res.body)).toBe(true);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('is true after text(), and false for a body that is not ours', async () => {
    const s = await serve((_req, res) => res.end('x'));
    const res = await client().send(get(s.origin));
    expect(bodyArrived(res.body)).toBe(false);
    await res.body.text();
    expect(bodyArrived(res.body)).toBe(true);
    const double = {
      async *[Symbol.asyncIterator]() {},
      text: async () => '',
      dump: async () => {},
      destroy: () => {},
    } satisfies HttpBody;
    expect(bodyArrived(double)).toBe(false);
  });
});

describe('close()', () => {
  const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

  it('rejects a read that is pending when the client closes', async () => {
    const s = await serve((_req, res) => {
      res.write('first');
    });
    const http = createHttp({ connectMs: 1000, limits: DEFAULT_LIMITS });
    const res = await http.send(get(s.origin));
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    const pending = it.next();
    await http.close();
    await expect(within(pending)).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' });
    await until(() => (s.seen[0] as Exchange).closed);
  });

  it('leaves no socket behind, and later sends reject', async () => {
    const s = await serve((_req, res) => res.end('ok'));
    const before = sockets();
    const http = createHttp({ connectMs: 1000, limits: DEFAULT_LIMITS });
    expect(await (await http.send(get(s.origin))).body.text()).toBe('ok');
    expect(sockets()).toBeGreaterThan(before); // the kept-alive connection, both ends
    await http.close();
    await until(() => sockets() <= before, 1000);
    expect(sockets()).toBe(before);
    await http.close(); // twice is fine
    await expect(http.send(get(s.origin))).rejects.toThrow();
    expect(s.connections).toBe(1);
  });
});

describe('createHttp text() at its cap', () => {
  const max = 1000;
  const capped = (): Http => {
    const http = createHttp({
      connectMs: 1000,
      limits: { ...DEFAULT_LIMITS, maxEmbeddingResponseBytes: max },
    });
    clients.push(http);
    return http;
  };
  // Announced by Content-Length, all queued before text() is called, or arriving while text() waits.
  for (const how of ['announced', 'queued', 'arriving'] as const) {
    for (const size of [max, max + 1]) {
      it(`${how}: a body of ${size === max ? 'exactly the cap is read' : 'one byte past the cap is refused'}`, async () => {
        const body = Buffer.alloc(size, 'x');
        let go: () => void = () => undefined;
        const later = new Promise<void>((resolve) => {
          go = resolve;
        });
        const s = await serve(async (_req, res) => {
          if (how === 'announced') return void res.writeHead(200, { 'content-length': size }).end(body);
          res.writeHead(200);
          res.write(body.subarray(0, 500));
          if (how === 'arriving') await later;
          res.end(body.subarray(500));
        });
        const res = await capped().send(get(s.origin));
        if (how === 'queued')
          await until(() => (s.seen[0] as Exchange).res.writableFinished).then(() => sleep(20));
        const text = res.body.text('maxEmbeddingResponseBytes');
        go();
        if (size === max) expect(await within(text)).toBe(body.toString());
        else
          await expect(within(text)).rejects.toMatchObject({
            name: 'WireLimitError',
            limit: max,
            option: 'maxEmbeddingResponseBytes',
          });
      });
    }
  }
});

describe('createHttp dump() of a paused body', () => {
  it('dump() counts what was queued while paused: a body past 128 kB in all closes the connection', async () => {
    const s = await serve(async (req, res) => {
      if (req.url === '/next') return void res.end('again');
      // 160 kB and then nothing: 64 kB or more wait in the paused reader, under 128 kB come after the dump.
      await pump(res, Buffer.alloc(160 * 1024, 1), 16 * 1024);
    });
    const http = client();
    const res = await http.send(get(s.origin));
    await sleep(50); // nobody reads: the reader runs 64 kB ahead and pauses
    await within(res.body.dump());
    const first = s.seen[0] as Exchange;
    await until(() => first.closed);
    expect(first.aborted).toBe(true);
  });
});
