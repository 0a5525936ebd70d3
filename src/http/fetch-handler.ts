import type { ManaLLM } from '../client.js';
import { createDispatcher } from './handle.js';
import { type HttpHandlerOptions, resolveHttpOptions } from './options.js';

async function* bytes(body: ReadableStream<Uint8Array> | null): AsyncIterable<Uint8Array> {
  // preventCancel: a body left unread (over the size cap) is released, not cancelled under the server.
  if (body) yield* body.values({ preventCancel: true });
}

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
      body: {
        contentLength: request.headers.get('content-length') ?? undefined,
        contentType: request.headers.get('content-type') ?? undefined,
        chunks: () => bytes(request.body),
      },
      signal,
    });
    const frames = answer.frames;
    if (frames === undefined)
      return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers });
    const it = frames[Symbol.asyncIterator]();
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
