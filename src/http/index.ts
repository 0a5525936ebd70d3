import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ManaLLM } from '../client.js';
import { type Answer, createDispatcher } from './handle.js';
import { type HttpHandlerOptions, resolveHttpOptions } from './options.js';

export type { OpenedStream } from '../routing/open-stream.js';
export type { OpenAIErrorObject } from './errors.js';
export type { HttpHandlerOptions, MetricsSource, RequestLogEntry } from './options.js';

/**
 * A Web-standard `(Request) => Promise<Response>` handler (Next.js route handlers, Hono, Bun, Deno) serving the
 * OpenAI-compatible routes. Needs the Node runtime (node:crypto).
 * @throws ConfigError for invalid options
 */
export function createFetchHandler(
  llm: ManaLLM,
  options?: HttpHandlerOptions,
): (request: Request) => Promise<Response> {
  const dispatch = createDispatcher(llm, resolveHttpOptions(options));
  const encoder = new TextEncoder();
  return async (request) => {
    // The request's own signal (the client went away) or the response body cancelled by the server.
    const cancelled = new AbortController();
    const signal = AbortSignal.any([request.signal, cancelled.signal]);
    const answer = await dispatch({
      method: request.method,
      path: new URL(request.url).pathname,
      header: (name) => request.headers.get(name) ?? undefined,
      // preventCancel: a body left unread (over the size cap) is released, not cancelled under the server.
      chunks: () => request.body?.values({ preventCancel: true }) ?? [],
      signal,
    });
    const it = answer.frames?.[Symbol.asyncIterator]();
    // HEAD (no route streams for it): the GET's status and headers, no body (node:http leaves it out by itself).
    if (it === undefined)
      return new Response(request.method === 'HEAD' ? null : (answer.body ?? null), {
        status: answer.status,
        headers: answer.headers,
      });
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(encoder.encode(r.value));
      },
      cancel() {
        // Abort first: a generator busy waiting for the upstream would run return() only after its next chunk.
        cancelled.abort(new DOMException('the response body was cancelled', 'AbortError'));
        return it.return?.().then(() => undefined);
      },
    });
    return new Response(body, { status: answer.status, headers: answer.headers });
  };
}

/**
 * A `(req, res)` handler for node:http, Express or Fastify (`reply.raw`) serving the OpenAI-compatible routes.
 * @throws ConfigError for invalid options
 */
export function createNodeHandler(
  llm: ManaLLM,
  options?: HttpHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const dispatch = createDispatcher(llm, resolveHttpOptions(options));
  return (req, res) => {
    const ac = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ac.abort(new DOMException('the client closed the connection', 'AbortError'));
    });
    let url = req.url ?? '/';
    // An absolute-form target (`GET http://host/health`, which RFC 9112 says a server must accept): its path.
    if (!url.startsWith('/')) url = URL.parse(url)?.pathname ?? url;
    const q = url.indexOf('?');
    void dispatch({
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      header: (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      chunks: () => {
        // A client that sent `Expect: 100-continue` to a server routing its 'checkContinue' event here waits for a
        // 100 before sending the body: sent only now, once the key, route, declared length and type passed (node:http
        // itself sends it before any handler runs when nothing listens to that event).
        if (awaitsContinue(res)) res.writeContinue();
        return req;
      },
      // Mounted after a body parser (express.json(), Fastify): the stream is consumed, its result is on req.body.
      parsed: (req as IncomingMessage & { body?: unknown }).body,
      signal: ac.signal,
    })
      .then((answer) => {
        // A body the answer did not read (a 401, 404, 415 before it): close rather than let node:http read and drop
        // the rest to keep the connection, which has no bound but the server's request timeout.
        if (!req.complete) res.shouldKeepAlive = false;
        return write(res, answer, ac);
      })
      .catch(() => {
        // Only a socket error can get here (the dispatcher answers every failure): nothing left to tell the client.
        if (!res.destroyed) res.destroy();
      });
  };
}

/** node:http's own state: the request expects a `100 Continue` that no one has sent yet. */
function awaitsContinue(res: ServerResponse): boolean {
  const state = res as ServerResponse & { _expect_continue?: boolean; _sent100?: boolean };
  return state._expect_continue === true && state._sent100 !== true;
}

async function write(res: ServerResponse, answer: Answer, ac: AbortController): Promise<void> {
  if (answer.frames === undefined) {
    if (res.destroyed) return;
    const { body } = answer;
    // Only a 204 (preflight) has no body, and it must not declare one.
    const length = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
    res.writeHead(answer.status, { ...answer.headers, ...length });
    res.end(body);
    return;
  }
  // A connection already gone (its close listener may not have run yet) still starts and stops the frames: that
  // releases the stream at once and logs the request as client_closed.
  if (res.destroyed) ac.abort(new DOMException('the client closed the connection', 'AbortError'));
  else {
    res.writeHead(answer.status, answer.headers);
    res.flushHeaders();
  }
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  for await (const frame of answer.frames) {
    if (res.destroyed) break;
    // Frames handed out in one go (one upstream read) leave in one write.
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    // A closed connection aborts `ac` (the handler's close listener), which ends the wait. A client that reads
    // nothing for `timeouts.idleMs` (its window full) is cut off: its stream would hold the upstream open forever.
    if (!res.write(frame)) {
      const cancel = answer.idle?.clock.setTimer(answer.idle.ms, () => res.destroy());
      await once(res, 'drain', { signal: ac.signal }).catch(() => undefined);
      cancel?.();
    }
  }
  if (!res.destroyed) res.end();
  else ac.abort();
}
