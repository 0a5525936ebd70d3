import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { WELL_KNOWN } from '../src/providers/registry.js';
import { type MockUpstream, startMockUpstream } from '../src/testing/index.js';

const KEY = 'gsk_cli_SECRET_987654321';
const upstreams: MockUpstream[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    stdout += String(c);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  });
  const code = await main(argv, env);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

function files(groqUrl: string, ollamaUrl = 'http://127.0.0.1:9') {
  const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
  writeFileSync(
    join(dir, 'aliases.yaml'),
    'aliases:\n  mana/fast-text:\n    chain: [ollama/qwen2.5:7b, groq/llama-3.1-8b-instant]\n  mana/embed:\n    chain: [groq/embed-small]\ndefault: mana/fast-text\n',
  );
  writeFileSync(
    join(dir, 'mana-llm.config.json'),
    JSON.stringify({
      aliasesPath: 'aliases.yaml',
      providers: { ollama: { baseUrl: ollamaUrl }, groq: { baseUrl: groqUrl, apiKey: KEY } },
    }),
  );
  return dir;
}

describe('mana-llm CLI', () => {
  it('validate prints every issue with its path and exits 2 on an invalid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'aliases:\n  mana/x:\n    chain: [nopefix, ""]\ndefault: mana/y\n');
    const r = await run(['validate', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('aliases["mana/x"].chain[0]');
    expect(r.stderr).toContain('aliases["mana/x"].chain[1]');
    expect(r.stderr).toContain('default');
    expect((await run(['validate', 'aliases.example.yaml'])).code).toBe(0);
  });

  it.each(['aliases', 'health'])(
    '%s given a file is bad usage (exit 2), not the aliases of ./aliases.yaml shown as if they were that file',
    async (command) => {
      const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
      writeFileSync(join(dir, 'other.yaml'), 'aliases:\n  mana/other:\n    chain: [ollama/m]\n');
      const r = await run([command, join(dir, 'other.yaml'), '--aliases', 'aliases.example.yaml']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--aliases');
      expect(r.stdout).toBe('');
    },
  );

  it('validate given several files (a glob such as config/*.yaml) is bad usage, not "ok" for the first one alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'aliases:\n  mana/x:\n    chain: [nopefix]\n');
    const r = await run(['validate', 'aliases.example.yaml', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('ok');
    expect(r.stderr).toContain('one aliases file');
  });

  it('chat streams the answer to stdout from the entry that is up', async () => {
    const groq = await startMockUpstream('openai', { reply: 'Hello from the cloud' });
    upstreams.push(groq);
    const dir = files(groq.url);
    const r = await run(['chat', '--config', join(dir, 'mana-llm.config.json'), 'hi there']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Hello from the cloud\n');
    expect(r.stderr).toContain('[groq/llama-3.1-8b-instant]');
  });

  it('chat sends every word of an unquoted prompt, and only health probes', async () => {
    const groq = await startMockUpstream('openai', { reply: 'ok' });
    upstreams.push(groq);
    const r = await run(['chat', '--config', join(files(groq.url), 'mana-llm.config.json'), 'hi', 'there']);
    expect(r.code).toBe(0);
    const chat = groq.requests.find((q) => q.path.endsWith('/chat/completions'));
    expect((chat?.body as { messages?: unknown } | undefined)?.messages).toEqual([
      { role: 'user', content: 'hi there' },
    ]);
    expect(groq.requests.map((q) => q.path)).toEqual([chat?.path]);
  });

  it('chat -m sends the model named instead of the default alias', async () => {
    const groq = await startMockUpstream('openai', { reply: 'ok' });
    upstreams.push(groq);
    const r = await run([
      'chat',
      '--config',
      join(files(groq.url), 'mana-llm.config.json'),
      '-m',
      'groq/other',
      'hi',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('[groq/other]');
    expect((groq.requests[0]?.body as { model?: string } | undefined)?.model).toBe('other');
  });

  it("'main' is no command (exit 2), not a chat", async () => {
    const r = await run(['main', 'hi']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "main"');
  });

  it('health with every provider on probe: false prints the table at once, exit 0', async () => {
    const dir = files('http://127.0.0.1:9');
    const config = join(dir, 'mana-llm.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        aliasesPath: 'aliases.yaml',
        providers: { ollama: { baseUrl: 'http://127.0.0.1:9', probe: false } },
      }),
    );
    const r = await run(['health', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ollama\s+probe off/);
    // Waiting for a probe when none runs would end only at the command's 10 s limit: this test's own timeout,
    // below that, is the guard.
  }, 8_000);

  it('chat --json prints the response with routing; embed prints vectors', async () => {
    const groq = await startMockUpstream('openai', { reply: 'json answer' });
    upstreams.push(groq);
    const config = join(files(groq.url), 'mana-llm.config.json');
    const r = await run(['chat', '--json', '--config', config, 'hi']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).routing.resolved).toBe('groq/llama-3.1-8b-instant');
    groq.setDefault({ dimensions: 3 });
    const e = await run(['embed', '-m', 'mana/embed', '--config', config, 'text']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).data[0].embedding).toHaveLength(3);
  });

  it('exits 1 when the call fails, listing attempts and never printing a key', async () => {
    const groq = await startMockUpstream('openai', {
      status: 500,
      body: `{"error":{"message":"bad key ${KEY}"}}`,
    });
    upstreams.push(groq);
    const r = await run(['chat', '--config', join(files(groq.url), 'mana-llm.config.json'), 'hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ollama/qwen2.5:7b: connection');
    expect(r.stderr).toContain('groq/llama-3.1-8b-instant: http-error');
    // Each attempt's error message follows its reason (the key in it redacted).
    expect(r.stderr).toMatch(/groq\/llama-3\.1-8b-instant: http-error — \S/);
    expect(r.stderr + r.stdout).not.toContain(KEY);
  });

  it('health prints one probe round as a table', async () => {
    const groq = await startMockUpstream('openai');
    upstreams.push(groq);
    const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    const before = timers();
    const r = await run(['health', '--config', join(files(groq.url), 'mana-llm.config.json')]);
    expect(r.code).toBe(1);
    // The 10 s wait is a ref'd timer: left behind, it would hold the finished command open for 10 s. (At most as
    // many as before, not exactly: a timer of an earlier test's sockets may end meanwhile.)
    expect(timers()).toBeLessThanOrEqual(before);
    expect(r.stdout.split('\n')[0]).toBe('provider  status    probe     note');
    expect(r.stdout).toMatch(/groq\s+up\s+\d+ms/);
    expect(r.stdout).toMatch(/ollama\s+down\s+\d+ms\s+.*ECONNREFUSED/);
  });

  it('health: a provider configured with probe: false is shown as such and neither waited for nor failed', async () => {
    const groq = await startMockUpstream('openai');
    const ollama = await startMockUpstream('ollama');
    upstreams.push(groq, ollama);
    const dir = files(groq.url);
    const config = join(dir, 'mana-llm.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        aliasesPath: 'aliases.yaml',
        providers: {
          ollama: { baseUrl: ollama.url, probe: false },
          groq: { baseUrl: groq.url, apiKey: KEY },
        },
      }),
    );
    const r = await run(['health', '--config', config]);
    expect(r.stdout).toMatch(/groq\s+up/);
    expect(r.stdout).toMatch(/ollama\s+probe off/);
    expect(r.code).toBe(0);
    // Never contacted (so never waited for); a wait for a probe that never comes hangs past the test's timeout.
    expect(ollama.requests).toEqual([]);
    expect(groq.count('models')).toBe(1);
    // Waiting for the unprobed provider's result would end only at the command's 10 s limit: this test's own
    // timeout, below that, is the guard.
  }, 8_000);

  it('answers --help per command, and exits 2 on bad usage', async () => {
    expect((await run(['chat', '--help'])).stdout).toContain('Usage: mana-llm chat');
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    // The env keys are derived from the well-known providers: the help names each one.
    for (const id of Object.keys(WELL_KNOWN))
      if (id !== 'ollama') expect(help.stdout).toContain(`${id.toUpperCase()}_API_KEY`);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['chat', '--bogus'])).code).toBe(2);
    const missing = await run(['aliases', '--aliases', '/nonexistent/aliases.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no aliases file at /nonexistent/aliases.yaml (use --aliases <file>)');
    // Without --aliases or --config: ./aliases.yaml (the repository root has none).
    const dflt = await run(['aliases']);
    expect([dflt.code, dflt.stderr]).toEqual([
      2,
      `mana-llm: no aliases file at ${join(process.cwd(), 'aliases.yaml')} (use --aliases <file>)\n`,
    ]);
    const short = await run(['chat', '-h']);
    expect([short.code, short.stdout]).toEqual([0, expect.stringContaining('Usage: mana-llm chat')]);
  });

  it('a failure that is no mana-llm error is printed cleaned, even a thrown value with no text form (exit 1)', async () => {
    const config = join(files('http://127.0.0.1:9'), 'mana-llm.config.json');
    for (const thrown of [Object.create(null), new Error('bad\x1b[2J\nforged line')]) {
      let stderr = '';
      vi.spyOn(process.stdout, 'write').mockImplementation(() => {
        throw thrown;
      });
      vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
        stderr += String(c);
        return true;
      });
      const code = await main(['aliases', '--config', config]).finally(() => vi.restoreAllMocks());
      expect(code).toBe(1);
      expect(stderr).toMatch(/^mana-llm: (\(a value with no text form\)|bad forged line)\n$/);
    }
  });
});

describe('mana-llm CLI as a real process', () => {
  // With `cwd`, tsx and the CLI are named by absolute path: they are not found from another directory.
  const spawnCli = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const tsx = cwd ? createRequire(import.meta.url).resolve('tsx') : 'tsx';
      const cli = cwd ? fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)) : 'src/cli/main.ts';
      execFile(
        process.execPath,
        ['--import', tsx, cli, ...args],
        { env: { PATH: process.env.PATH, ...env }, timeout: 20_000, cwd },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('streams a chat answer to stdout and exits 0; exits 2 on an invalid aliases file', async () => {
    const groq = await startMockUpstream('openai', { reply: 'spawned answer' });
    upstreams.push(groq);
    const dir = files(groq.url);
    const ok = await spawnCli(['chat', '--config', join(dir, 'mana-llm.config.json'), 'hello']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('spawned answer\n');
    writeFileSync(join(dir, 'broken.yaml'), 'aliases: [1, 2]\n');
    const bad = await spawnCli(['validate', join(dir, 'broken.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('aliases');
  });

  it('validate --config reads ./aliases.yaml when the config names no aliases (the documented default)', async () => {
    const dir = files('http://127.0.0.1:9');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ providers: { ollama: {}, groq: { apiKey: KEY } } }));
    const r = await spawnCli(['validate', '--config', 'c.json'], {}, dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${join(dir, 'aliases.yaml')}: ok — 2 aliases, default mana/fast-text\n`);
    expect(r.code).toBe(0);
  });

  it('stops quietly with exit 0 when its reader goes away (mana-llm chat … | head)', async () => {
    const groq = await startMockUpstream('openai', { reply: 'word '.repeat(100_000), chunks: 1000 });
    upstreams.push(groq);
    const dir = files(groq.url);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'chat', '--config', join(dir, 'mana-llm.config.json'), 'hi'],
      { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += String(c);
    });
    // The reader takes the first piece and leaves, as `head -c` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('exits 1 when every provider is down, reading the prompt from stdin', async () => {
    const dir = files('http://127.0.0.1:9/v1');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'chat', '--config', join(dir, 'mana-llm.config.json')],
        { env: { PATH: process.env.PATH }, timeout: 20_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
      child.stdin?.end('what is up?');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No provider could serve');
    expect(r.stderr).not.toContain(KEY);
  });
});

describe('mana-llm aliases', () => {
  it('lists each alias with its chain and marks the default one', async () => {
    const r = await run(['aliases', '--config', join(files('http://127.0.0.1:9'), 'mana-llm.config.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'mana/embed\n  groq/embed-small\nmana/fast-text (default)\n  ollama/qwen2.5:7b → groq/llama-3.1-8b-instant\n',
    );
  });
});

describe('mana-llm chat with an empty prompt on stdin', () => {
  it('is a usage error (exit 2), nothing is sent', async () => {
    const groq = await startMockUpstream('openai');
    upstreams.push(groq);
    const dir = files(groq.url);
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'chat',
          '-m',
          'groq/m',
          '--config',
          join(dir, 'mana-llm.config.json'),
        ],
        { env: { PATH: process.env.PATH }, timeout: 20_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
      child.stdin?.end('');
    });
    expect(r).toEqual({ code: 2, stderr: 'mana-llm: empty prompt\n' });
    expect(groq.count('chat')).toBe(0);
  });
});

describe('mana-llm chat/embed with a model no alias defines', () => {
  it('is bad usage (exit 2, the alias named), not "the call failed": nothing is sent', async () => {
    const groq = await startMockUpstream('openai', { reply: 'ok' });
    upstreams.push(groq);
    const config = join(files(groq.url), 'mana-llm.config.json');
    for (const argv of [
      ['chat', '-m', 'mana/fast-txt', 'hi'],
      ['chat', '--json', '-m', 'mana/nope', 'hi'],
      ['embed', '-m', 'mana/nope', 'hi'],
    ]) {
      const r = await run([...argv, '--config', config]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/^mana-llm: Unknown model alias "mana\/[\w-]+"/);
      expect(r.stdout).toBe('');
    }
    expect(groq.requests).toEqual([]);
  });
});

describe('mana-llm usage: exit codes and the stdout/stderr split', () => {
  it('no command: the usage on stderr, exit 2; --help alone: the usage on stdout, exit 0', async () => {
    const none = await run([]);
    expect([none.code, none.stdout]).toEqual([2, '']);
    expect(none.stderr).toMatch(/^mana-llm — .*\n\nUsage: mana-llm <command>/s);
    const help = await run(['--help']);
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toContain('Usage: mana-llm <command>');
  });

  it('an unknown flag, or a flag missing its value: the parser message and the usage on stderr, exit 2', async () => {
    for (const argv of [
      ['chat', '--bogus', 'hi'],
      ['aliases', '--config'],
      ['chat', '--json=yes', 'hi'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
      expect(r.stderr, argv.join(' ')).toContain('Usage: mana-llm <command>');
    }
    expect((await run(['chat', '--bogus', 'hi'])).stderr).toMatch(/^Unknown option '--bogus'/);
  });
});

describe('mana-llm chat flags and streaming', () => {
  it('names the serving model on stderr once, however many pieces the answer streams in', async () => {
    const groq = await startMockUpstream('openai', { reply: 'one two three four', chunks: 4 });
    upstreams.push(groq);
    const r = await run(['chat', '--config', join(files(groq.url), 'mana-llm.config.json'), 'hi']);
    expect(r).toEqual({ code: 0, stdout: 'one two three four\n', stderr: '[groq/llama-3.1-8b-instant]\n' });
  });

  it('--model=x and --model x are the same flag, the last of a repeated flag wins, flags may follow the text, and -- ends the flags', async () => {
    const groq = await startMockUpstream('openai', { reply: 'ok' });
    upstreams.push(groq);
    const config = join(files(groq.url), 'mana-llm.config.json');
    const sent = () => {
      const body = groq.requests.at(-1)?.body as { model: string; messages: { content: string }[] };
      return [body.model, body.messages[0]?.content];
    };
    expect((await run(['chat', `--config=${config}`, '--model=groq/a', 'hi'])).code).toBe(0);
    expect(sent()).toEqual(['a', 'hi']);
    expect((await run(['chat', '-m', 'groq/a', 'hi', '--config', config, '-m', 'groq/b'])).code).toBe(0);
    expect(sent()).toEqual(['b', 'hi']);
    const json = await run(['chat', 'hi', '--config', config, '--json']);
    expect(JSON.parse(json.stdout).choices[0].message.content).toBe('ok');
    const ended = await run(['chat', '--config', config, '--', '--json', '-m', 'x']);
    expect([ended.code, ended.stdout]).toEqual([0, 'ok\n']);
    expect(sent()).toEqual(['llama-3.1-8b-instant', '--json -m x']);
  });
});

describe('mana-llm chat on a terminal', () => {
  it('clears its waiting line once, before it names the serving model', async () => {
    const groq = await startMockUpstream('openai', { reply: 'one two three', chunks: 3 });
    upstreams.push(groq);
    const was = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
    try {
      const r = await run(['chat', '--config', join(files(groq.url), 'mana-llm.config.json'), 'hi']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('one two three\n');
      // Spinner frames may come first (a slow answer); the line is cleared once, then the model is named.
      expect(r.stderr.replace(/^(\r\S waiting for the default alias…)*/, '')).toBe(
        '\r\x1b[K[groq/llama-3.1-8b-instant]\n',
      );
    } finally {
      if (was) Object.defineProperty(process.stderr, 'isTTY', was);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
  });
});

describe('mana-llm validate output', () => {
  it('names no default when the file sets none; an invalid file prints nothing on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
    writeFileSync(join(dir, 'a.yaml'), 'aliases:\n  mana/x:\n    chain: [ollama/m]\n');
    const ok = await run(['validate', join(dir, 'a.yaml')]);
    expect(ok).toEqual({ code: 0, stdout: `${join(dir, 'a.yaml')}: ok — 1 aliases\n`, stderr: '' });
    writeFileSync(join(dir, 'b.yaml'), 'aliases:\n  mana/x:\n    chain: []\n');
    const bad = await run(['validate', '--aliases', join(dir, 'b.yaml')]);
    expect([bad.code, bad.stdout]).toEqual([2, '']);
    expect(bad.stderr).toMatch(/^mana-llm: .*aliases\["mana\/x"\]\.chain/s);
  });
});

describe('mana-llm validate: which file', () => {
  it('checks the file given as the argument, not --aliases, when both are given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-cli-'));
    writeFileSync(join(dir, 'a.yaml'), 'aliases:\n  mana/x:\n    chain: [ollama/m]\n');
    const r = await run(['validate', join(dir, 'a.yaml'), '--aliases', 'aliases.example.yaml']);
    expect(r).toEqual({ code: 0, stdout: `${join(dir, 'a.yaml')}: ok — 1 aliases\n`, stderr: '' });
  });
});

describe('mana-llm health once every probe answered', () => {
  it('drops its 10 s wait, which would hold the finished command open until it ran out', async () => {
    const groq = await startMockUpstream('openai');
    upstreams.push(groq);
    const config = join(files(groq.url), 'mana-llm.config.json');
    const waits: unknown[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = real(fn, ms);
      if (ms === 10_000) waits.push(t);
      return t;
    }) as typeof setTimeout);
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    const cleanup = cleared.mock.calls;
    const r = await run(['health', '--config', config]);
    expect(r.stdout, r.stderr).toMatch(/groq\s+up/);
    expect(waits).toHaveLength(1);
    expect(cleanup.map(([t]) => t)).toContain(waits[0]);
  });
});
