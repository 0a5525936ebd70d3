import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { openaiCodec } from '../../src/testing/index.js';
import { harness, KEY, track } from './client.js';

/**
 * An OpenAI-compatible upstream that never finishes: it hangs before answering, or streams `chunks` content
 * pieces and then goes silent. It records when the client closes a connection, which the shared mock cannot.
 */
export interface HangingUpstream {
  readonly url: string;
  /** Requests received so far. */
  readonly received: number;
  /** Requests whose connection the client closed before the answer was complete. */
  readonly closedByClient: number;
  /** Connections open now (an idle keep-alive one included). */
  readonly open: number;
  close(): Promise<void>;
}

/**
 * Starts an upstream on 127.0.0.1 that `closeAll` will close: `answer` gets each request's body once it is in and
 * answers (or not) on `res`. Counts requests, and connections the client closed before an answer was complete.
 */
export async function rawUpstream(
  answer: (body: string, res: ServerResponse) => void,
): Promise<HangingUpstream> {
  let received = 0;
  let closedByClient = 0;
  let closing = false;
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    res.on('close', () => {
      if (!closing && !res.writableEnded) closedByClient++;
    });
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received++;
      answer(Buffer.concat(parts).toString('utf8'), res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return track({
    url: `http://127.0.0.1:${port}/v1`,
    get received() {
      return received;
    },
    get closedByClient() {
      return closedByClient;
    },
    get open() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** Starts a hanging upstream (`chunks` undefined: no answer at all) that `closeAll` will close. */
export function hangingUpstream(opts: { chunks?: number } = {}): Promise<HangingUpstream> {
  const { chunks } = opts;
  return rawUpstream((text, res) => {
    if (chunks === undefined) return;
    const body = JSON.parse(text) as { model: string };
    const pieces = Array.from({ length: chunks }, (_, i) => `p${i}`).join('');
    const frames = openaiCodec.stream({ reply: pieces, chunks }, body.model);
    res.writeHead(200, { 'content-type': frames.contentType });
    res.write([...frames.prelude, ...frames.content].join(''));
  });
}

/** A client whose one provider (`a`, of `type`) answers every request 200 with `body` as `contentType`. */
export async function answeringWith(
  type: 'openai' | 'anthropic' | 'google' | 'ollama',
  body: string,
  contentType: string,
) {
  const raw = await rawUpstream(
    (_, res) => void res.writeHead(200, { 'content-type': contentType }).end(body),
  );
  const baseUrl = type === 'ollama' ? raw.url.replace(/\/v1$/, '') : raw.url;
  const h = await harness({ upstreams: {}, providers: { a: { type, baseUrl, apiKey: KEY } } });
  return h.llm;
}
