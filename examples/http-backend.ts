/**
 * A plain `node:http` backend: `POST /chat` (JSON in, JSON out), `POST /chat/stream` (the answer relayed to the
 * browser as server-sent events) and `GET /health`. Errors become their `httpStatus` with a JSON body; a browser
 * that goes away cancels the upstream call.
 *
 *   npx tsx examples/http-backend.ts               # then: curl -N localhost:3000/chat/stream -d '{"messages":[{"role":"user","content":"Hi"}]}'
 *   npx tsx examples/http-backend.ts --self-test   # makes its own requests, then exits
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChatRequest, createManaLLM, isManaLLMError, toServerSentEvents } from 'mana-llm';
import { aliasesPath, startStandIns } from './providers.js';
import { selfTest } from './self-test.js';

// No keys in the environment: local stand-ins answer instead (see providers.ts; your app has no such line).
const standIns = await startStandIns();
const llm = createManaLLM({
  aliasesPath,
  providers: {
    ollama: { baseUrl: standIns?.ollama ?? process.env.OLLAMA_URL ?? 'http://localhost:11434' },
    // A cloud provider whose key is not set is simply not configured: its chain entries are skipped.
    groq: standIns ? { baseUrl: standIns.groq, apiKey: 'stand-in' } : { apiKey: process.env.GROQ_API_KEY },
    openrouter: { apiKey: process.env.OPENROUTER_API_KEY },
    together: { apiKey: process.env.TOGETHER_API_KEY },
    google: { apiKey: process.env.GOOGLE_API_KEY },
  },
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readChatRequest(req: IncomingMessage): Promise<ChatRequest> {
  let text = '';
  req.setEncoding('utf8'); // decodes characters split across chunks
  for await (const part of req) {
    text += part;
    if (text.length > 1_000_000) throw new HttpError(413, 'request body too large');
  }
  let body: ChatRequest;
  try {
    body = JSON.parse(text) as ChatRequest;
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
  if (!Array.isArray(body?.messages)) throw new HttpError(400, '`messages` must be an array');
  return body;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, err: unknown) {
  if (res.headersSent) return void res.end(); // mid-stream: toServerSentEvents already sent the error frame
  if (isManaLLMError(err)) {
    // NoHealthyProviderError and ProviderRateLimitError say when trying again makes sense.
    const retryMs =
      'retryAfterMs' in err && typeof err.retryAfterMs === 'number' ? err.retryAfterMs : undefined;
    const headers: Record<string, string> = retryMs
      ? { 'retry-after': String(Math.ceil(retryMs / 1000)) }
      : {};
    return sendJson(
      res,
      err.httpStatus,
      { error: { message: err.message, type: err.code.toLowerCase() } },
      headers,
    );
  }
  if (err instanceof HttpError)
    return sendJson(res, err.status, { error: { message: err.message, type: 'invalid_request' } });
  console.error(err);
  sendJson(res, 500, { error: { message: 'internal error', type: 'internal_error' } });
}

/** Wraps an iterator whose first result was already read, so nothing is lost. */
async function* resume<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  yield* { [Symbol.asyncIterator]: () => rest };
}

async function relayStream(req: IncomingMessage, res: ServerResponse, signal: AbortSignal) {
  const chunks = llm.stream(await readChatRequest(req), { signal })[Symbol.asyncIterator]();
  // Headers wait for the first chunk: until then the chain can still fall back, and a failure (no healthy
  // provider, unknown alias, a bad request) still gets its own status instead of an SSE error frame.
  const first = await chunks.next();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for await (const frame of toServerSentEvents(resume(first, chunks))) {
    if (signal.aborted) break; // the browser went away; the upstream call is already cancelled
    if (!res.write(frame)) await once(res, 'drain', { signal });
  }
  res.end();
}

const server = createServer(async (req, res) => {
  // Cancels the upstream call when the client disconnects before the answer is complete.
  const controller = new AbortController();
  res.on('close', () => res.writableFinished || controller.abort());
  const { signal } = controller;
  try {
    const route = `${req.method} ${req.url}`;
    if (route === 'POST /chat')
      return sendJson(res, 200, await llm.chat(await readChatRequest(req), { signal }));
    if (route === 'POST /chat/stream') return await relayStream(req, res, signal);
    if (route === 'GET /health') {
      const health = llm.health();
      return sendJson(res, health.status === 'unhealthy' ? 503 : 200, health);
    }
    sendJson(res, 404, { error: { message: `no route ${route}`, type: 'not_found' } });
  } catch (err) {
    if (!signal.aborted) sendError(res, err); // after a disconnect there is nobody to answer
  }
});

async function shutdown() {
  await new Promise((resolve) => server.close(resolve));
  await llm.close();
  await standIns?.close();
}

const selfTesting = process.argv.includes('--self-test');
server.listen(selfTesting ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`listening on ${url}`);
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);

if (selfTesting) {
  const messages = [{ role: 'user', content: 'Hi!' }];
  try {
    await selfTest(url, [
      { method: 'POST', path: '/chat', body: { model: 'mana/fast-text', messages } },
      { method: 'POST', path: '/chat/stream', body: { model: 'mana/fast-text', messages } },
      { method: 'POST', path: '/chat', body: { model: 'mana/no-such-alias', messages }, status: 404 },
      { method: 'POST', path: '/chat', body: { model: 'mana/fast-text' }, status: 400 },
      { path: '/health' },
    ]);
  } finally {
    await shutdown();
  }
}
