import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';

afterEach(() => vi.restoreAllMocks());

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

/** A directory holding `config.json` (aliasesPath relative to it) and `sub/aliases.yaml`. */
function project(config: Record<string, unknown>, aliases: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mana-cli-config-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'aliases.yaml'), aliases);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return join(dir, 'config.json');
}

const ALIASES =
  'aliases:\n  mana/fast-text:\n    chain: [ollama/qwen2.5:7b, groq/llama-3.1-8b-instant, vllm/llama]\ndefault: mana/fast-text\n';

describe('mana-llm validate --config', () => {
  it("reads the config's aliases file and warns on every entry no configured provider serves", async () => {
    const config = project({ aliasesPath: 'sub/aliases.yaml', providers: { ollama: {}, groq: {} } }, ALIASES);
    const r = await run(['validate', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('sub/aliases.yaml: ok — 1 aliases, default mana/fast-text, 2 warnings');
    expect(r.stderr).toContain(
      'warning: aliases["mana/fast-text"].chain[1] groq/llama-3.1-8b-instant: "groq" has no API key, so it is not configured',
    );
    expect(r.stderr).toContain(
      'warning: aliases["mana/fast-text"].chain[2] vllm/llama: no provider "vllm" is configured',
    );
    expect(r.stderr).not.toContain('ollama/qwen2.5:7b');
  });

  it('a config naming both an aliasesPath and inline aliases is refused for that, whatever the inline aliases hold', async () => {
    const config = project(
      { aliasesPath: 'sub/aliases.yaml', aliases: 'aliases: [', providers: { ollama: {} } },
      ALIASES,
    );
    const r = await run(['validate', '--config', config]);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain('aliasesPath: give exactly one of aliasesPath or aliases');
  });

  it('counts a single warning as "1 warning"', async () => {
    const config = project(
      { aliasesPath: 'sub/aliases.yaml', providers: { ollama: {}, groq: { apiKey: 'k' } } },
      ALIASES,
    );
    const r = await run(['validate', '--config', config]);
    expect(r.stdout).toMatch(/ok — 1 aliases, default mana\/fast-text, 1 warning\n$/);
  });

  it('validates aliases written inline in the config, as an object or as YAML text', async () => {
    for (const aliases of [{ aliases: { 'mana/x': { chain: ['ollama/m'] } } }, ALIASES]) {
      const config = project({ aliases, providers: { ollama: {} } }, ALIASES);
      const r = await run(['validate', '--config', config]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('config.json (inline aliases): ok — 1 aliases');
    }
  });

  it('an aliases file given on the command line wins over the one the config names', async () => {
    const config = project({ aliasesPath: 'sub/aliases.yaml', providers: { ollama: {} } }, ALIASES);
    const r = await run(['aliases', '--config', config, '--aliases', 'aliases.example.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('vllm/llama');
  });

  it('reports an invalid config (an unknown key) with its path and exits 2', async () => {
    const config = project(
      { aliasesPath: 'sub/aliases.yaml', providers: { ollama: {} }, timeout: 5 },
      ALIASES,
    );
    const r = await run(['validate', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('timeout: unknown key "timeout": did you mean "timeouts"?');
  });
});

describe('mana-llm validate --config refuses what the other commands refuse', () => {
  it('both an aliases file and inline aliases, or watch with inline aliases: exit 2 as for aliases/serve', async () => {
    const inline = { aliases: { 'mana/x': { chain: ['ollama/m'] } } };
    for (const config of [
      project({ aliasesPath: 'sub/aliases.yaml', aliases: inline, providers: { ollama: {} } }, ALIASES),
      project({ aliases: inline, watch: true, providers: { ollama: {} } }, ALIASES),
    ]) {
      const served = await run(['aliases', '--config', config]);
      expect(served.code).toBe(2);
      const r = await run(['validate', '--config', config]);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain('ok');
      expect(r.stderr).toContain(
        served.stderr.includes('watch') ? 'watch: needs aliasesPath' : 'aliasesPath: give exactly one',
      );
    }
  });
});

describe('mana-llm validate <file> --config with the aliases inline in the config', () => {
  it('checks the file, which wins over the inline aliases, not an ok for the inline ones with the file unread', async () => {
    const config = project(
      { aliases: { aliases: { 'mana/x': { chain: ['ollama/m'] } } }, providers: { ollama: {} } },
      ALIASES,
    );
    const r = await run(['validate', 'aliases.example.yaml', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('aliases.example.yaml: ok — 6 aliases');
  });
});

describe('mana-llm config and commands', () => {
  it("merges the config's health block instead of replacing it", async () => {
    const config = project(
      { aliasesPath: 'sub/aliases.yaml', providers: { ollama: {} }, health: { failureThreshold: 0 } },
      ALIASES,
    );
    // Replaced, the invalid threshold went unnoticed; merged, createManaLLM sees (and refuses) it.
    const r = await run(['aliases', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('health.failureThreshold');
  });

  it('names an unknown command', async () => {
    const r = await run(['valdiate', 'aliases.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mana-llm: unknown command "valdiate"\n/);
    expect(r.stderr).toContain('Usage: mana-llm <command>');
    // Not a command either: names an object's prototype has.
    for (const name of ['constructor', 'toString']) {
      const p = await run([name, '--aliases', 'aliases.example.yaml', 'hi']);
      expect(p.code).toBe(2);
      expect(p.stderr).toMatch(new RegExp(`^mana-llm: unknown command "${name}"\\n`));
    }
  });
});

describe('a config file that is not a config', () => {
  /** A config.json with this exact text next to the aliases file. */
  function raw(text: string): string {
    const config = project({}, ALIASES);
    writeFileSync(config, text);
    return config;
  }

  it('JSON that is not an object, or an aliasesPath that is not a string: exit 2 naming the file, every command', async () => {
    for (const text of ['null', '[1]', '"x"', '{"aliasesPath": 5, "providers": {"ollama": {}}}']) {
      for (const command of ['aliases', 'validate', 'serve']) {
        const r = await run([command, '--config', raw(text)]);
        expect(r.code, `${command} with ${text}`).toBe(2);
        expect(r.stderr).toContain('config.json');
        expect(r.stderr).not.toContain('TypeError');
      }
    }
  });

  it('an invalid health block is refused by every command, as createManaLLM refuses it', async () => {
    const text = JSON.stringify({ aliasesPath: 'sub/aliases.yaml', providers: { ollama: {} }, health: null });
    for (const command of ['aliases', 'validate']) {
      const r = await run([command, '--config', raw(text)]);
      expect(r.code, command).toBe(2);
      expect(r.stderr).toContain('health: must be an object');
    }
  });

  it('invalid JSON is named without quoting the file: an unquoted key never reaches stderr', async () => {
    // V8 quotes the text around a bad token ("…"apiKey":gsk_SECRET"… is not valid JSON).
    for (const text of ['{"providers": {"groq": {"apiKey": gsk_cli_SECRET_987654321}}}', 'gsk_SECRET']) {
      for (const command of ['aliases', 'validate', 'serve']) {
        const r = await run([command, '--config', raw(text)]);
        expect(r.code, `${command} with ${text}`).toBe(2);
        expect(r.stderr).toContain('config.json');
        expect(r.stderr).toContain('not valid JSON');
        expect(r.stderr).not.toContain('SECRET');
      }
    }
  });
});

describe('mana-llm serve arguments', () => {
  it('an empty --port (`--port=$PORT` with PORT unset) is bad usage, not a random free port', async () => {
    const r = await run(['serve', '--host', '127.0.0.1', '--port=', 'aliases.example.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad arguments');
    const drain = await run([
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--drain-ms=',
      'aliases.example.yaml',
    ]);
    expect(drain.code).toBe(2);
  });

  it('a --port outside 0–65535 or not a whole number, or a negative --drain-ms, is bad usage before anything listens', async () => {
    for (const flag of [
      '--port=65536',
      '--port=-1',
      '--port=1.5',
      '--port=abc',
      '--drain-ms=-1',
      '--drain-ms=x',
    ]) {
      const r = await run(['serve', '--host', '127.0.0.1', '--port', '0', flag, 'aliases.example.yaml']);
      expect(r.code, flag).toBe(2);
      expect(r.stdout, flag).toBe('');
      expect(r.stderr, flag).toMatch(flag.startsWith('--port') ? /bad arguments/ : /--drain-ms must be/);
    }
  });

  it('two aliases files (`serve a.yaml b.yaml`) are bad usage, not a server on the first alone', async () => {
    const r = await run(['serve', '--port', '0', 'aliases.example.yaml', 'aliases.example.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('listening');
    expect(r.stderr).toContain('bad arguments');
  });

  it('an empty --host (`--host=$HOST` with HOST unset) is bad usage, not a server on every interface', async () => {
    for (const host of ['--host=', '--host=  ']) {
      const r = await run(['serve', host, '--port', '0', 'aliases.example.yaml']);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain('listening');
      expect(r.stderr).toContain('bad arguments');
    }
  });

  it('a --drain-ms longer than a timer can wait (it would cut every stream at once) is bad usage, exit 2', async () => {
    // 2^31 ms, one more than a timer can wait, and far beyond it.
    for (const ms of ['2147483648', '3000000000', '5000000000']) {
      const r = await run([
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--drain-ms',
        ms,
        'aliases.example.yaml',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--drain-ms');
    }
  });
});

describe('an option given empty (`--config=$CONFIG` with CONFIG unset)', () => {
  it('is bad usage (exit 2) naming the option, not the environment providers or the default alias silently', async () => {
    const cases = [
      ['validate', '--config=', 'aliases.example.yaml'],
      ['aliases', '--config=', '--aliases', 'aliases.example.yaml'],
      ['aliases', '--aliases='],
      ['chat', '--aliases', 'aliases.example.yaml', '--model=', 'hi'],
      ['embed', '--aliases', 'aliases.example.yaml', '-m', ' ', 'hi'],
      ['serve', '--port', '0', '--config=', 'aliases.example.yaml'],
    ];
    for (const argv of cases) {
      const r = await run(argv, { OLLAMA_URL: 'http://127.0.0.1:9' });
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
      expect(r.stderr, argv.join(' ')).toMatch(/--config|--aliases|--model/);
    }
  });
});

describe('a shared option before the command', () => {
  it('`mana-llm --config c.json serve` runs serve (as `--config c.json aliases` runs aliases), not "unknown command"', async () => {
    const config = project({ aliasesPath: 'sub/aliases.yaml', providers: { ollama: {} } }, ALIASES);
    // serve's own checks answer (an empty --port is bad usage): it was reached, with the options given.
    const r = await run(['--config', config, 'serve', '--port=']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('unknown command');
    expect(r.stderr).toContain('bad arguments');
    const help = await run(['--aliases', 'aliases.example.yaml', 'serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mana-llm serve');
  });
});

describe('mana-llm --config naming a file that cannot be read', () => {
  it('exits 2 saying which config it could not read, for validate and health alike', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'mana-cli-missing-')), 'nope.json');
    for (const cmd of ['validate', 'health']) {
      const r = await run([cmd, '--config', missing]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cannot read config ${missing}: ENOENT`);
      expect(r.stdout).toBe('');
    }
  });
});
