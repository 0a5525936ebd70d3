import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openaiCodec } from '../../src/testing/index.js';
import { closeAll, waitFor } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

// Edges of `mana-llm serve` run as a child process (the code paths the other serve tests leave unrun).
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await closeAll();
});

/** A directory holding `aliases.yaml` (mana/x → up/m1) and a `config.json` for the upstream at `url`, probes off. */
function configDir(url: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mana-serve-edges-'));
  writeFileSync(join(dir, 'aliases.yaml'), 'aliases:\n  mana/x:\n    chain: [up/m1]\n');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      providers: { up: { type: 'openai', baseUrl: url, apiKey: 'k' } },
      health: { probes: false },
    }),
  );
  return dir;
}

/** Runs `mana-llm serve <args>` through tsx; `listening()` waits for the announced URL. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) {
  let stdout = '';
  let stderr = '';
  const proc = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', 'serve', ...args],
    {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const listening = async () => {
    await waitFor(
      () => /listening on http:\/\/\S+:\d+/.test(stdout),
      `listening line (stderr: ${stderr})`,
      20_000,
    );
    return /listening on (http:\/\/\S+:\d+)/.exec(stdout)?.[1] as string;
  };
  return { proc, exited, listening, out: () => stdout, err: () => stderr };
}

describe('mana-llm serve edges (the real CLI in a child process)', { timeout: 60_000 }, () => {
  it('an unknown option exits 2 with the message and the serve help on stderr, listening on nothing', async () => {
    const s = serve(['--prot', '8080', 'aliases.example.yaml']);
    expect(await s.exited).toBe(2);
    expect(s.out()).toBe('');
    expect(s.err()).toMatch(/^mana-llm serve: .*--prot/);
    expect(s.err()).toContain('Usage: mana-llm serve [--host');
  });

  it('MANA_LLM_CORS_ORIGINS naming origins allows those and no other', async () => {
    const up = await rawUpstream(() => undefined);
    const dir = configDir(up.url);
    const s = serve(['--port', '0', '--config', join(dir, 'config.json'), join(dir, 'aliases.yaml')], {
      MANA_LLM_CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    const url = await s.listening();
    const allowed = await fetch(`${url}/health`, { headers: { origin: 'https://b.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://b.example');
    const other = await fetch(`${url}/health`, { headers: { origin: 'https://c.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('SIGHUP with a broken aliases file says the reload was rejected and keeps serving the previous aliases', async () => {
    const up = await rawUpstream(() => undefined);
    const dir = configDir(up.url);
    const s = serve(['--port', '0', '--config', join(dir, 'config.json'), join(dir, 'aliases.yaml')]);
    const url = await s.listening();
    writeFileSync(join(dir, 'aliases.yaml'), 'aliases:\n  mana/y:\n    chain: []\n');
    s.proc.kill('SIGHUP');
    await waitFor(() => s.err().includes('reload rejected'), 'reload line', 20_000);
    expect(s.err()).toMatch(
      /mana-llm serve: alias reload rejected, keeping the previous aliases: .*aliases\["mana\/y"\]\.chain/s,
    );
    const aliases = (await (await fetch(`${url}/v1/aliases`)).json()) as { aliases: { name: string }[] };
    expect(aliases.aliases.map((a) => a.name)).toEqual(['mana/x']);
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('--host ::1 announces the IPv6 address in brackets, a URL a client can use', async () => {
    const s = serve(['--host', '::1', '--port', '0', 'aliases.example.yaml']);
    const url = await s.listening();
    expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('a second SIGTERM (or SIGINT) while draining changes nothing: one drain, the held request answered, exit 0', async () => {
    const held: ServerResponse[] = [];
    const up = await rawUpstream((_text, res) => void held.push(res));
    const dir = configDir(up.url);
    const s = serve(['--port', '0', '--config', join(dir, 'config.json'), join(dir, 'aliases.yaml')]);
    const url = await s.listening();
    const pending = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await waitFor(() => held.length === 1, 'upstream request', 20_000);
    s.proc.kill('SIGTERM');
    await waitFor(() => s.err().includes('draining'), 'draining line', 20_000);
    s.proc.kill('SIGTERM');
    s.proc.kill('SIGINT');
    for (const res of held) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openaiCodec.chat({ reply: 'held answer' }, 'm1')));
    }
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await s.exited).toBe(0);
    expect(s.err().match(/draining/g)).toHaveLength(1);
    expect(s.err()).toContain('mana-llm serve: SIGTERM: draining 1 in-flight request(s)');
  });

  it('serves /metrics when prom-client is installed, and answers it 404 (serving the rest) when it is not', async () => {
    const up = await rawUpstream(() => undefined);
    const dir = configDir(up.url);
    const args = ['--port', '0', '--config', join(dir, 'config.json'), join(dir, 'aliases.yaml')];
    const withProm = serve(args);
    const url = await withProm.listening();
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('mana_llm_');
    withProm.proc.kill('SIGTERM');
    expect(await withProm.exited).toBe(0);

    // prom-client is an optional peer: a preload makes it unresolvable, as in an install without it.
    const hide = join(dir, 'hide-prom-client.cjs');
    writeFileSync(
      hide,
      `const M = require('node:module');
const load = M._load;
M._load = function (request, ...rest) {
  if (request === 'prom-client') throw Object.assign(new Error("Cannot find module 'prom-client'"), { code: 'MODULE_NOT_FOUND' });
  return load.call(this, request, ...rest);
};
`,
    );
    const without = serve(args, {}, ['--require', hide]);
    const bare = await without.listening();
    expect((await fetch(`${bare}/metrics`)).status).toBe(404);
    expect((await fetch(`${bare}/health`)).status).toBe(200);
    without.proc.kill('SIGTERM');
    expect(await without.exited).toBe(0);
  });
});
