import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

// Edges of the CLI the other CLI tests leave unrun: a terminal on stdin or stderr, a failure naming skipped entries.
afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll();
});

/** A config whose provider `up` (OpenAI-compatible at `url`) serves mana/x → `chain`, the default alias. */
function config(url: string, chain = '[up/m1]'): string {
  const dir = mkdtempSync(join(tmpdir(), 'mana-cli-edges-'));
  writeFileSync(join(dir, 'aliases.yaml'), `aliases:\n  mana/x:\n    chain: ${chain}\ndefault: mana/x\n`);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      aliasesPath: 'aliases.yaml',
      providers: { up: { type: 'openai', baseUrl: url, apiKey: 'k' } },
    }),
  );
  return join(dir, 'config.json');
}

/** Runs main() in this process with `stream` ('stdin' or 'stderr') taken for a terminal; output captured live. */
function onTerminal(stream: 'stdin' | 'stderr', argv: string[]) {
  const out = { stdout: '', stderr: '' };
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out.stdout += String(c);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    out.stderr += String(c);
    return true;
  });
  const was = Object.getOwnPropertyDescriptor(process[stream], 'isTTY');
  Object.defineProperty(process[stream], 'isTTY', { value: true, configurable: true });
  const code = main(argv, {}).finally(() => {
    if (was) Object.defineProperty(process[stream], 'isTTY', was);
    else delete (process[stream] as { isTTY?: boolean }).isTTY;
    vi.restoreAllMocks();
  });
  return { code, out };
}

describe('mana-llm chat on a terminal', () => {
  it('with no text and a terminal on stdin, says how to give the prompt (exit 2) instead of waiting for EOF', async () => {
    const up = await rawUpstream(() => undefined);
    const r = onTerminal('stdin', ['chat', '--config', config(up.url)]);
    expect(await r.code).toBe(2);
    expect(r.out).toEqual({
      stdout: '',
      stderr: 'mana-llm: give the text as an argument or pipe it on stdin\n',
    });
    expect(up.received).toBe(0);
  });

  it('shows a waiting line naming the model while the answer is slow, cleared before the answer', async () => {
    let answer = (): void => undefined;
    const up = await rawUpstream((_text, res) => {
      answer = () => {
        const f = openaiCodec.stream({ reply: 'late answer', chunks: 2 }, 'm1');
        res.writeHead(200, { 'content-type': f.contentType });
        res.end([...f.prelude, ...f.content, ...f.end].join(''));
      };
    });
    const r = onTerminal('stderr', ['chat', '-m', 'mana/x', '--config', config(up.url), 'hi']);
    await waitFor(() => r.out.stderr.includes('waiting'), 'a spinner frame', 20_000);
    answer();
    expect(await r.code).toBe(0);
    expect(r.out.stdout).toBe('late answer\n');
    const frames = /^(\r[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for mana\/x…)+/;
    expect(r.out.stderr).toMatch(frames);
    expect(r.out.stderr.replace(frames, '')).toBe('\r\x1b[K[up/m1]\n');
  });
});

describe('mana-llm chat failing in a child process', () => {
  it('lists every chain entry it tried, a skipped one without an error text, and exits 1', async () => {
    const path = config('http://127.0.0.1:9', '[gone/m0, up/m1]');
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'chat', '--config', path, 'hi'],
        { env: { PATH: process.env.PATH } },
        (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toMatch(/^mana-llm: .*\n {2}gone\/m0: unconfigured\n {2}up\/m1: connection — .+\n$/);
  });
});
