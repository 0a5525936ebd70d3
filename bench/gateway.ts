/**
 * The gateway row: what one HTTP hop in front of the upstream costs. The same undici client calls the upstream
 * directly, through `mana-llm serve` (the real CLI in a child process), and through the Portkey gateway
 * (`@portkey-ai/gateway`, its Node server in a child process) — each hop forwarding to the same local upstream.
 * Rounds interleave the three (rotated order), each ratio is taken against the direct call of the same round.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../node_modules/undici/index.js';
import { REPLY_TEXT, SHAPE, TOKEN } from './upstream.js';

/** Column names of the gateway table. */
export const DIRECT = 'direct (undici → upstream)';
export const MANA = 'undici → mana-llm serve → upstream';
export const PORTKEY = 'undici → Portkey gateway → upstream';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say something short.' },
];
const STREAM_TEXT_LENGTH = TOKEN.length * (SHAPE.streamChunks - 2);

interface Hop {
  readonly name: string;
  readonly origin: string;
  readonly headers: Record<string, string>;
  readonly model: string;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `mana-llm serve` through tsx, with one alias whose chain is the bench upstream; resolves with its origin. */
async function startMana(upstreamUrl: string): Promise<{ origin: string; proc: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'mana-bench-'));
  writeFileSync(join(dir, 'aliases.yaml'), 'aliases:\n  mana/bench:\n    chain: [up/m]\n');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      providers: { up: { type: 'openai', baseUrl: `${upstreamUrl}/v1`, apiKey: 'sk-bench-0123456789' } },
      health: { probes: false },
    }),
  );
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--config',
      join(dir, 'config.json'),
      join(dir, 'aliases.yaml'),
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  const origin = await new Promise<string>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`mana-llm serve exited with ${code}`)));
    proc.stdout?.on('data', (c: Buffer) => {
      // Keep draining (one log line per request) so the child never blocks on a full pipe.
      if (out === undefined) return;
      out += c.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        resolve(m[1] as string);
        out = undefined as unknown as string;
      }
    });
  });
  return { origin, proc };
}

/** Portkey's Node server (`build/start-server.js --headless`); resolves once it answers. */
async function startPortkey(): Promise<{ origin: string; proc: ChildProcess }> {
  const port = await freePort();
  const script = join(ROOT, 'bench/node_modules/@portkey-ai/gateway/build/start-server.js');
  const proc = spawn(process.execPath, [script, `--port=${port}`, '--headless'], {
    cwd: join(ROOT, 'bench'),
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    stdio: 'ignore',
  });
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`Portkey gateway exited with ${proc.exitCode}`);
    try {
      if ((await fetch(origin)).ok) return { origin, proc };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Portkey gateway did not start');
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Per-round medians of each hop, for chat (µs per call) and a 256-chunk stream (µs per stream). */
export interface GatewayResult {
  chat: Map<string, number[]>;
  stream: Map<string, number[]>;
}

/** Runs the gateway row: `rounds` × (`calls` sequential chats and `streams` streams) per hop. */
export async function gatewayBench(
  upstreamUrl: string,
  p: { rounds: number; calls: number; streams: number; warm: number },
  log: (s: string) => void,
): Promise<GatewayResult> {
  const mana = await startMana(upstreamUrl);
  const portkey = await startPortkey();
  const auth = { 'content-type': 'application/json', authorization: 'Bearer sk-bench-0123456789' };
  const hops: Hop[] = [
    { name: DIRECT, origin: upstreamUrl, headers: auth, model: 'm' },
    { name: MANA, origin: mana.origin, headers: auth, model: 'mana/bench' },
    {
      name: PORTKEY,
      origin: portkey.origin,
      headers: { ...auth, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstreamUrl}/v1` },
      model: 'm',
    },
  ];
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const post = (h: Hop, stream: boolean) =>
    agent.request({
      origin: h.origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers: h.headers,
      body: JSON.stringify({ model: h.model, messages: MESSAGES, ...(stream ? { stream: true } : {}) }),
    });
  const chat = async (h: Hop) => {
    const res = await post(h, false);
    const json = (await res.body.json()) as { choices: { message: { content: string } }[] };
    if (json.choices[0]?.message.content !== REPLY_TEXT) throw new Error(`${h.name}: unexpected reply`);
  };
  const stream = async (h: Hop) => {
    const res = await post(h, true);
    let text = '';
    let buf = '';
    res.body.setEncoding('utf8');
    for await (const piece of res.body as AsyncIterable<string>) {
      buf += piece;
      let end: number;
      while ((end = buf.indexOf('\n\n')) !== -1) {
        const frame = buf.slice(0, end).trim();
        buf = buf.slice(end + 2);
        const data = frame.startsWith('data:') ? frame.slice(5).trim() : '';
        if (data === '' || data === '[DONE]') continue;
        text +=
          (JSON.parse(data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ??
          '';
      }
    }
    if (text.length !== STREAM_TEXT_LENGTH)
      throw new Error(`${h.name}: stream carried ${text.length} characters`);
  };
  const time = async (fn: () => Promise<void>, n: number) => {
    const us: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn();
      us.push((performance.now() - t) * 1000);
    }
    return median(us);
  };
  try {
    log(`gateway: warm-up (${p.warm} calls per hop)`);
    for (const h of hops) {
      for (let i = 0; i < p.warm; i++) await chat(h);
      for (let i = 0; i < Math.ceil(p.warm / 20); i++) await stream(h);
    }
    const out: GatewayResult = {
      chat: new Map(hops.map((h) => [h.name, []])),
      stream: new Map(hops.map((h) => [h.name, []])),
    };
    log(`gateway: ${p.rounds} rounds × ${p.calls} chats and ${p.streams} streams per hop`);
    for (let r = 0; r < p.rounds; r++) {
      const order = hops.map((_, i) => hops[(i + r) % hops.length] as Hop);
      for (const h of order) out.chat.get(h.name)?.push(await time(() => chat(h), p.calls));
      for (const h of order) out.stream.get(h.name)?.push(await time(() => stream(h), p.streams));
    }
    return out;
  } finally {
    await agent.close();
    mana.proc.kill('SIGTERM');
    portkey.proc.kill('SIGTERM');
  }
}
