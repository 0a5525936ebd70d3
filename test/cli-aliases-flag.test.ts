import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const runCli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { PATH: process.env.PATH }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

/** A config holding its aliases inline (mana/inline) and an aliases file beside it (mana/from-file). */
function project(config: Record<string, unknown> = {}): { config: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mana-cli-flag-'));
  const file = join(dir, 'other.yaml');
  writeFileSync(file, 'aliases:\n  mana/from-file:\n    chain: [ollama/b]\n');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      aliases: { aliases: { 'mana/inline': { chain: ['ollama/a'] } } },
      providers: { ollama: {} },
      ...config,
    }),
  );
  return { config: join(dir, 'config.json'), file };
}

describe('mana-llm --aliases with a --config holding inline aliases', () => {
  it('uses the aliases file the command line names, as other flags win over the config', async () => {
    const { config, file } = project();
    const r = await runCli(['aliases', '--config', config, '--aliases', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('mana/from-file\n  ollama/b\n');
    expect(r.code).toBe(0);
  });

  it('validate checks that file, with the config, instead of refusing aliases given twice', async () => {
    const { config, file } = project({ watch: true });
    for (const args of [['--aliases', file], [file]]) {
      const r = await runCli(['validate', '--config', config, ...args]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${file}: ok — 1 aliases\n`);
      expect(r.code).toBe(0);
    }
  });
});
