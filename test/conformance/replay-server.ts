import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Transcript } from './corpus.js';

/** How a body is written: all at once, one write per SSE event / NDJSON line, or in small pieces. */
export type Way = 'whole' | 'events' | 'pieces';

export const WAYS: readonly Way[] = ['whole', 'events', 'pieces'];

/** What the server answers next: a transcript, the way it is cut, and whether the body stays open after it. */
export interface Reply {
  transcript: Transcript;
  way: Way;
  /** Keep the response open after the last byte (as a proxy that never closes would). */
  holdOpen?: boolean;
  /** Explicit write boundaries (ascending byte offsets, the last one the body's length), overriding `way`. */
  cuts?: readonly number[];
}

/** One request the server received. */
export interface Hit {
  method: string;
  url: string;
}

/** A local upstream that replays one transcript per request, at the path the real provider serves. */
export interface ReplayServer {
  /** `http://127.0.0.1:<port>`, without a path. */
  readonly origin: string;
  /** Sets what the next request gets; answered only at `path` (anything else: 404). */
  serve(reply: Reply, path: string): void;
  /** Requests received since the last `serve`. */
  readonly hits: readonly Hit[];
  close(): Promise<void>;
}

/** Offsets where an SSE body's events end (after each blank line), or an NDJSON body's lines. */
function eventEnds(body: Buffer, sse: boolean): number[] {
  const text = body.toString('latin1'); // one char per byte: offsets are byte offsets
  const ends: number[] = [];
  const re = sse ? /\r\n\r\n|\n\n|\r\r/g : /\n/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) ends.push(m.index + m[0].length);
  if (ends.at(-1) !== body.length) ends.push(body.length);
  return ends;
}

/**
 * Offsets of small pieces (1-7 bytes, from a fixed seed) that also cut inside every CRLF, every blank line and every
 * multi-byte UTF-8 character. Past the first KiB, runs without such a place are sent in larger pieces to stay fast.
 */
function pieceEnds(body: Buffer): number[] {
  const forced = new Set<number>();
  for (let i = 1; i < body.length; i++) {
    const b = body[i] as number;
    const prev = body[i - 1] as number;
    // inside a CRLF or a blank line, and after the first byte of a multi-byte character
    if ((prev === 0x0d && b === 0x0a) || (prev === 0x0a && b === 0x0a)) forced.add(i);
    if (prev >= 0xc0 && (b & 0xc0) === 0x80) forced.add(i);
  }
  let seed = body.length || 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const ends: number[] = [];
  let at = 0;
  while (at < body.length) {
    const step = at > 1024 ? 64 + (rand() % 448) : 1 + (rand() % 7);
    let next = Math.min(at + step, body.length);
    for (let i = at + 1; i < next; i++)
      if (forced.has(i)) {
        next = i;
        break;
      }
    ends.push(next);
    at = next;
  }
  return ends;
}

/** Where the body is cut for a way. */
export function cutsOf(t: Transcript, way: Way): number[] {
  if (way === 'whole') return [t.body.length];
  if (way === 'events') {
    if (t.call !== 'stream') return [t.body.length];
    return eventEnds(t.body, !t.contentType.includes('ndjson') && t.protocol !== 'ollama');
  }
  return pieceEnds(t.body);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function write(res: ServerResponse, reply: Reply): Promise<void> {
  const { transcript: t, way } = reply;
  const headers: Record<string, string> = { 'content-type': t.contentType, ...t.headers };
  res.writeHead(t.status, headers);
  let from = 0;
  const ends = reply.cuts ?? cutsOf(t, way);
  for (const end of ends) {
    if (res.destroyed) return;
    res.write(t.body.subarray(from, end));
    from = end;
    // A turn of the event loop between writes: the client reads each piece on its own.
    if (ends.length > 1) await tick();
  }
  if (!reply.holdOpen) res.end();
}

/** Starts a replay server on 127.0.0.1:0. */
export async function startReplayServer(): Promise<ReplayServer> {
  let current: { reply: Reply; path: string } | undefined;
  const hits: Hit[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '' });
      if (!current || req.method !== 'POST' || req.url !== current.path) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      void write(res, current.reply).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get hits() {
      return hits;
    },
    serve(reply, path) {
      current = { reply, path };
      hits.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
