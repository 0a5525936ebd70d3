/**
 * Minimal-cost local upstreams for the benchmark, on 127.0.0.1 over node:http: OpenAI-compatible chat (JSON and
 * SSE), embeddings, and Ollama chat (JSON and NDJSON). Every reply body is built once at start-up, so the
 * server's own cost per request is reading the request and one or a few socket writes.
 *
 * Run it in a child process (`startUpstream('child')`, the default) so that it never shares the client's event
 * loop, heap or GC pauses; `'worker'` and `'inline'` exist to compare.
 */
import { fork } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

/** How many chunks the streamed answers carry, and the embedding batch shape. */
export const SHAPE = { streamChunks: 256, embedCount: 64, embedDims: 1024 } as const;

/** The text a non-streamed answer carries (a short, realistic reply). */
export const REPLY_TEXT =
  'Sure. Here is a short answer of a realistic size: the quick brown fox jumps over the lazy dog, twice over.';

/** What every streamed content chunk carries. */
export const TOKEN = 'tok ';

export interface Upstream {
  /** `http://127.0.0.1:<port>` (OpenAI-compatible under `/v1`, Ollama at the root). */
  readonly url: string;
  close(): Promise<void>;
}

const CREATED = 1_700_000_000;

function chatJson(): string {
  return JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: REPLY_TEXT }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 24, total_tokens: 36 },
  });
}

/** 256 SSE events: a role chunk, 254 content chunks, a finish chunk; then `[DONE]`. */
function sseEvents(): Buffer[] {
  const frame = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'm',
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`;
  const out: string[] = [frame({ role: 'assistant', content: '' }, null)];
  for (let i = 1; i < SHAPE.streamChunks - 1; i++) out.push(frame({ content: TOKEN }, null));
  out.push(frame({}, 'stop'));
  out.push('data: [DONE]\n\n');
  return out.map((s) => Buffer.from(s));
}

/**
 * The text of the realistic stream, cut into tokens the way a model's tokenizer does (a word with its leading
 * space, punctuation and line breaks apart), with the escapes and non-ASCII characters real answers carry.
 */
const PROSE =
  '**Holiday Name:** Harmony Day\n\n**Date:** Celebrated on the first Saturday of May.\n\n**Purpose:** It is a day ' +
  'for "understanding", kindness and unity among communities — celebrating differences while promoting empathy ' +
  'and collaboration.\n\n1. **Potluck gatherings:** neighbours share dishes from their backgrounds, which ' +
  'starts conversations about each other’s cultures.\n2. **Story circles:** people of all ages tell stories ' +
  'from their heritage.\n3. **Art projects:** murals and sculptures that symbolise unity, made by artists and ' +
  'residents together.\n\n**Overall spirit:** a sense of community, reminding everyone that we are connected.';

/** 253 content tokens of PROSE, repeated as needed (a 256-event stream: role, tokens, finish, `[DONE]`). */
export const REAL_TOKENS: readonly string[] = (() => {
  const words = PROSE.match(/\n+|[ ]?[A-Za-z’]+|[ ]?[^A-Za-z’\n ]+/g) as string[];
  return Array.from({ length: SHAPE.streamChunks - 3 }, (_, i) => words[i % words.length] as string);
})();

/** The text the realistic stream carries. */
export const REAL_TEXT = REAL_TOKENS.join('');

/** A small deterministic PRNG (the bench must be repeatable). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The same 256 events as OpenAI's API sends them today: its chunk shape (`service_tier`, `system_fingerprint`,
 * `logprobs`, `usage: null`) and an `obfuscation` field of random length (0–15 characters, as in recorded
 * streams) on every frame, so no two frames are the same around their delta. `variant` seeds the randomness.
 */
function realisticEvents(variant: number): Buffer[] {
  const rand = prng(0x9e3779b9 + variant * 7919);
  const obfuscation = () => {
    let s = '';
    for (let n = Math.floor(rand() * 16); n > 0; n--) s += ALNUM[Math.floor(rand() * ALNUM.length)];
    return s;
  };
  const frame = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0',
      object: 'chat.completion.chunk',
      created: 1770933892,
      model: 'gpt-4.1-nano-2025-04-14',
      service_tier: 'default',
      system_fingerprint: 'fp_de604bd877',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      usage: null,
      obfuscation: obfuscation(),
    })}\n\n`;
  const out: string[] = [frame({ role: 'assistant', content: '', refusal: null }, null)];
  for (const t of REAL_TOKENS) out.push(frame({ content: t }, null));
  out.push(frame({}, 'stop'));
  out.push('data: [DONE]\n\n');
  return out.map((s) => Buffer.from(s));
}

/**
 * How the realistic stream is paced: groups of events written together (mostly one, sometimes 2–4, as a server
 * that flushed late) and the milliseconds before the next group (1–3). Seeded by `variant`.
 */
function pacing(variant: number, events: number): { group: number[]; gapMs: number[] } {
  const rand = prng(0x85ebca6b + variant * 104729);
  const group: number[] = [];
  const gapMs: number[] = [];
  for (let left = events; left > 0; ) {
    const r = rand();
    const g = Math.min(left, r < 0.7 ? 1 : r < 0.9 ? 2 : 3 + Math.floor(rand() * 2));
    group.push(g);
    gapMs.push(1 + Math.floor(rand() * 3));
    left -= g;
  }
  return { group, gapMs };
}

/** How many differently seeded realistic streams the upstream rotates through. */
const REAL_VARIANTS = 8;

function ollamaJson(): string {
  return JSON.stringify({
    model: 'm',
    created_at: '2024-01-01T00:00:00Z',
    message: { role: 'assistant', content: REPLY_TEXT },
    done: true,
    done_reason: 'stop',
    prompt_eval_count: 12,
    eval_count: 24,
  });
}

/** 256 NDJSON lines: 255 content lines and the `done` line. */
function ndjsonLines(): Buffer[] {
  const out: string[] = [];
  for (let i = 0; i < SHAPE.streamChunks - 1; i++) {
    out.push(
      `${JSON.stringify({ model: 'm', created_at: '2024-01-01T00:00:00Z', message: { role: 'assistant', content: TOKEN }, done: false })}\n`,
    );
  }
  out.push(
    `${JSON.stringify({ model: 'm', created_at: '2024-01-01T00:00:00Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 12, eval_count: 255 })}\n`,
  );
  return out.map((s) => Buffer.from(s));
}

function vectors(): number[][] {
  // Deterministic pseudo-random floats with a realistic number of digits.
  let x = 12345;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return Math.round((x / 2147483648 - 0.5) * 1e8) / 1e8;
  };
  return Array.from({ length: SHAPE.embedCount }, () => Array.from({ length: SHAPE.embedDims }, next));
}

function openaiEmbeddings(v: number[][]): string {
  return JSON.stringify({
    object: 'list',
    data: v.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model: 'e',
    usage: { prompt_tokens: 64, total_tokens: 64 },
  });
}

/** The same vectors as `encoding_format: "base64"` asks for them: little-endian float32 bytes, base64. */
function openaiEmbeddingsBase64(v: number[][]): string {
  const b64 = (x: number[]) => {
    const f = Float32Array.from(x);
    return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
  };
  return openaiEmbeddings(v.map(b64) as unknown as number[][]);
}

function ollamaEmbeddings(v: number[][]): string {
  return JSON.stringify({ model: 'e', embeddings: v, prompt_eval_count: 64 });
}

const JSON_TYPE = 'application/json';

/** Creates (does not start) the upstream server with every body precomputed. */
export function createUpstreamServer(): Server {
  const vec = vectors();
  const chat = Buffer.from(chatJson());
  const sse = sseEvents();
  const sseLength = sse.reduce((n, b) => n + b.length, 0);
  const ochat = Buffer.from(ollamaJson());
  const ndjson = ndjsonLines();
  const ndjsonLength = ndjson.reduce((n, b) => n + b.length, 0);
  const emb = Buffer.from(openaiEmbeddings(vec));
  const emb64 = Buffer.from(openaiEmbeddingsBase64(vec));
  const oemb = Buffer.from(ollamaEmbeddings(vec));
  const models = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
  const tags = Buffer.from(JSON.stringify({ models: [{ name: 'm', model: 'm' }] }));

  const real = Array.from({ length: REAL_VARIANTS }, (_, v) => {
    const events = realisticEvents(v);
    return { events, length: events.reduce((n, b) => n + b.length, 0), ...pacing(v, events.length) };
  });
  let served = 0;

  const whole = (res: ServerResponse, type: string, body: Buffer) => {
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    res.end(body);
  };
  // One write per event, as a real server flushes tokens: the client sees them over several reads.
  const pieces = (res: ServerResponse, type: string, parts: Buffer[], length: number) => {
    res.writeHead(200, { 'content-type': type, 'content-length': length, 'cache-control': 'no-cache' });
    for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
    res.end(parts[parts.length - 1]);
  };

  // The realistic stream: groups of events a few milliseconds apart, as a model produces its tokens, sent
  // chunked (no content-length) as the real API does.
  const paced = (res: ServerResponse, v: (typeof real)[number]) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let at = 0;
    let g = 0;
    const step = () => {
      const n = v.group[g] as number;
      const parts = v.events.slice(at, at + n);
      at += n;
      const chunk = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      if (at >= v.events.length) return void res.end(chunk);
      res.write(chunk);
      setTimeout(step, v.gapMs[g++]);
    };
    step();
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = req.url ?? '';
    // JSON.stringify never puts spaces around ':', and every client here sends a compact body.
    const streaming = body.includes('"stream":true');
    if (url === '/v1/chat/completions') {
      // Model `r`: the realistic stream, paced; model `o`: the same frames in one burst (one write per event).
      if (streaming && body.includes('"model":"r"'))
        paced(res, real[served++ % REAL_VARIANTS] as (typeof real)[0]);
      else if (streaming && body.includes('"model":"o"')) {
        const v = real[served++ % REAL_VARIANTS] as (typeof real)[0];
        pieces(res, 'text/event-stream', v.events, v.length);
      } else if (streaming) pieces(res, 'text/event-stream', sse, sseLength);
      else whole(res, JSON_TYPE, chat);
    } else if (url === '/v1/embeddings') {
      // Like the real API: base64 when asked for it, floats otherwise.
      whole(res, JSON_TYPE, body.includes('"encoding_format":"base64"') ? emb64 : emb);
    } else if (url === '/api/chat') {
      // Ollama streams unless told not to.
      if (body.includes('"stream":false')) whole(res, JSON_TYPE, ochat);
      else pieces(res, 'application/x-ndjson', ndjson, ndjsonLength);
    } else if (url === '/api/embed') {
      whole(res, JSON_TYPE, oemb);
    } else if (url === '/v1/models') {
      whole(res, JSON_TYPE, models);
    } else if (url === '/api/tags') {
      whole(res, JSON_TYPE, tags);
    } else {
      res.writeHead(404, { 'content-type': JSON_TYPE });
      res.end('{"error":{"message":"not found","type":"not_found_error"}}');
    }
  };

  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => handle(req, res, body));
  });
  server.maxRequestsPerSocket = 0;
  return server;
}

/** Starts the server in this thread. */
export async function listenUpstream(): Promise<Upstream> {
  const server = createUpstreamServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Where the upstream runs: a child process (default), a worker thread, or the client's own event loop. */
export type UpstreamMode = 'child' | 'worker' | 'inline';

/** Starts the upstream in `mode` and resolves once it listens. */
export async function startUpstream(mode: UpstreamMode = 'child'): Promise<Upstream> {
  if (mode === 'inline') return listenUpstream();
  if (mode === 'worker') {
    // tsx's hooks are not inherited by workers on Node 20: register them again inside the worker.
    const api = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
    const worker = new Worker(code, { eval: true, argv: ['--serve'] });
    const url = await new Promise<string>((resolve, reject) => {
      worker.once('message', (m: { url: string }) => resolve(m.url));
      worker.once('error', reject);
    });
    return {
      url,
      close: async () => {
        await worker.terminate();
      },
    };
  }
  // The child inherits tsx's --import hooks through process.execArgv.
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

// Entry point of the child process or worker thread.
if (process.argv.includes('--serve')) {
  const up = await listenUpstream();
  if (!isMainThread) parentPort?.postMessage({ url: up.url });
  else if (process.send) {
    process.send({ url: up.url });
    // The parent went away (finished or crashed): so do we.
    process.on('disconnect', () => process.exit(0));
  } else {
    // Started by hand (`tsx bench/upstream.ts --serve`), e.g. for `bench/profile.ts --url=…`.
    console.log(up.url);
  }
}
