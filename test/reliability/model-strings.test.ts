import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// In a child process with --expose-gc: what is still on the heap after close() must be measured, not guessed.
const SCRIPT = `
  import { createManaLLM } from './src/index.ts';
  const llm = createManaLLM({
    aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
    providers: { a: { type: 'openai', baseUrl: 'http://127.0.0.1:9' } },
    health: { probes: false },
  });
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 200; i++) {
    // A distinct 1 MB model string per call, for a provider that is not configured: nothing is sent anywhere.
    const model = 'ghost/' + String(i).padStart(6, '0') + 'x'.repeat(1024 * 1024);
    await llm.chat({ model, messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined);
  }
  await llm.close();
  globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ retainedMB: Math.round((after - before) / 1048576) }));
`;

describe('model strings a caller sends', () => {
  it('huge, ever-new direct model strings are not retained (200 x 1 MB)', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', SCRIPT],
        {
          cwd: ROOT,
        },
      );
      let text = '';
      child.stdout.on('data', (c: Buffer) => void (text += c));
      child.stderr.on('data', (c: Buffer) => void (text += c));
      const kill = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.on('error', reject);
      child.on('close', () => {
        clearTimeout(kill);
        resolve(text);
      });
    });
    const line = out.split('\n').find((l) => l.startsWith('{'));
    expect(line, out).toBeDefined();
    const { retainedMB } = JSON.parse(line as string) as { retainedMB: number };
    expect(retainedMB, out).toBeLessThan(20);
  }, 60_000);
});
