import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs scripts/soak.ts in its own process (it needs --expose-gc and a clean handle list). */
function soak(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'scripts/soak.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => void (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('soak (short form of npm run soak)', () => {
  it('5000 mixed calls and 200 concurrent streams with random faults: nothing lost, hung or leaked', async () => {
    const { code, out } = await soak(['--calls', '5000', '--streams', '200', '--seed', '7']);
    expect(out, out).toContain('soak OK');
    expect(code, out).toBe(0);
    expect(out).toMatch(/calls made: 5200 /);
    expect(out).toMatch(/upstream connections open after close\(\): 0/);
  }, 90_000);
});
