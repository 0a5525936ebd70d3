import { Agent, buildConnector } from 'undici';
import { MAX_TIMER_MS } from '../clock.js';
import { DEFAULT_LIMITS } from '../options.js';
import type { CancelSignal } from './cancel.js';
import type { WireLimits } from './limits.js';
import { ResponseBody } from './response-body.js';

const noop = (): void => undefined;

/** One HTTP request, already split into origin and path so nothing is re-parsed per call. */
export interface HttpRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
  /** An AbortSignal, or a CancelToken (cheaper: see cancel.ts). */
  signal: CancelSignal;
  /** A health probe: it never keeps the process alive (see `createHttp`). */
  background?: boolean | undefined;
}

/** Which cap a body read whole is held to. */
export type BodyLimit = 'maxResponseBytes' | 'maxEmbeddingResponseBytes';

/** The body of an answer: an async iterable of bytes that can also be read whole or thrown away. */
export interface HttpBody extends AsyncIterable<Uint8Array> {
  /**
   * The whole body as UTF-8 text (a leading byte order mark dropped). Rejects with a `WireLimitError`, reading
   * no further, when the body is announced or grows past the cap `limit` names (default `maxResponseBytes`).
   */
  text(limit?: BodyLimit): Promise<string>;
  /** Reads the rest away so the connection can be reused (cancels it past 128 kB); never rejects. */
  dump(): Promise<void>;
  /** Cancels the request (a no-op once the body has ended) and drops what was not read. */
  destroy(err?: Error): unknown;
}

/** An HTTP answer whose body the caller must consume, dump or destroy. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: HttpBody;
}

/**
 * True when the whole body has arrived and been read: reading on ends it in a tick, where `destroy()` would
 * cancel a request that is already complete.
 */
export function bodyArrived(body: HttpBody): boolean {
  // Anything but our own body (a test double) counts as not arrived, which is always safe.
  return body instanceof ResponseBody && body.arrived;
}

/** The only door to the network: one keep-alive agent per client. */
export interface Http {
  /** The caps every body read and every stream parser is held to. */
  readonly limits: WireLimits;
  send(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

/**
 * Creates the client's HTTP transport; timeouts beyond connect are enforced by the caller's signal, and every
 * body read by `limits` (default: the defaults of the `limits` option).
 */
export function createHttp(opts: { connectMs: number; limits?: WireLimits }): Http {
  // undici keeps a socket ref'd while it carries a request, so a probe waiting on a silent provider held a script
  // that never calls close() until the probe timed out. Its sockets are never ref'd here; a caller's request keeps
  // the process alive with `keeper` instead, from send() until its answer has ended or failed.
  const connector = buildConnector({ timeout: opts.connectMs });
  const agent = new Agent({
    connect: (options, callback) =>
      connector(options, (err, socket) => {
        if (!socket) return callback(err as Error, null);
        socket.unref();
        socket.ref = () => socket;
        callback(null, socket);
      }),
    keepAliveTimeout: 10_000,
    // The router owns deadlines (total budget, first chunk, idle) through the request's signal.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const limits = opts.limits ?? DEFAULT_LIMITS;
  let closed = false;
  let keeper: NodeJS.Timeout | undefined;
  let held = 0;
  const release = (): void => {
    if (--held === 0) keeper?.unref();
  };
  return {
    limits,
    send(req) {
      if (req.signal.aborted) return Promise.reject(req.signal.reason);
      return new Promise((resolve, reject) => {
        let done: (() => void) | undefined;
        if (!req.background) {
          if (held++ === 0) (keeper ??= setInterval(noop, MAX_TIMER_MS)).ref();
          done = release;
        }
        const body = new ResponseBody(req.signal, limits, resolve, reject, done);
        try {
          agent.dispatch(
            {
              origin: req.origin,
              path: req.path,
              method: req.method,
              headers: req.headers,
              body: req.body ?? null,
            },
            body,
          );
        } catch (err) {
          body.onResponseError(undefined, err as Error);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(keeper);
      // destroy, not close: in-flight streams were already settled by the client; don't wait on keep-alive.
      await agent.destroy();
    },
  };
}
