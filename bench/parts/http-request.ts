/**
 * Parts bench variant of `src/wire/http.ts`: the transport on undici's `request()` and its Node Readable body
 * instead of the hand-made `ResponseBody` on the dispatch handler API. Same `Http` interface, same caps.
 * Copied over `wire/http.ts` in a copy of `src/` by `bench/parts.ts`; never part of the library.
 */
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { DEFAULT_LIMITS } from '../../src/options.js';
import type { CancelSignal } from '../../src/wire/cancel.js';
import { WireLimitError, type WireLimits } from '../../src/wire/limits.js';

type Emitter = CancelSignal & {
  on(event: 'abort', fn: () => void): unknown;
  removeListener(event: 'abort', fn: () => void): unknown;
};

/**
 * The request's signal as undici takes it: an AbortSignal as it is; a CancelToken (EventEmitter-style, with `on` but
 * no `once`) behind the `on`/`once`/`removeListener` undici checks for and calls.
 */
function emitterOf(signal: CancelSignal): unknown {
  if ('addEventListener' in signal) return signal;
  const s = signal as Emitter;
  return {
    get aborted() {
      return s.aborted;
    },
    get reason() {
      return s.reason;
    },
    on: (event: 'abort', fn: () => void) => s.on(event, fn),
    once: (event: 'abort', fn: () => void) => s.on(event, fn),
    removeListener: (event: 'abort', fn: () => void) => s.removeListener(event, fn),
  };
}

export interface HttpRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: CancelSignal;
}
export type BodyLimit = 'maxResponseBytes' | 'maxEmbeddingResponseBytes';
export interface HttpBody extends AsyncIterable<Uint8Array> {
  text(limit?: BodyLimit): Promise<string>;
  dump(): Promise<void>;
  destroy(err?: Error): unknown;
}
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: HttpBody;
}
export interface Http {
  readonly limits: WireLimits;
  send(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

type BodyReadable = Readable & {
  text(): Promise<string>;
  dump(opts?: { limit: number }): Promise<void>;
  _readableState?: { ended: boolean };
};

class RequestBody implements HttpBody {
  constructor(
    readonly stream: BodyReadable,
    readonly length: number,
    readonly limits: WireLimits,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.stream[Symbol.asyncIterator]();
  }

  async text(limit: BodyLimit = 'maxResponseBytes'): Promise<string> {
    const max = this.limits[limit];
    const tooLarge = () => {
      const err = new WireLimitError('the reply', max, limit);
      this.stream.destroy(err);
      return err;
    };
    if (this.length > max) throw tooLarge();
    let text: string;
    // Announced and within the cap: undici's own consumer; otherwise counted as it comes.
    if (this.length >= 0) text = await this.stream.text();
    else {
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of this.stream as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > max) throw tooLarge();
        parts.push(c);
      }
      text = Buffer.concat(parts).toString('utf8');
    }
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  dump(): Promise<void> {
    return this.stream.dump({ limit: 128 * 1024 }).catch(() => undefined);
  }

  destroy(err?: Error): unknown {
    return this.stream.destroy(err);
  }
}

export function bodyArrived(body: HttpBody): boolean {
  if (!(body instanceof RequestBody)) return false;
  const s = body.stream;
  return s.readableEnded || (s._readableState?.ended === true && s.readableLength === 0);
}

export function createHttp(opts: { connectMs: number; limits?: WireLimits }): Http {
  const agent = new Agent({
    connect: { timeout: opts.connectMs },
    keepAliveTimeout: 10_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const limits = opts.limits ?? DEFAULT_LIMITS;
  let closed = false;
  return {
    limits,
    send(req) {
      if (req.signal.aborted) return Promise.reject(req.signal.reason);
      return agent
        .request({
          origin: req.origin,
          path: req.path,
          method: req.method,
          headers: req.headers,
          body: req.body ?? null,
          signal: emitterOf(req.signal) as never,
        })
        .then((res) => {
          const length = res.headers['content-length'];
          const n = typeof length === 'string' && /^\d+$/.test(length) ? Number(length) : -1;
          return {
            status: res.statusCode,
            headers: res.headers,
            body: new RequestBody(res.body as unknown as BodyReadable, n, limits),
          };
        });
    },
    async close() {
      if (closed) return;
      closed = true;
      await agent.destroy();
    },
  };
}
