/**
 * Soak and leak check: many mixed calls and a burst of concurrent streams against local upstreams that fail at
 * random (seeded), then proof that nothing was lost, hung, leaked or left open.
 *
 *   node --expose-gc --import tsx scripts/soak.ts [--calls 100000] [--streams 1000] [--seed 1] [--concurrency 200]
 *
 * Exit 0 when every check holds; 1 (with the failed checks on stderr) otherwise.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import {
  type ChatChunk,
  createManaLLM,
  isManaLLMError,
  type ManaLLM,
  type ProviderOptions,
} from '../src/index.js';
import {
  anthropicCodec,
  googleCodec,
  type MockBehavior,
  type MockCodec,
  type MockProtocol,
  type MockUpstream,
  ollamaCodec,
  openaiCodec,
  startMockUpstream,
} from '../src/testing/index.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '100000' },
    streams: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '200' },
  },
});
const CALLS = Number(args.calls);
const STREAMS = Number(args.streams);
const SEED = Number(args.seed);
const CONCURRENCY = Number(args.concurrency);
/** A call that has not settled after this long (real time) is counted as hung. */
const CALL_DEADLINE_MS = 20_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('soak: run with node --expose-gc --import tsx scripts/soak.ts');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------------------------
// Determinism, bookkeeping

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with the same --seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
function weighted<T>(table: readonly (readonly [number, T])[]): () => T {
  const total = table.reduce((s, [w]) => s + w, 0);
  return () => {
    let r = rand() * total;
    for (const [w, v] of table) if ((r -= w) < 0) return v;
    return (table.at(-1) as readonly [number, T])[1];
  };
}

const tally = new Map<string, number>();
const bump = (key: string, n = 1): void => void tally.set(key, (tally.get(key) ?? 0) + n);
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => void unhandled.push(reason));
process.on('uncaughtException', (err) => void unhandled.push(err));
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
};

function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Bytes of compiled code on the heap (reported apart: it grows while V8 optimises, not with what is retained). */
function codeSpace(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0;
}

async function settleHeap(): Promise<number> {
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setImmediate(r));
    gc?.();
  }
  return process.memoryUsage().heapUsed;
}

const HUNG = Symbol('hung');
/** Races `p` against the per-call deadline; the timer never outlives the call. */
async function withDeadline<T>(p: Promise<T>): Promise<T | typeof HUNG> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof HUNG>((resolve) => {
    timer = setTimeout(() => resolve(HUNG), CALL_DEADLINE_MS);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Upstreams: counting TCP fronts, the shared mock upstreams with a random fault per request, and held streams

const CODECS: Record<MockProtocol, MockCodec> = {
  openai: openaiCodec,
  ollama: ollamaCodec,
  google: googleCodec,
  anthropic: anthropicCodec,
};

/** A TCP front that counts the connections the client holds to an upstream (the server side of them). */
interface Front {
  readonly port: number;
  readonly open: number;
  readonly accepted: number;
  /** The connections still open: how long ago each was accepted and how many bytes the client sent on it. */
  describeOpen(): string[];
  close(): Promise<void>;
}

async function front(targetPort: number): Promise<Front> {
  const sockets = new Set<Socket>();
  const since = new WeakMap<Socket, number>();
  let accepted = 0;
  const server: Server = createServer((c) => {
    accepted++;
    sockets.add(c);
    since.set(c, Date.now());
    const u = createConnection(targetPort, '127.0.0.1');
    const kill = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', kill).on('close', kill);
    u.on('error', kill).on('close', kill);
    c.on('close', () => sockets.delete(c));
    c.pipe(u);
    u.pipe(c);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get open() {
      return sockets.size;
    },
    get accepted() {
      return accepted;
    },
    describeOpen: () =>
      [...sockets].map(
        (c) => `accepted ${Date.now() - (since.get(c) ?? 0)} ms ago, ${c.bytesRead} bytes from the client`,
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

type FaultName =
  | 'none'
  | 'http-5xx'
  | '429-retry-after'
  | '429-no-hint'
  | 'reset'
  | 'malformed'
  | 'in-band-error'
  | 'in-band-auth'
  | 'blocked'
  | 'stream-reset'
  | 'stream-truncated'
  | 'stream-stall'
  | 'hang'
  | 'headers-stall'
  | 'slow';

const FAULTS = weighted<[FaultName, () => MockBehavior]>([
  [85, ['none', () => ({ reply: 'All systems nominal.', chunks: 1 + Math.floor(rand() * 4) })]],
  [5, ['http-5xx', () => ({ status: pick([500, 502, 503]) })]],
  [3, ['429-retry-after', () => ({ status: 429, headers: { 'retry-after-ms': '40' } })]],
  [2, ['429-no-hint', () => ({ status: 429 })]],
  [3, ['reset', () => ({ reset: true })]],
  [3, ['malformed', () => ({ malformed: true })]],
  [2, ['in-band-error', () => ({ inBandError: 'server' })]],
  [0.5, ['in-band-auth', () => ({ inBandError: 'auth' })]],
  [0.5, ['blocked', () => ({ blocked: true })]],
  [3, ['stream-reset', () => ({ streamThenReset: 2 })]],
  [2, ['stream-truncated', () => ({ streamThenEnd: 2 })]],
  [1, ['stream-stall', () => ({ streamThenStall: 2 })]],
  [1.5, ['hang', () => ({ hang: true })]],
  [1.5, ['headers-stall', () => ({ stallAfterHeaders: true })]],
  [1, ['slow', () => ({ slow: 'ok' })]],
]);

/** A mock upstream fed one random behaviour per request; `faults()` counts those it actually used. */
interface FaultyUpstream {
  readonly url: string;
  readonly front: Front;
  topUp(): void;
  faults(): Map<FaultName, number>;
  close(): Promise<void>;
}

// Enough queued behaviours that concurrent arrivals never drain the queue between two top-ups.
const QUEUE_AHEAD = 2048;

async function faultyUpstream(protocol: MockProtocol): Promise<FaultyUpstream> {
  const up: MockUpstream = await startMockUpstream(protocol, { reply: 'default' });
  const port = Number(new URL(up.url).port);
  const f = await front(port);
  const planned: FaultName[] = [];
  const topUp = () => {
    while (planned.length - up.count() < QUEUE_AHEAD) {
      const [name, make] = FAULTS();
      planned.push(name);
      up.enqueue(make());
    }
  };
  topUp();
  return {
    url: `http://127.0.0.1:${f.port}${CODECS[protocol].basePath}`,
    front: f,
    topUp,
    faults() {
      const used = new Map<FaultName, number>();
      for (const name of planned.slice(0, up.count())) used.set(name, (used.get(name) ?? 0) + 1);
      return used;
    },
    async close() {
      await f.close();
      await up.close();
    },
  };
}

/** Streams that send their first content frame at once, then wait for `release()`; faults picked per request. */
interface HoldingUpstream {
  readonly url: string;
  readonly held: number;
  readonly front: Front;
  readonly faults: Map<string, number>;
  release(): void;
  close(): Promise<void>;
}

const STREAM_FAULTS = weighted<
  'none' | 'http-500' | 'reset-before-headers' | 'reset-after-commit' | 'truncated'
>([
  [80, 'none'],
  [7, 'http-500'],
  [3, 'reset-before-headers'],
  [6, 'reset-after-commit'],
  [4, 'truncated'],
]);

async function holdingUpstream(protocol: MockProtocol): Promise<HoldingUpstream> {
  const codec = CODECS[protocol];
  const waiting: (() => void)[] = [];
  let released = false;
  const faults = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      const route = codec.route(
        req.method ?? 'GET',
        (req.url ?? '').slice(codec.basePath.length),
        raw ? JSON.parse(raw) : undefined,
      );
      if (route?.op !== 'stream') return void res.writeHead(404).end('{}');
      const fault = STREAM_FAULTS();
      faults.set(fault, (faults.get(fault) ?? 0) + 1);
      if (fault === 'http-500')
        return void res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
      if (fault === 'reset-before-headers') return void req.socket.destroy();
      const s = codec.stream({ reply: 'held-stream-text', chunks: 4 }, route.model);
      res.writeHead(200, { 'content-type': s.contentType });
      res.write([...s.prelude, s.content[0]].join(''));
      const finish = () => {
        if (fault === 'reset-after-commit') return void req.socket.destroy();
        if (fault === 'truncated') return void res.end(s.content.slice(1).join(''));
        res.end([...s.content.slice(1), ...s.end].join(''));
      };
      if (released) finish();
      else waiting.push(finish);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const f = await front((server.address() as AddressInfo).port);
  return {
    url: `http://127.0.0.1:${f.port}${codec.basePath}`,
    get held() {
      return waiting.length;
    },
    front: f,
    faults,
    release() {
      released = true;
      for (const fn of waiting.splice(0)) fn();
    },
    async close() {
      await f.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Calls

const MODEL: Record<MockProtocol, { chat: string; embed: string }> = {
  openai: { chat: 'gpt-4o-mini', embed: 'text-embedding-3-small' },
  ollama: { chat: 'llama3.1:8b', embed: 'nomic-embed-text' },
  google: { chat: 'gemini-2.0-flash', embed: 'text-embedding-004' },
  anthropic: { chat: 'claude-sonnet-4-5', embed: '' },
};
const MESSAGES = [{ role: 'user' as const, content: 'Status?' }];
const CALLER_ABORT = new Error('soak: caller aborted');

/** Settles one call into an accounting bucket: ok, a typed error code, the caller's own abort, lost or hung. */
async function account(kind: string, work: () => Promise<unknown>): Promise<void> {
  bump(`calls.${kind}`);
  await outcomeOf(work);
}

async function outcomeOf(work: () => Promise<unknown>): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await withDeadline(work());
  } catch (err) {
    if (err === CALLER_ABORT) return bump('outcome.caller-abort');
    if (isManaLLMError(err)) {
      if (process.env.SOAK_DEBUG && 'attempts' in err)
        for (const a of (err as { attempts: { reason: string }[] }).attempts) bump(`debug.${a.reason}`);
      return bump(`outcome.error.${err.code}`);
    }
    bump('outcome.untyped');
    if ((tally.get('outcome.untyped') ?? 0) <= 3) console.error('soak: untyped error', err);
    return;
  }
  bump(outcome === HUNG ? 'outcome.hung' : 'outcome.ok');
}

async function drain(stream: AsyncIterable<ChatChunk>, stopEarly: boolean): Promise<void> {
  for await (const chunk of stream) {
    if (stopEarly && chunk.choices[0]?.delta.content) break;
  }
}

function client(
  providers: Record<string, ProviderOptions>,
  aliases: Record<string, string[]>,
  short: boolean,
): ManaLLM {
  return createManaLLM({
    aliases: { aliases: Object.fromEntries(Object.entries(aliases).map(([k, chain]) => [k, { chain }])) },
    providers,
    health: short
      ? { failureThreshold: 3, cooldownMs: 250, probeIntervalMs: 500, probeTimeoutMs: 1000 }
      : { probes: false },
    timeouts: short
      ? { connectMs: 2000, totalMs: 5000, firstChunkMs: 1000, idleMs: 1000 }
      : { connectMs: 5000, totalMs: 60_000, firstChunkMs: 15_000, idleMs: 30_000 },
  });
}

/** Phase 1: `calls` mixed chat / stream / embed calls over mixed aliases, `CONCURRENCY` at a time. */
async function mixedCalls(calls: number): Promise<{ faults: Map<string, number>; accepted: number }> {
  const protocols: MockProtocol[] = ['openai', 'ollama', 'google', 'anthropic'];
  const ups = new Map<string, { protocol: MockProtocol; up: FaultyUpstream }>();
  for (const protocol of protocols)
    ups.set(`p-${protocol}`, { protocol, up: await faultyUpstream(protocol) });
  ups.set('p-openai2', { protocol: 'openai', up: await faultyUpstream('openai') });
  const providers: Record<string, ProviderOptions> = {};
  for (const [id, { protocol, up }] of ups) {
    providers[id] = { type: protocol, baseUrl: up.url, apiKey: `key-${id}`, timeoutMs: 1000 };
  }
  const chat = (id: string) => `${id}/${MODEL[ups.get(id)?.protocol ?? 'openai'].chat}`;
  const embed = (id: string) => `${id}/${MODEL[ups.get(id)?.protocol ?? 'openai'].embed}`;
  const llm = client(
    providers,
    {
      'mana/fast': [chat('p-ollama'), chat('p-openai'), chat('p-anthropic')],
      'mana/long': [chat('p-anthropic'), chat('p-google'), chat('p-openai2')],
      'mana/all': [chat('p-google'), chat('p-openai2'), chat('p-ollama'), chat('p-anthropic')],
      'mana/embed': [embed('p-ollama'), embed('p-google'), embed('p-openai')],
    },
    true,
  );
  const chatModels = ['mana/fast', 'mana/long', 'mana/all', chat('p-openai2')];
  const embedModels = ['mana/embed', embed('p-google')];
  const kinds = weighted<'chat' | 'stream' | 'embed'>([
    [50, 'chat'],
    [30, 'stream'],
    [20, 'embed'],
  ]);

  let next = 0;
  const worker = async () => {
    while (next < calls) {
      next++;
      // A call that fails fast (every breaker open) settles in microtasks only: yield, as a real server would
      // between requests, or the workers starve the very I/O and timers that let providers recover.
      await new Promise((r) => setImmediate(r));
      for (const { up } of ups.values()) up.topUp();
      const kind = kinds();
      const abort = rand() < 0.02 ? new AbortController() : undefined;
      const abortTimer = abort
        ? setTimeout(() => abort.abort(CALLER_ABORT), Math.floor(rand() * 20))
        : undefined;
      const opts = abort ? { signal: abort.signal } : {};
      const stopEarly = rand() < 0.05;
      await account(kind, async () => {
        if (kind === 'chat') return llm.chat({ model: pick(chatModels), messages: MESSAGES }, opts);
        if (kind === 'embed') return llm.embed({ model: pick(embedModels), input: ['a', 'bb'] }, opts);
        return drain(llm.stream({ model: pick(chatModels), messages: MESSAGES }, opts), stopEarly);
      });
      clearTimeout(abortTimer);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  await llm.close();
  // The upstreams live in this process: under CPU starvation their accept/close callbacks run late, so wait.
  await waitUntil(() => [...ups.values()].every(({ up }) => up.front.open === 0), 10_000);
  const openAfter = [...ups.values()].reduce((s, { up }) => s + up.front.open, 0);
  check(
    openAfter === 0,
    `phase 1: ${openAfter} upstream connections still open after close(): ${[...ups.values()].flatMap(({ up }) => up.front.describeOpen()).join('; ')}`,
  );
  bump('sockets.open-after-close', openAfter);
  const faults = new Map<string, number>();
  for (const { up } of ups.values())
    for (const [k, v] of up.faults()) faults.set(k, (faults.get(k) ?? 0) + v);
  const accepted = [...ups.values()].reduce((s, { up }) => s + up.front.accepted, 0);
  for (const { up } of ups.values()) await up.close();
  return { faults, accepted };
}

/** Phase 2: `n` streams open at once (each holds its upstream after the first content chunk), then drained. */
async function concurrentStreams(
  n: number,
): Promise<{ faults: Map<string, number>; committed: number; peakOpen: number }> {
  const protocols: MockProtocol[] = ['openai', 'anthropic', 'google', 'ollama'];
  const ups = new Map<string, { protocol: MockProtocol; up: HoldingUpstream }>();
  for (const protocol of protocols)
    ups.set(`s-${protocol}`, { protocol, up: await holdingUpstream(protocol) });
  const providers: Record<string, ProviderOptions> = {};
  for (const [id, { protocol, up }] of ups)
    providers[id] = { type: protocol, baseUrl: up.url, apiKey: `key-${id}` };
  const target = (id: string) => `${id}/${MODEL[ups.get(id)?.protocol ?? 'openai'].chat}`;
  const llm = client(
    providers,
    {
      'mana/s1': [target('s-openai'), target('s-anthropic'), target('s-google'), target('s-ollama')],
      'mana/s2': [target('s-ollama'), target('s-google'), target('s-anthropic'), target('s-openai')],
    },
    false,
  );
  const iterators = Array.from({ length: n }, () =>
    llm.stream({ model: pick(['mana/s1', 'mana/s2']), messages: MESSAGES })[Symbol.asyncIterator](),
  );
  bump('calls.concurrent-stream', n);
  const firsts = await Promise.all(
    iterators.map(async (it) => {
      try {
        const r = await withDeadline(it.next());
        return r === HUNG ? 'hung' : r.done ? 'ended' : 'committed';
      } catch (err) {
        if (isManaLLMError(err)) bump(`outcome.error.${err.code}`);
        else bump('outcome.untyped');
        return 'failed';
      }
    }),
  );
  const committed = firsts.filter((f) => f === 'committed').length;
  const held = [...ups.values()].reduce((s, { up }) => s + up.held, 0);
  const peakOpen = [...ups.values()].reduce((s, { up }) => s + up.front.open, 0);
  check(held === committed, `phase 2: ${held} upstream streams held but ${committed} committed`);
  check(
    peakOpen >= committed,
    `phase 2: only ${peakOpen} upstream connections open for ${committed} streams`,
  );
  for (const { up } of ups.values()) up.release();
  await Promise.all(
    iterators.map(async (it, i) => {
      if (firsts[i] === 'failed') return;
      if (firsts[i] === 'hung') return void bump('outcome.hung');
      await outcomeOf(async () => {
        for (;;) if ((await it.next()).done) return;
      });
    }),
  );
  await llm.close();
  // The upstreams live in this process: under CPU starvation their accept/close callbacks run late, so wait.
  await waitUntil(() => [...ups.values()].every(({ up }) => up.front.open === 0), 10_000);
  const openAfter = [...ups.values()].reduce((s, { up }) => s + up.front.open, 0);
  check(
    openAfter === 0,
    `phase 2: ${openAfter} upstream connections still open after close(): ${[...ups.values()].flatMap(({ up }) => up.front.describeOpen()).join('; ')}`,
  );
  bump('sockets.open-after-close', openAfter);
  const faults = new Map<string, number>();
  for (const { up } of ups.values())
    for (const [k, v] of up.faults) faults.set(`stream:${k}`, (faults.get(`stream:${k}`) ?? 0) + v);
  for (const { up } of ups.values()) await up.close();
  return { faults, committed, peakOpen };
}

async function waitUntil(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  // Warm-up on the same code paths: V8 keeps compiling (optimised code, inline caches) for the first few thousand
  // calls, which is growth of the engine, not of what the library holds on to.
  await mixedCalls(Math.min(5000, CALLS));
  await concurrentStreams(Math.min(100, STREAMS));
  tally.clear();
  failures.length = 0;
  // Closed sockets and servers leave the resource list a few turns after their close callbacks.
  await new Promise((r) => setTimeout(r, 200));
  const heapBefore = await settleHeap();
  const codeBefore = codeSpace();
  const handlesBefore = resources();

  const tMixed = Date.now();
  const p1 = await mixedCalls(CALLS);
  const mixedMs = Date.now() - tMixed;
  const p2 = await concurrentStreams(STREAMS);
  await new Promise((r) => setTimeout(r, 200));
  const heapAfter = await settleHeap();
  const codeAfter = codeSpace();
  const handlesAfter = resources();

  const calls = [...tally].filter(([k]) => k.startsWith('calls.')).reduce((s, [, v]) => s + v, 0);
  const outcomes = [...tally].filter(([k]) => k.startsWith('outcome.')).reduce((s, [, v]) => s + v, 0);
  const faults = new Map([...p1.faults, ...p2.faults]);
  const injected = [...faults]
    .filter(([k]) => k !== 'none' && k !== 'stream:none')
    .reduce((s, [, v]) => s + v, 0);
  const extra = Object.entries(handlesAfter)
    .map(([k, v]) => [k, v - (handlesBefore[k] ?? 0)] as const)
    .filter(([, d]) => d > 0);
  const heapDelta = (heapAfter - heapBefore) / heapBefore;

  check(calls === CALLS + STREAMS, `calls made ${calls}, expected ${CALLS + STREAMS}`);
  check(outcomes === calls, `${calls} calls but ${outcomes} outcomes: some call was lost`);
  check(!tally.get('outcome.hung'), `${tally.get('outcome.hung')} calls hung past ${CALL_DEADLINE_MS}ms`);
  check(!tally.get('outcome.untyped'), `${tally.get('outcome.untyped')} calls failed with an untyped error`);
  check(
    unhandled.length === 0,
    `${unhandled.length} unhandled rejections / exceptions: ${String(unhandled[0])}`,
  );
  check(
    extra.length === 0,
    `extra active resources after close: ${JSON.stringify(Object.fromEntries(extra))}`,
  );
  check(heapDelta <= 0.1, `heap grew ${(heapDelta * 100).toFixed(1)} % (limit 10 %)`);
  check(p2.committed > 0, 'phase 2: no stream committed');

  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const lines = [
    `soak seed=${SEED} concurrency=${CONCURRENCY} (${((Date.now() - t0) / 1000).toFixed(1)} s, mixed phase ${(mixedMs / 1000).toFixed(1)} s)`,
    `calls made: ${calls} (chat ${tally.get('calls.chat') ?? 0}, stream ${tally.get('calls.stream') ?? 0}, embed ${tally.get('calls.embed') ?? 0}, concurrent streams ${tally.get('calls.concurrent-stream') ?? 0})`,
    `outcomes: ${[...tally]
      .filter(([k]) => k.startsWith('outcome.'))
      .map(([k, v]) => `${k.slice(8)} ${v}`)
      .join(', ')}`,
    `faults injected: ${injected} (${[...faults]
      .filter(([k]) => k !== 'none' && k !== 'stream:none')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `upstream connections accepted: ${p1.accepted} (mixed); concurrent streams committed ${p2.committed}, upstream connections open at peak ${p2.peakOpen}`,
    `upstream connections open after close(): ${tally.get('sockets.open-after-close') ?? 0}`,
    `active resources before: ${JSON.stringify(handlesBefore)} after: ${JSON.stringify(handlesAfter)}`,
    `heap before: ${mb(heapBefore)} after: ${mb(heapAfter)} (${heapDelta >= 0 ? '+' : ''}${(heapDelta * 100).toFixed(1)} %; of which compiled code ${mb(codeBefore)} → ${mb(codeAfter)})`,
    `unhandled rejections: ${unhandled.length}`,
  ];
  console.log(lines.join('\n'));
  if (process.env.SOAK_DEBUG) console.log([...tally].filter(([k]) => k.startsWith('debug.')));
  if (failures.length > 0) {
    console.error(`soak FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('soak OK');
  }
}

main().catch((err) => {
  console.error('soak crashed:', err);
  process.exitCode = 1;
});
