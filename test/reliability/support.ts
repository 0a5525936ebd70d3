import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type ChatChunk,
  createManaLLM,
  type ManaLLM,
  type ManaLLMOptions,
  type ProviderOptions,
} from '../../src/index.js';
import {
  anthropicCodec,
  createFakeClock,
  type FakeClock,
  googleCodec,
  type MockCodec,
  type MockProtocol,
  type MockUpstream,
  ollamaCodec,
  openaiCodec,
  startMockUpstream,
} from '../../src/testing/index.js';
import { EVENT_NAMES, type EventLog, recordEvents } from '../helpers/client.js';

export { EVENT_NAMES, type EventLog, recordEvents };

/** The four wire protocols, each with a model name its upstream knows. */
export const PROTOCOLS: readonly { protocol: MockProtocol; model: string; embeddings: boolean }[] = [
  { protocol: 'openai', model: 'gpt-4o-mini', embeddings: true },
  { protocol: 'ollama', model: 'llama3.1:8b', embeddings: true },
  { protocol: 'google', model: 'gemini-2.0-flash', embeddings: true },
  { protocol: 'anthropic', model: 'claude-sonnet-4-5', embeddings: false },
];

export const CODECS: Record<MockProtocol, MockCodec> = {
  openai: openaiCodec,
  ollama: ollamaCodec,
  google: googleCodec,
  anthropic: anthropicCodec,
};

const open: { close(): Promise<void> }[] = [];

/** Registers something `closeAll` closes (clients first: they were registered last). */
export function track<T extends { close(): Promise<void> }>(o: T): T {
  open.push(o);
  return o;
}

/** Closes every client and server the test created, newest first. */
export async function closeAll(): Promise<void> {
  for (const o of open.splice(0).reverse()) await o.close();
}

/** Starts a tracked mock upstream. */
export async function mock(protocol: MockProtocol): Promise<MockUpstream> {
  return track(await startMockUpstream(protocol));
}

/** A base URL nothing listens on: connection refused. */
export async function refusedUrl(protocol: MockProtocol): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${CODECS[protocol].basePath}`;
}

/** A base URL whose host can never resolve (RFC 2606 `.invalid`): DNS failure without any network. */
export function unresolvableUrl(protocol: MockProtocol): string {
  return `http://mana-llm-fault.invalid${CODECS[protocol].basePath}`;
}

export const TYPE: Record<MockProtocol, NonNullable<ProviderOptions['type']>> = {
  openai: 'openai',
  ollama: 'ollama',
  google: 'google',
  anthropic: 'anthropic',
};

/** A tracked client on a fake clock (or the system clock), probes off unless the options say otherwise. */
export function client(
  providers: Record<string, ProviderOptions>,
  aliases: Record<string, readonly string[]>,
  options: Partial<ManaLLMOptions> & { systemClock?: boolean } = {},
): { llm: ManaLLM; clock: FakeClock; events: EventLog } {
  const clock = createFakeClock();
  const body: Record<string, { chain: readonly string[] }> = {};
  for (const [name, chain] of Object.entries(aliases)) body[name] = { chain };
  const { health, systemClock, ...rest } = options;
  const llm = track(
    createManaLLM({
      aliases: { aliases: body },
      providers,
      ...(systemClock ? {} : { clock }),
      health: { probes: false, ...health },
      ...rest,
    }),
  );
  return { llm, clock, events: recordEvents(llm) };
}

/** Polls `cond` on real time (a few ms at a time) and throws if it never holds. */
export async function waitFor(cond: () => boolean, what = 'condition', ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets real I/O callbacks run (a handful of event-loop turns). */
export async function ioTurns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1));
}

/** Consumes a stream in the background: what arrived so far, and how it ended. */
export function consume(stream: AsyncIterable<ChatChunk>): {
  chunks: ChatChunk[];
  done: Promise<{ chunks: ChatChunk[]; error?: unknown }>;
} {
  const chunks: ChatChunk[] = [];
  const done = (async () => {
    try {
      for await (const c of stream) chunks.push(c);
      return { chunks };
    } catch (error) {
      return { chunks, error };
    }
  })();
  return { chunks, done };
}

export const textOf = (chunks: readonly ChatChunk[]): string =>
  chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** Settles `p` into `{ value }` or `{ error }` so a test can assert either without unhandled rejections. */
export async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
}

/** An upstream speaking `protocol` that answers every request normally, then drops the connection. */
export interface ClosingUpstream {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections currently open on the server side. */
  readonly openSockets: number;
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * `connection-close`: answers with `Connection: close`. `destroy-idle`: answers as keep-alive, then destroys the
 * socket once the response is written (what a proxy with a short idle timeout does between two calls).
 */
export async function closingUpstream(
  protocol: MockProtocol,
  mode: 'connection-close' | 'destroy-idle',
): Promise<ClosingUpstream> {
  const codec = CODECS[protocol];
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      requests++;
      const raw = Buffer.concat(parts).toString('utf8');
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      const path = (req.url ?? '/').slice(codec.basePath.length);
      const route = codec.route(req.method ?? 'GET', path, body);
      const headers: Record<string, string> = mode === 'connection-close' ? { connection: 'close' } : {};
      if (mode === 'destroy-idle') res.on('finish', () => setImmediate(() => req.socket.destroy()));
      if (!route) return void res.writeHead(404, headers).end();
      if (route.op === 'models')
        return void res
          .writeHead(200, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify(codec.models(['m'])));
      if (route.op === 'embed')
        return void res
          .writeHead(200, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify(codec.embed(4, route.inputs ?? [], route.model)));
      if (route.op === 'chat')
        return void res
          .writeHead(200, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify(codec.chat({ reply: 'kept' }, route.model)));
      const s = codec.stream({ reply: 'kept going', chunks: 2 }, route.model);
      res
        .writeHead(200, { 'content-type': s.contentType, ...headers })
        .end([...s.prelude, ...s.content, ...s.end].join(''));
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return track({
    url: `http://127.0.0.1:${port}${codec.basePath}`,
    get connections() {
      return connections;
    },
    get openSockets() {
      return sockets.size;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
