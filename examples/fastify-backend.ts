/**
 * The same backend on Fastify: `POST /chat`, `POST /chat/stream` (server-sent events) and `GET /health`.
 * Errors become their `httpStatus` with a JSON body; a browser that goes away cancels the upstream call.
 *
 *   npx tsx examples/fastify-backend.ts               # then: curl -N localhost:3000/chat/stream -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"Hi"}]}'
 *   npx tsx examples/fastify-backend.ts --self-test   # makes its own requests, then exits
 */
import { Readable } from 'node:stream';
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
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
const app = Fastify();
app.addHook('onClose', async () => {
  await llm.close();
  await standIns?.close();
});

const schema = {
  body: {
    type: 'object',
    required: ['messages'],
    properties: { model: { type: 'string' }, messages: { type: 'array', minItems: 1 } },
  },
};

/**
 * A signal that aborts when the client disconnects before the reply is complete. (Not `request.signal`: in
 * Fastify 5.12 it aborts a POST as soon as its body has been read, fastify/fastify#6725.)
 */
function untilClientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => reply.raw.writableFinished || controller.abort());
  return controller.signal;
}

/** Wraps an iterator whose first result was already read, so nothing is lost. */
async function* resume<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  yield* { [Symbol.asyncIterator]: () => rest };
}

app.setErrorHandler((err: FastifyError, request, reply) => {
  if (isManaLLMError(err)) {
    return reply
      .status(err.httpStatus)
      .send({ error: { message: err.message, type: err.code.toLowerCase() } });
  }
  const status = err.statusCode ?? 500; // Fastify's own errors: invalid JSON, schema validation
  if (status >= 500) request.log.error(err);
  const error =
    status < 500
      ? { message: err.message, type: 'invalid_request' }
      : { message: 'internal error', type: 'internal_error' };
  return reply.status(status).send({ error });
});

app.post<{ Body: ChatRequest }>('/chat', { schema }, (request, reply) =>
  llm.chat(request.body, { signal: untilClientGone(reply) }),
);

app.post<{ Body: ChatRequest }>('/chat/stream', { schema }, async (request, reply) => {
  const chunks = llm.stream(request.body, { signal: untilClientGone(reply) })[Symbol.asyncIterator]();
  // Headers wait for the first chunk: until then the chain can still fall back, and a failure (no healthy
  // provider, unknown alias) still reaches the error handler and gets its own status.
  const first = await chunks.next();
  return reply
    .header('content-type', 'text/event-stream')
    .header('cache-control', 'no-cache')
    .send(Readable.from(toServerSentEvents(resume(first, chunks))));
});

app.get('/health', (_request, reply) => {
  const health = llm.health();
  return reply.status(health.status === 'unhealthy' ? 503 : 200).send(health);
});

const selfTesting = process.argv.includes('--self-test');
const url = await app.listen({ port: selfTesting ? 0 : Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`listening on ${url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());

if (selfTesting) {
  const messages = [{ role: 'user', content: 'Hi!' }];
  try {
    await selfTest(url, [
      { method: 'POST', path: '/chat', body: { model: 'mana/fast-text', messages } },
      { method: 'POST', path: '/chat/stream', body: { model: 'mana/fast-text', messages } },
      { method: 'POST', path: '/chat/stream', body: { model: 'mana/no-such-alias', messages }, status: 404 },
      { method: 'POST', path: '/chat', body: { model: 'mana/fast-text' }, status: 400 },
      { path: '/health' },
    ]);
  } finally {
    await app.close();
  }
}
