import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';

afterEach(() => vi.restoreAllMocks());

async function run(argv: string[]) {
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
  const code = await main(argv, {});
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

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
