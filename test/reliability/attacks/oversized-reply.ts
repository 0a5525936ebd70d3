/**
 * Run in a child process by oversized-reply.test.ts (an attack that could take its host down must not run in the
 * test runner's own process): an upstream on 127.0.0.1 sends an oversized reply, a client calls it through a
 * chain whose second entry answers, and the outcome is printed as one JSON line.
 *
 * `node --import tsx oversized-reply.ts <attack>…`, one JSON line per attack, each one of:
 * - `advertised`: a non-stream reply announcing 2 GiB (Content-Length), bytes sent for as long as they are read
 * - `streamed`: a chunked non-stream reply of 2 GiB, without Content-Length
 * - `streamed-300mb`: the same, 300 MB
 * - `endless-line`: an SSE stream whose first line never ends
 * - `garbage-5mb`: a 5 MB non-stream reply that is not JSON (what building the error message costs)
 * - `error-150mb`: a 150 MB error body (HTTP 500) that is not JSON
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createManaLLM, isManaLLMError } from '../../../src/index.js';

const GiB = 1024 ** 3;
const piece = Buffer.alloc(64 * 1024, 'a');
const sse = Buffer.from(
  'data: {"choices":[{"index":0,"delta":{"content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}]}',
);

/** Writes `total` bytes of `chunk` with back-pressure, so the server holds nothing the client did not take. */
function pump(
  res: import('node:http').ServerResponse,
  total: number,
  chunk: Buffer,
  written: { n: number },
): void {
  const step = (): void => {
    while (written.n < total) {
      if (res.destroyed) return;
      const n = Math.min(chunk.length, total - written.n);
      written.n += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', step);
        return;
      }
    }
    res.end();
  };
  step();
}

async function run(attack: string): Promise<void> {
  const written = { n: 0 };
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.on('error', () => undefined);
      if (attack === 'advertised') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * GiB) });
        pump(res, 2 * GiB, piece, written);
      } else if (attack === 'streamed' || attack === 'streamed-300mb') {
        res.writeHead(200, { 'content-type': 'application/json' });
        pump(res, attack === 'streamed' ? 2 * GiB : 300e6, piece, written);
      } else if (attack === 'endless-line') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        pump(res, 2 * GiB, sse, written);
      } else if (attack === 'garbage-5mb') {
        res.writeHead(200, { 'content-type': 'application/json' });
        pump(res, 5e6, Buffer.from('not json at all\t\r\n\u001b[31m '.repeat(2000)), written);
      } else {
        res.writeHead(500, { 'content-type': 'text/plain' });
        pump(res, 150e6, piece, written);
      }
    });
  });
  const healthy = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const stream = attack === 'endless-line';
      const message = { role: 'assistant', content: 'served by b' };
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', choices: [{ index: 0, message, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = { id: 'x', choices: [{ index: 0, delta: message, finish_reason: 'stop' }] };
      res.end(`data: ${JSON.stringify(frame)}\n\ndata: [DONE]\n\n`);
    });
  });
  const listen = (s: ReturnType<typeof createServer>) =>
    new Promise<string>((resolve) =>
      s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`)),
    );

  const llm = createManaLLM({
    providers: {
      a: { type: 'openai', baseUrl: await listen(upstream) },
      b: { type: 'openai', baseUrl: await listen(healthy) },
    },
    aliases: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'] } } },
    health: { probes: false },
  });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const request = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
  let result: Record<string, unknown>;
  try {
    let text = '';
    let first: { name?: string; code?: string; message?: string } | undefined;
    llm.on('fallback', (e) => {
      first ??= e.error;
    });
    if (attack === 'endless-line') {
      for await (const c of llm.stream(request)) text += c.choices[0]?.delta.content ?? '';
    } else {
      const reply = await llm.chat(request);
      text = reply.choices[0]?.message.content ?? '';
    }
    result = { text, firstError: first?.name, firstCode: first?.code, firstMessage: first?.message };
  } catch (err) {
    result = { thrown: isManaLLMError(err) ? err.name : String(err) };
  }
  loop.disable();
  result.failuresOfA = llm.health().providers.a?.consecutiveFailures;
  result.serverBytes = written.n;
  result.maxRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  result.maxStallMs = Math.round(loop.max / 1e6);
  await llm.close();
  upstream.closeAllConnections();
  healthy.closeAllConnections();
  upstream.close();
  healthy.close();
  process.stdout.write(`${JSON.stringify({ attack, ...result })}\n`);
}

for (const attack of process.argv.slice(2)) await run(attack);
