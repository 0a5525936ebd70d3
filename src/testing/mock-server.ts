import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the mock upstream received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or the raw text when it is not JSON, or undefined when empty. */
  body: unknown;
}

/**
 * What the mock upstream does with one request. The same behaviours exist for every wire protocol; each
 * protocol's codec writes them in its own format.
 */
export type MockBehavior =
  /** A normal answer; streamed as `chunks` text pieces (default 3). */
  | {
      reply: string;
      chunks?: number | undefined;
      finish?: 'stop' | 'length' | undefined;
      usage?: { prompt: number; completion: number } | undefined;
    }
  /** The assistant calls a tool (streamed as name then argument fragments). */
  | { toolCall: { id?: string | undefined; name: string; arguments: string } }
  /** Embeddings: one vector of this length per input (values derived from the input). */
  | { dimensions: number }
  /** A raw HTTP error answer. */
  | { status: number; body?: string | undefined; headers?: Record<string, string> | undefined }
  /** The protocol's own error inside a 200 (JSON body, or an error frame after `after` content chunks when streaming). */
  | { inBandError: 'rate-limit' | 'server' | 'auth' | 'invalid'; after?: number | undefined }
  /** The provider's safety filter blocks the prompt. */
  | { blocked: true }
  /** Streams `chunks` content pieces, then destroys the socket. */
  | { streamThenReset: number }
  /** Streams `chunks` content pieces, then ends the body cleanly without a finish reason or end marker. */
  | { streamThenEnd: number }
  /** Streams `chunks` content pieces, then goes silent (socket kept open). */
  | { streamThenStall: number }
  /** A 200 whose body is garbage (non-JSON / a broken frame). */
  | { malformed: true }
  /** Destroys the socket before any header. */
  | { reset: true }
  /** Never answers. */
  | { hang: true }
  /** Sends headers, then nothing. */
  | { stallAfterHeaders: true }
  /** A normal answer delivered one byte at a time. */
  | { slow: string }
  /** Model list for probes / `models()`. */
  | { models: string[] };

/** What a request asks for, as the codec reads it from the path and body. */
export type MockRoute =
  | { op: 'chat' | 'stream' | 'embed'; model: string; inputs?: string[] }
  | { op: 'models' };

/** One wire protocol's encoder for the shared mock server. */
export interface MockCodec {
  /** URL path prefix the client's `baseUrl` must carry (e.g. `/v1`, `/v1beta`, `` for Ollama). */
  basePath: string;
  route(method: string, path: string, body: unknown): MockRoute | null;
  /** JSON body of a non-streamed answer. */
  chat(b: MockBehavior, model: string): unknown;
  /**
   * A streamed answer as framed text: `prelude` (role / start frames), one `content` frame per piece, and `end`
   * (finish reason, usage and the protocol's end marker). `request`: the parsed request body, for a protocol whose
   * frames depend on it (OpenAI sends its usage frame only when `stream_options.include_usage` asks for it).
   */
  stream(
    b: MockBehavior,
    model: string,
    request?: unknown,
  ): { contentType: string; prelude: string[]; content: string[]; end: string[] };
  embed(dimensions: number, inputs: string[], model: string): unknown;
  models(names: string[]): unknown;
  /** The protocol's in-band error: as a JSON body (non-streaming) or as one frame (streaming). */
  inBandError(kind: 'rate-limit' | 'server' | 'auth' | 'invalid', streaming: boolean): string;
  /** A safety block: JSON body (non-streaming) or frames (streaming); status 200 unless the protocol says otherwise. */
  blocked(streaming: boolean): { status: number; body: string; contentType: string };
  /** The protocol's JSON body for an HTTP error (default `{"error":{"message"}}`). */
  errorBody?(status: number, message: string): string;
}

/** A running mock upstream. */
export interface MockUpstream {
  /** `baseUrl` to configure the provider with. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Behaviours used one per request, in order; when the queue is empty the default is used. */
  enqueue(...b: MockBehavior[]): void;
  setDefault(b: MockBehavior): void;
  /** Number of requests to a route op (`chat`, `stream`, `embed`, `models`). */
  count(op?: MockRoute['op']): number;
  close(): Promise<void>;
}

/** Splits a text into `n` pieces (shared by the codecs so every protocol streams the same text). */
export function splitReply(text: string, n = 3): string[] {
  if (n <= 1 || text.length <= 1) return [text];
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The pieces a behaviour's reply streams in: `chunks` of them (default 3), none for an empty reply. */
export function replyPieces(b: MockBehavior): string[] {
  const text = 'reply' in b ? b.reply : '';
  return text === '' ? [] : splitReply(text, 'chunks' in b ? b.chunks : 3);
}

/**
 * A tool call's arguments as an object (`{}` when empty), for the protocols that send them parsed; text that is not
 * JSON is sent as it is, so a test can script a model's broken arguments.
 */
export function toolArgs(b: Extract<MockBehavior, { toolCall: unknown }>): unknown {
  try {
    return JSON.parse(b.toolCall.arguments || '{}');
  } catch {
    return b.toolCall.arguments;
  }
}

/** A behaviour's token counts: its `usage`, else 5 prompt and 7 completion tokens. */
export function tokensOf(b: MockBehavior): { prompt: number; completion: number } {
  return ('usage' in b && b.usage) || { prompt: 5, completion: 7 };
}

/** The largest request body the mock reads (Anthropic's documented request limit). */
const MAX_BODY = 32 * 1024 * 1024;

/** Starts a mock upstream on 127.0.0.1 speaking `codec`'s protocol. */
export async function startMockServer(
  codec: MockCodec,
  initial: MockBehavior = { reply: 'Hello!' },
  opts: { port?: number | undefined } = {},
): Promise<MockUpstream> {
  const queue: MockBehavior[] = [];
  let fallback = initial;
  const requests: RecordedRequest[] = [];
  const ops: MockRoute['op'][] = [];

  const server = createServer((req, res) => {
    // The body is read up to MAX_BODY bytes; the rest of a bigger one is drained unkept and answered 413.
    // A request that never completes (the client went away) gets no answer.
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) parts.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (size > MAX_BODY) {
        record(req, undefined);
        return fail(res, 413, 'mock: request body too large');
      }
      // A body of the wrong shape (the codec cannot route or answer it) is a 400, as a real API answers it; a codec
      // that throws once the answer has started resets the connection rather than leave the client waiting.
      try {
        handle(req, res, Buffer.concat(parts).toString());
      } catch (e) {
        if (res.headersSent) res.destroy();
        else fail(res, 400, `mock: bad request: ${String(e)}`);
      }
    });
  });

  /** Records a request as received; returns its path. */
  function record(req: IncomingMessage, body: unknown): string {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    return path;
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const path = record(req, body);
    const route = path.startsWith(codec.basePath)
      ? codec.route(req.method ?? 'GET', path.slice(codec.basePath.length), body)
      : null;
    if (!route) return fail(res, 404, 'no such route');
    ops.push(route.op);
    const b =
      route.op === 'models' && queue.length === 0 ? { models: ['mock-model'] } : (queue.shift() ?? fallback);
    respond(route, b, res, req.socket, body);
  }

  function json(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(typeof payload === 'string' ? payload : JSON.stringify(payload));
  }

  /** An HTTP error in the protocol's own body shape. */
  function fail(res: ServerResponse, status: number, message: string, headers?: Record<string, string>) {
    const body = codec.errorBody?.(status, message) ?? JSON.stringify({ error: { message } });
    json(res, status, body, headers);
  }

  function respond(
    route: MockRoute,
    behavior: MockBehavior,
    res: ServerResponse,
    socket: Socket,
    request: unknown,
  ) {
    // A slow answer is the normal one, written a byte at a time.
    const slow = 'slow' in behavior;
    const b: MockBehavior = slow ? { reply: behavior.slow } : behavior;
    // A call that does not stream fails as the cut stream would: reset, its body cut short, or silent after headers.
    const streaming = route.op === 'stream';
    if ('reset' in b || (!streaming && 'streamThenReset' in b)) return socket.destroy();
    if ('hang' in b) return;
    if ('status' in b)
      return b.body === undefined
        ? fail(res, b.status, `mock status ${b.status}`, b.headers)
        : json(res, b.status, b.body, b.headers);
    if ('stallAfterHeaders' in b || (!streaming && 'streamThenStall' in b))
      return void res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
    if ('malformed' in b || (!streaming && 'streamThenEnd' in b)) {
      res.writeHead(200, {
        'content-type': streaming ? codec.stream({ reply: '' }, '').contentType : 'application/json',
      });
      return res.end(streaming ? 'data: {"broken\n\n{not json\n' : '{"id": "x", "choices": [');
    }
    if (route.op === 'models') return json(res, 200, codec.models('models' in b ? b.models : ['mock-model']));
    if ('inBandError' in b && !streaming) return json(res, 200, codec.inBandError(b.inBandError, false));
    const dimensions = 'dimensions' in b ? b.dimensions : 4;
    if (route.op === 'embed') return json(res, 200, codec.embed(dimensions, route.inputs ?? [], route.model));
    if ('blocked' in b) {
      const out = codec.blocked(streaming);
      return res.writeHead(out.status, { 'content-type': out.contentType }).end(out.body);
    }
    if (route.op === 'chat') {
      const body = JSON.stringify(codec.chat(b, route.model));
      return slow ? dribble(res, 'application/json', body) : json(res, 200, body);
    }
    // Streaming. A partial behaviour streams `cut` pieces of filler, then ends its own way.
    const partial = b as { streamThenReset?: number; streamThenEnd?: number; streamThenStall?: number };
    const cut =
      partial.streamThenReset ??
      partial.streamThenEnd ??
      partial.streamThenStall ??
      ('inBandError' in b ? (b.after ?? 0) : undefined);
    const n = Math.max(cut ?? 0, 1);
    const source: MockBehavior =
      cut === undefined ? b : { reply: ('inBandError' in b ? 'y' : 'x').repeat(n * 4), chunks: n };
    const { contentType, prelude, content, end } = codec.stream(source, route.model, request);
    const whole = [...prelude, ...content, ...end].join('');
    if (slow) return dribble(res, contentType, whole);
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
    if (cut === undefined) return res.end(whole);
    res.write([...prelude, ...content.slice(0, cut)].join(''));
    if ('inBandError' in b) return res.end(codec.inBandError(b.inBandError, true));
    if ('streamThenReset' in b) return void setTimeout(() => socket.destroy(), 5);
    if ('streamThenEnd' in b) res.end();
    // streamThenStall: headers and some content, then silence.
  }

  function dribble(res: ServerResponse, contentType: string, text: string) {
    res.writeHead(200, { 'content-type': contentType });
    const bytes = Buffer.from(text);
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i >= bytes.length) return void res.end();
      res.write(bytes.subarray(i, i + 1));
      i += 1;
      setImmediate(next);
    };
    next();
  }

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${codec.basePath}`,
    requests,
    enqueue: (...b) => void queue.push(...b),
    setDefault: (b) => void (fallback = b),
    count: (op) => (op ? ops.filter((o) => o === op).length : ops.length),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Stalled and hanging answers keep their sockets open: they are cut, not waited for.
        server.closeAllConnections();
      }),
  };
}
