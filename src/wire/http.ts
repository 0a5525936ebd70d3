import { Agent, type Dispatcher } from 'undici';
import type { CancelSignal } from './cancel.js';

/** One HTTP request, already split into origin and path so nothing is re-parsed per call. */
export interface HttpRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** An AbortSignal, or a CancelToken (cheaper: see cancel.ts). */
  signal: CancelSignal;
}

/** The body of an answer: an async iterable of bytes that can also be read whole or thrown away. */
export interface HttpBody extends AsyncIterable<Uint8Array> {
  text(): Promise<string>;
  dump(): Promise<void>;
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
 * build an abort error (with its stack) to cancel a request that is already complete.
 */
export function bodyArrived(body: HttpBody): boolean {
  // Node's readable state; anything else (a test double) counts as not arrived, which is always safe.
  const state = (body as { _readableState?: { ended?: unknown; length?: unknown } })._readableState;
  return state?.ended === true && state.length === 0;
}

/** The only door to the network: one keep-alive agent per client. */
export interface Http {
  send(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

function toResponse(res: Dispatcher.ResponseData): HttpResponse {
  return { status: res.statusCode, headers: res.headers, body: res.body };
}

/** Creates the client's HTTP transport; timeouts beyond connect are enforced by the caller's signal. */
export function createHttp(opts: { connectMs: number }): Http {
  const agent = new Agent({
    connect: { timeout: opts.connectMs },
    keepAliveTimeout: 10_000,
    // The router owns deadlines (total budget, first chunk, idle) through the request's signal.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let closed = false;
  return {
    send(req) {
      // Not `async`: undici's promise mapped once, no async frame of its own per call.
      return agent
        .request({
          origin: req.origin,
          path: req.path,
          method: req.method,
          headers: req.headers,
          body: req.body ?? null,
          // A CancelToken speaks the EventEmitter dialect undici accepts for `signal` (on/once/removeListener).
          signal: req.signal as AbortSignal,
        })
        .then(toResponse);
    },
    async close() {
      if (closed) return;
      closed = true;
      // destroy, not close: in-flight streams were already settled by the client; don't wait on keep-alive.
      await agent.destroy();
    },
  };
}
