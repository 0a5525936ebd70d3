// An aliases file over the 1 MiB limit is refused from its size, before it is read: a huge (here sparse) file must
// not be read into memory. Observed in a child process whose heap is far smaller than the file.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'mana-huge-aliases-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GiB = 1024 ** 3;

const child = (path: string, size: number) => `
import { truncateSync, writeFileSync } from 'node:fs';
import { createManaLLM } from ${JSON.stringify(pathToFileURL(resolve('src/index.ts')).href)};
const path = ${JSON.stringify(path)};
const providers = { a: { type: 'openai', baseUrl: 'http://127.0.0.1:9', apiKey: 'k' } };
const seen = [];
const record = (e) => seen.push({ name: e?.name, code: e?.code, issues: e?.issues });
truncateSync(path, ${size});
try { await createManaLLM({ aliasesPath: path, providers }).close(); seen.push('created'); } catch (e) { record(e); }
writeFileSync(path, 'aliases:\\n  mana/x:\\n    chain: [a/m]\\n');
const llm = createManaLLM({ aliasesPath: path, providers });
truncateSync(path, ${size});
llm.on('reload', (e) => seen.push(e.ok ? 'reloaded' : 'refused'));
await llm.reload().catch(record);
seen.push(llm.aliases().aliases.map((a) => a.name));
await llm.close();
console.log(JSON.stringify(seen));
`;

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--max-old-space-size=64', '--import', 'tsx', file],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('a huge aliases file', () => {
  for (const size of [3 * GiB, GiB / 4])
    it(`of ${size} bytes is refused with an AliasConfigError without being read (createManaLLM and reload)`, async () => {
      const path = join(dir, `aliases-${size}.yaml`);
      writeFileSync(path, '');
      const { code, stdout, stderr } = await run(child(path, size));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const message = `is ${size} bytes; the limit is 1048576 bytes (1 MiB)`;
      const refused = {
        name: 'AliasConfigError',
        code: 'ALIAS_CONFIG',
        issues: [{ path: '(root)', message }],
      };
      expect(JSON.parse(stdout)).toEqual([refused, 'refused', refused, ['mana/x']]);
    }, 60_000);
});
