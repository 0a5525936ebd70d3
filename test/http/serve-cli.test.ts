import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { openaiCodec } from '../../src/testing/index.js';
import { closeAll, waitFor } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

const API_KEY = 'serve-key-SECRET-4242';
const UPSTREAM_KEY = 'sk-upstream-SECRET-777777';
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await closeAll();
});

/** An OpenAI-compatible upstream that answers at once, except requests saying HOLD, which wait for `release()`. */
async function upstream() {
  const held: { res: ServerResponse; model: string }[] = [];
  const up = await rawUpstream((text, res) => {
    const body = JSON.parse(text) as { model: string; stream?: boolean };
    if (text.includes('HOLD')) return void held.push({ res, model: body.model });
    if (body.stream) {
      const f = openaiCodec.stream({ reply: 'streamed answer', chunks: 3 }, body.model);
      res.writeHead(200, { 'content-type': f.contentType });
      return void res.end([...f.prelude, ...f.content, ...f.end].join(''));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(openaiCodec.chat({ reply: 'served answer' }, body.model)));
  });
  const release = () => {
    for (const { res, model } of held.splice(0)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openaiCodec.chat({ reply: 'held answer' }, model)));
    }
  };
  return { up, held, release };
}

/** Spawns the real CLI (through tsx, as `npx mana-llm serve` runs dist) and waits for its listening line. */
/** A directory holding `aliases.yaml` (mana/x → up/m1) and a `config.json` for the upstream at `url`, probes off. */
function configDir(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mana-serve-'));
  writeFileSync(join(dir, 'aliases.yaml'), 'aliases:\n  mana/x:\n    chain: [up/m1]\n');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      providers: { up: { type: 'openai', baseUrl: url, apiKey: UPSTREAM_KEY } },
      health: { probes: false },
    }),
  );
  return dir;
}

async function start(
  dir: string,
  extra: string[] = [],
  aliasesFile: string[] = [join(dir, 'aliases.yaml')],
  env: NodeJS.ProcessEnv = {},
) {
  let stdout = '';
  let stderr = '';
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      ...extra,
      '--config',
      join(dir, 'config.json'),
      ...aliasesFile,
    ],
    {
      env: { PATH: process.env.PATH, MANA_LLM_API_KEYS: `other-key-1, ${API_KEY}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child = proc;
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await waitFor(
    () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(stdout),
    `listening line (stderr: ${stderr})`,
    20_000,
  );
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] as string;
  return { proc, url, exited, out: () => stdout, err: () => stderr };
}

describe('mana-llm serve (the real CLI in a child process)', { timeout: 60_000 }, () => {
  it('serves the openai client, logs one line per request, reloads on SIGHUP and drains on SIGTERM', async () => {
    const { up, held, release } = await upstream();
    const dir = configDir(up.url);
    const s = await start(dir);
    expect(s.out()).toMatch(/\(1 aliases, providers up, key check on\)\n$/);
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'private words' }];

    const { data, response } = await openai.chat.completions
      .create({ model: 'mana/x', messages })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('served answer');
    expect(response.headers.get('x-mana-llm-resolved')).toBe('up/m1');
    let text = '';
    for await (const c of await openai.chat.completions.create({ model: 'mana/x', messages, stream: true }))
      text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('streamed answer');
    const denied = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await expect(denied.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    // SIGHUP: the edited file is in force without a restart.
    writeFileSync(
      join(dir, 'aliases.yaml'),
      'aliases:\n  mana/x:\n    chain: [up/m1]\n  mana/y:\n    chain: [up/m2]\n',
    );
    s.proc.kill('SIGHUP');
    await waitFor(() => s.err().includes('aliases reloaded'), 'reload line', 10_000);
    const y = await openai.chat.completions.create({ model: 'mana/y', messages }).withResponse();
    expect(y.response.headers.get('x-mana-llm-resolved')).toBe('up/m2');

    // SIGTERM: an in-flight call still gets its answer, new connections are refused, then exit 0.
    const inFlight = openai.chat.completions.create({
      model: 'mana/x',
      messages: [{ role: 'user', content: 'HOLD' }],
    });
    await waitFor(() => held.length === 1, 'held request at the upstream', 10_000);
    s.proc.kill('SIGTERM');
    await waitFor(() => s.err().includes('draining 1'), 'draining line', 10_000);
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
    release();
    expect((await inFlight).choices[0]?.message.content).toBe('held answer');
    expect(await s.exited).toBe(0);

    const lines = s.out().trim().split('\n').slice(1);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/ POST \/v1\/chat\/completions 200 [\d.]+ms resolved=up\/m1$/);
    expect(lines[1]).toMatch(/ POST \/v1\/chat\/completions 200 [\d.]+ms stream resolved=up\/m1$/);
    expect(lines[2]).toMatch(/ GET \/v1\/models 401 [\d.]+ms error=invalid_api_key$/);
    const all = s.out() + s.err();
    for (const secret of [API_KEY, UPSTREAM_KEY, 'private words', 'HOLD', 'wrong'])
      expect(all).not.toContain(secret);
  });

  it('SIGTERM cuts what still runs after --drain-ms, which cancels its upstream call, and exits 0', async () => {
    const { up, held } = await upstream();
    const dir = configDir(up.url);
    const s = await start(dir, ['--drain-ms', '200']);
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const stuck = openai.chat.completions.create({
      model: 'mana/x',
      messages: [{ role: 'user', content: 'HOLD' }],
    });
    stuck.catch(() => undefined);
    await waitFor(() => held.length === 1, 'held request at the upstream', 10_000);
    s.proc.kill('SIGTERM');
    await expect(stuck).rejects.toThrow();
    expect(await s.exited).toBe(0);
    await waitFor(() => up.closedByClient === 1, 'upstream call cancelled', 5000);
  });

  it('SIGTERM with nothing in flight exits at once, even with a client connected that sent no request or half of one', async () => {
    const { up } = await upstream();
    const dir = configDir(up.url);
    // The longest drain there is: waiting for it would outlast the test's timeout, so the exit below is "at once".
    const s = await start(dir, ['--drain-ms', String(2 ** 31 - 1)]);
    const { port } = new URL(s.url);
    // A pre-opened connection (a browser, a load balancer) and one whose request head never ends.
    const silent = connect(Number(port), '127.0.0.1');
    const half = connect(Number(port), '127.0.0.1', () => half.write('GET /health HTTP/1.1\r\nHost: x\r\n'));
    for (const c of [silent, half]) c.on('error', () => undefined);
    await Promise.all([once(silent, 'connect'), once(half, 'connect')]);
    await new Promise((r) => setTimeout(r, 200));
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('SIGTERM: an in-flight answer on a keep-alive connection arrives whole, then that connection goes, even with a next request trickling in on it', async () => {
    const { up, held, release } = await upstream();
    const dir = configDir(up.url);
    // The longest drain there is: an exit that waited for it (or for the 60 s header timeout a connection that keeps
    // sending a request head is under) would outlast the test's timeout.
    const s = await start(dir, ['--drain-ms', String(2 ** 31 - 1)]);
    const { port } = new URL(s.url);
    const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'HOLD' }] });
    const sock = connect(Number(port), '127.0.0.1');
    sock.on('error', () => undefined);
    await once(sock, 'connect');
    let got = '';
    let trickle: NodeJS.Timeout | undefined;
    sock.on('data', (c: Buffer) => {
      got += c.toString();
      // The whole answer is in: a next request on the same (HTTP/1.1 keep-alive) connection, a byte at a time, so
      // that the connection is never idle.
      if (got.includes('held answer') && !trickle) trickle = setInterval(() => sock.write('X'), 100);
    });
    sock.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}GET /health HTTP/1.1\r\n`,
    );
    await waitFor(() => held.length === 1, 'held request at the upstream', 10_000);
    s.proc.kill('SIGTERM');
    await waitFor(() => s.err().includes('draining 1'), 'draining line', 10_000);
    release();
    try {
      expect(await s.exited).toBe(0);
    } finally {
      clearInterval(trickle);
      sock.destroy();
    }
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
    expect(got).toContain('held answer');
  });

  it('SIGTERM: a request whose head was still arriving is answered with Connection: close, not kept alive', async () => {
    const { up, held, release } = await upstream();
    const s = await start(configDir(up.url), ['--drain-ms', String(2 ** 31 - 1)]);
    const { port } = new URL(s.url);
    const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'HOLD' }] });
    const inFlight = connect(Number(port), '127.0.0.1');
    inFlight.on('error', () => undefined);
    await once(inFlight, 'connect');
    inFlight.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await waitFor(() => held.length === 1, 'held request at the upstream', 10_000);
    // Half a request head: not idle, so the drain keeps this connection and serves the request once it is in.
    const late = connect(Number(port), '127.0.0.1');
    late.on('error', () => undefined);
    await once(late, 'connect');
    let got = '';
    late.on('data', (c: Buffer) => (got += c.toString()));
    // A first answer on it proves the server holds the connection; then half of a next request head.
    late.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => got.includes('"service":"mana-llm"'), 'the first answer', 10_000);
    got = '';
    late.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    s.proc.kill('SIGTERM');
    await waitFor(() => s.err().includes('draining 1'), 'draining line', 10_000);
    late.write('\r\n');
    await waitFor(() => got.includes('"service":"mana-llm"'), 'the late answer', 10_000);
    expect(got).toMatch(/^HTTP\/1\.1 200 /);
    expect(got.toLowerCase()).toContain('connection: close');
    release();
    try {
      expect(await s.exited).toBe(0);
    } finally {
      inFlight.destroy();
      late.destroy();
    }
  });

  it('SIGINT (Ctrl-C) stops the server as SIGTERM does: drains (--drain-ms 0 is allowed), says stopped, exits 0; no keys is warned about', async () => {
    const { up } = await upstream();
    // Without MANA_LLM_API_KEYS: served with no key check, which is said on stderr.
    const s = await start(configDir(up.url), ['--drain-ms', '0'], undefined, {
      MANA_LLM_API_KEYS: undefined,
    });
    expect(s.out()).toMatch(/key check off\)\n$/);
    // Written after the listening line, on the other pipe: waited for, not assumed in.
    await waitFor(() => s.err() !== '', 'the no-key warning', 10_000);
    expect(s.err()).toBe('mana-llm serve: MANA_LLM_API_KEYS is not set: no key check\n');
    s.proc.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(s.err()).toContain('mana-llm serve: SIGINT: draining 0 in-flight request(s), at most 0ms\n');
    expect(s.err()).toMatch(/mana-llm serve: stopped\n$/);
  });

  it('an aliases file given as the argument wins over --aliases, as for validate', async () => {
    const { up } = await upstream();
    const dir = configDir(up.url);
    const s = await start(dir, ['--aliases', join(dir, 'none.yaml')]);
    expect(s.out()).toContain('(1 aliases, providers up');
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('with the aliases inline in the config, SIGHUP (nothing to reload) does not kill the server', async () => {
    const { up } = await upstream();
    const dir = mkdtempSync(join(tmpdir(), 'mana-serve-'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        aliases: { aliases: { 'mana/x': { chain: ['up/m1'] } } },
        providers: { up: { type: 'openai', baseUrl: up.url, apiKey: UPSTREAM_KEY } },
        health: { probes: false },
      }),
    );
    const s = await start(dir, [], []);
    s.proc.kill('SIGHUP');
    await waitFor(() => s.err().includes('SIGHUP'), 'SIGHUP line', 10_000);
    const openai = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    const done = await openai.chat.completions.create({
      model: 'mana/x',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(done.choices[0]?.message.content).toBe('served answer');
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('Expect: 100-continue with a wrong key or a Content-Length over the cap is refused before the body: no 100 first', async () => {
    const { up } = await upstream();
    const s = await start(configDir(up.url));
    const ask = async (head: string, body?: string) => {
      const sock = connect(Number(new URL(s.url).port), '127.0.0.1');
      let answer = '';
      sock.on('data', (d: Buffer) => {
        answer += d.toString();
        if (body !== undefined && answer === 'HTTP/1.1 100 Continue\r\n\r\n') sock.write(body);
      });
      const closed = once(sock, 'close');
      await once(sock, 'connect');
      sock.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n${head}\r\n`,
      );
      await closed;
      return answer;
    };
    expect(await ask('Authorization: Bearer wrong\r\nContent-Length: 10\r\n')).toMatch(/^HTTP\/1\.1 401 /);
    const huge = `Authorization: Bearer ${API_KEY}\r\nContent-Length: ${9 * 1024 * 1024}\r\n`;
    expect(await ask(huge)).toMatch(/^HTTP\/1\.1 413 /);
    const body = JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] });
    const ok = await ask(`Authorization: Bearer ${API_KEY}\r\nContent-Length: ${body.length}\r\n`, body);
    expect(ok).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(ok).toContain('served answer');
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('MANA_LLM_CORS_ORIGINS holding * (alone or in a list) allows any origin', async () => {
    const { up } = await upstream();
    const dir = configDir(up.url);
    const s = await start(dir, [], undefined, { MANA_LLM_CORS_ORIGINS: 'https://a.example, *' });
    const res = await fetch(`${s.url}/health`, { headers: { origin: 'https://b.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('exits 2 with a readable message when the aliases file is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-serve-'));
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', join(dir, 'none.yaml')],
      {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('none.yaml');
  });

  it.each(['', ' ', ' , '])(
    'MANA_LLM_API_KEYS=%j (set, holding no key, as `$KEYS` unset gives) exits 2 instead of serving with no key check',
    async (keys) => {
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', 'aliases.example.yaml'],
        { env: { PATH: process.env.PATH, MANA_LLM_API_KEYS: keys }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = proc;
      let stdout = '';
      let stderr = '';
      proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
      await waitFor(
        () => proc.exitCode !== null || stdout.includes('listening'),
        'exit or listening',
        20_000,
      );
      expect(stdout).not.toContain('listening');
      expect(await exited).toBe(2);
      expect(stderr).toContain('MANA_LLM_API_KEYS');
    },
  );

  it('exits 2 with a readable message when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const proc = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          'aliases.example.yaml',
        ],
        { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = proc;
      let stderr = '';
      proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
      expect(code).toBe(2);
      expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`);
    } finally {
      taken.close();
    }
  });
  it('a server whose log pipe broke (EPIPE on stdout) exits 1, so a supervisor restarts it', async () => {
    const { up } = await upstream();
    const dir = configDir(up.url);
    const s = await start(dir);
    s.proc.stdout?.destroy();
    let code: number | null | undefined;
    void s.exited.then((c) => (code = c));
    // Each request writes a log line; the first write into the closed pipe fails with EPIPE.
    while (code === undefined) await fetch(`${s.url}/health`).catch(() => undefined);
    expect(code).toBe(1);
  });
});
