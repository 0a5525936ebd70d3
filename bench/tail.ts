/**
 * Tail-latency rows (`hung`, `slow1in20`): what a caller waits when the first entry of a chain misbehaves, in
 * wall-clock milliseconds (the hang or the slow answer dominates, so ratios to a floor would say nothing).
 *
 * - `hung`: the first entry accepts the connection and never answers (a stuck Ollama); the second is the bench
 *   upstream. One call per variant, every variant at once (they only wait on timers, so running them side by side
 *   costs no precision and keeps the row as long as its slowest variant).
 * - `slow1in20`: the first entry answers in a few ms, except every 20th call, which takes 2 s. Each variant has
 *   its own slow server (so each sees exactly 1 call in 20 slow); variants run one after the other.
 *
 * Peers get the fallback loop a user would write: `try { A } catch { B }`, with their default timeout and with
 * a typical 10 s one. A variant whose default would take minutes (openai SDK: 10 min; AI SDK: no timeout) is not
 * run; its cell says why.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createManaLLM, type ManaLLM } from '../src/index.js';
import { quantile } from './measure.js';
import { REPLY_TEXT } from './upstream.js';

/** How slow the slow answers are, and how often. */
const SLOW = { ms: 2_000, every: 20 } as const;
/** The hedge delay the hedged variants set in their alias. */
const HEDGE_MS = 300;
/** A typical per-attempt timeout a user sets on a peer SDK (and the mana-llm budget that gives it). */
const TYPICAL_MS = 10_000;

const KEY = 'sk-bench-0000000000000000';
const MESSAGES = [{ role: 'user' as const, content: 'Say something short.' }];
const now = () => performance.now();

/** One line of the tail table; a cell is ms, or a text saying why it was not measured. */
export interface TailVariant {
  name: string;
  hungMs?: number | string;
  slow?: { p50: number; p99: number; max: number; calls: number } | string;
}
export interface TailResult {
  variants: TailVariant[];
  slow: { ms: number; every: number };
  hedgeMs: number;
  typicalMs: number;
}

/** A caller of one chain `[first, backup]`: one chat call, its answer checked. */
interface Caller {
  call(): Promise<void>;
  close(): Promise<void>;
}
type CallerFactory = (firstUrl: string, backupUrl: string) => Promise<Caller | string>;

function checkText(text: unknown): void {
  if (text !== REPLY_TEXT) throw new Error(`unexpected answer: ${String(text).slice(0, 80)}`);
}

/** A port that accepts connections and never answers; `close` drops every socket. */
async function hungServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** An OpenAI-compatible chat server that answers at once, except the `every`-th call after `arm()`. */
async function slowServer(): Promise<{ url: string; arm(): void; close(): Promise<void> }> {
  const body = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-tail',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: REPLY_TEXT }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 24, total_tokens: 36 },
    }),
  );
  let armed = false;
  let n = 0;
  const server: Server = createHttpServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      };
      // Models probes and warm-up calls are never slow; armed chat calls are, 1 in `every`.
      const slow = armed && req.url?.endsWith('/chat/completions') && ++n % SLOW.every === SLOW.every / 2;
      if (slow) setTimeout(answer, SLOW.ms).unref();
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    arm: () => {
      armed = true;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** mana-llm with the chain `[first, backup]` as an alias, `extra` merged into the alias and the options. */
function mana(alias: Record<string, unknown>, options: Record<string, unknown> = {}): CallerFactory {
  return async (first, backup) => {
    let llm: ManaLLM;
    try {
      llm = createManaLLM({
        aliases: { aliases: { 'mana/tail': { chain: ['first/m', 'backup/m'], ...alias } } },
        providers: {
          first: { type: 'openai', baseUrl: `${first}/v1`, apiKey: KEY },
          backup: { type: 'openai', baseUrl: `${backup}/v1`, apiKey: KEY },
        },
        health: { probes: false },
        ...options,
      });
    } catch (err) {
      // An option this build does not know yet (e.g. `hedge` before it lands).
      return `not in this build (${(err as Error).name})`;
    }
    return {
      async call() {
        const r = await llm.chat({ model: 'mana/tail', messages: MESSAGES });
        checkText(r.choices[0]?.message.content);
      },
      close: () => llm.close(),
    };
  };
}

interface OpenAISDK {
  chat: { completions: { create(body: Record<string, unknown>): Promise<unknown> } };
}
type OpenAICtor = new (o: {
  baseURL: string;
  apiKey: string;
  maxRetries: number;
  timeout?: number;
}) => OpenAISDK;

/** The openai SDK, `try { A } catch { B }`, no retries, `timeout` per request when given. */
function openai(timeout?: number): CallerFactory {
  return async (first, backup) => {
    const specifier = 'openai';
    const { default: OpenAI } = (await import(specifier)) as { default: OpenAICtor };
    const opts = (url: string) => {
      const o = { baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 };
      return timeout === undefined ? o : { ...o, timeout };
    };
    const a = new OpenAI(opts(first));
    const b = new OpenAI(opts(backup));
    const chat = async (c: OpenAISDK) => {
      const r = (await c.chat.completions.create({ model: 'm', messages: MESSAGES })) as {
        choices: { message: { content: string } }[];
      };
      checkText(r.choices[0]?.message.content);
    };
    return {
      async call() {
        try {
          await chat(a);
        } catch {
          await chat(b);
        }
      },
      close: async () => undefined,
    };
  };
}

/** The AI SDK (`generateText`, `createOpenAICompatible`), the same loop by hand: it has no fallback of its own. */
function aiSdk(timeout?: number): CallerFactory {
  return async (first, backup) => {
    const ai = 'ai';
    const compat = '@ai-sdk/openai-compatible';
    const sdk = (await import(ai)) as { generateText(o: Record<string, unknown>): Promise<{ text: string }> };
    const { createOpenAICompatible } = (await import(compat)) as {
      createOpenAICompatible(o: { name: string; baseURL: string; apiKey: string }): {
        chatModel(id: string): unknown;
      };
    };
    (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
    const model = (name: string, url: string) =>
      createOpenAICompatible({ name, baseURL: `${url}/v1`, apiKey: KEY }).chatModel('m');
    const a = model('first', first);
    const b = model('backup', backup);
    const chat = async (m: unknown) => {
      const r = await sdk.generateText({
        model: m,
        messages: MESSAGES,
        maxRetries: 0,
        ...(timeout ? { timeout } : {}),
      });
      checkText(r.text);
    };
    return {
      async call() {
        try {
          await chat(a);
        } catch {
          await chat(b);
        }
      },
      close: async () => undefined,
    };
  };
}

/** What each variant does in each row: a factory, or why it is not run. */
interface Plan {
  name: string;
  hung: CallerFactory | string;
  slow: CallerFactory | string;
}

function plans(quick: boolean): Plan[] {
  const hedged = mana({ hedge: { afterMs: HEDGE_MS } });
  const typical = mana({}, { timeouts: { totalMs: 2 * TYPICAL_MS } });
  return [
    {
      name: 'mana-llm, defaults (totalMs 120 s)',
      hung: quick ? 'not run in --quick (~60 s)' : mana({}),
      slow: mana({}),
    },
    { name: `mana-llm, timeouts.totalMs ${(2 * TYPICAL_MS) / 1000} s`, hung: typical, slow: 'as defaults' },
    { name: `mana-llm, hedge.afterMs ${HEDGE_MS}`, hung: hedged, slow: hedged },
    {
      name: 'mana-llm, hedge.afterMs auto',
      hung: 'not run (a fresh client has no latency sample)',
      slow: mana({ hedge: { afterMs: 'auto' } }),
    },
    { name: 'openai SDK, try/catch, default timeout', hung: 'not run (10 min timeout)', slow: openai() },
    {
      name: `openai SDK, try/catch, timeout ${TYPICAL_MS / 1000} s`,
      hung: openai(TYPICAL_MS),
      slow: 'as default',
    },
    { name: 'AI SDK, try/catch, no timeout (default)', hung: 'not run (waits forever)', slow: aiSdk() },
    {
      name: `AI SDK, try/catch, timeout ${TYPICAL_MS / 1000} s`,
      hung: aiSdk(TYPICAL_MS),
      slow: 'as default',
    },
  ];
}

/** Milliseconds to an answer with a hung first entry: one call. */
async function hungRow(f: CallerFactory, backupUrl: string): Promise<number | string> {
  // Warm the client's code on a healthy pair first: the row is about the wait, not a cold first call.
  const warm = await f(backupUrl, backupUrl);
  if (typeof warm === 'string') return warm;
  for (let i = 0; i < 20; i++) await warm.call();
  await warm.close();
  const hung = await hungServer();
  const caller = await f(hung.url, backupUrl);
  try {
    if (typeof caller === 'string') return caller;
    const t = now();
    await caller.call();
    return now() - t;
  } finally {
    if (typeof caller !== 'string') await caller.close();
    await hung.close();
  }
}

/** `calls` sequential calls through a first entry that is slow 1 call in 20, after a short warm-up. */
async function slowRow(
  f: CallerFactory,
  backupUrl: string,
  calls: number,
): Promise<NonNullable<TailVariant['slow']>> {
  const slow = await slowServer();
  const caller = await f(slow.url, backupUrl);
  try {
    if (typeof caller === 'string') return caller;
    for (let i = 0; i < 10; i++) await caller.call();
    slow.arm();
    const ms: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t = now();
      await caller.call();
      ms.push(now() - t);
    }
    return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: Math.max(...ms), calls };
  } finally {
    if (typeof caller !== 'string') await caller.close();
    await slow.close();
  }
}

/** Runs the requested tail rows against `backupUrl` (the bench upstream) and returns every variant's cells. */
export async function tailBench(
  backupUrl: string,
  o: { quick: boolean; hung: boolean; slow: boolean },
  log: (s: string) => void,
): Promise<TailResult> {
  const ps = plans(o.quick);
  const variants: TailVariant[] = ps.map((p) => ({ name: p.name }));
  const calls = o.quick ? 40 : 100;
  if (o.hung) {
    log(`hung first entry: ${ps.length} variants at once, one call each (the slowest waits its timeout)`);
    await Promise.all(
      ps.map(async (p, i) => {
        (variants[i] as TailVariant).hungMs =
          typeof p.hung === 'string' ? p.hung : await hungRow(p.hung, backupUrl);
      }),
    );
  }
  if (o.slow) {
    log(`first entry slow 1 call in ${SLOW.every} (${SLOW.ms} ms): ${calls} calls per variant`);
    // One variant after the other: their fast calls (a few ms) would otherwise queue behind each other.
    for (const [i, p] of ps.entries())
      (variants[i] as TailVariant).slow =
        typeof p.slow === 'string' ? p.slow : await slowRow(p.slow, backupUrl, calls);
  }
  return { variants, slow: { ...SLOW }, hedgeMs: HEDGE_MS, typicalMs: TYPICAL_MS };
}

const ms = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));

/** The tail table as markdown lines (appended to the bench's output). */
export function renderTail(t: TailResult): string[] {
  const lines = [
    '',
    `Tail latency, wall-clock ms (first entry hung, or slow ${t.slow.ms / 1000} s 1 call in ${t.slow.every}; the backup is the bench upstream):`,
    '',
    '| variant | hung first entry: ms to answer | slow 1 in 20: p50 ms | slow 1 in 20: p99 ms |',
    '|---|---:|---:|---:|',
  ];
  for (const v of t.variants) {
    const hung = v.hungMs === undefined ? '—' : typeof v.hungMs === 'string' ? v.hungMs : ms(v.hungMs);
    const s = v.slow;
    const slow = s === undefined ? ['—', '—'] : typeof s === 'string' ? [s, s] : [ms(s.p50), ms(s.p99)];
    lines.push(`| ${v.name} | ${hung} | ${slow.join(' | ')} |`);
  }
  return lines;
}
