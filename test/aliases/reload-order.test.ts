// Reloads of an aliases file run one at a time: a reload started while another is still reading the file must not
// let the older file's text win. Only the reads of this test's aliases file are gated (every other read is real).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createManaLLM } from '../../src/index.js';
import { closeAll, KEY, recordEvents, track, upstream } from '../helpers/client.js';

const gate = vi.hoisted(() => ({
  path: '',
  holding: false,
  held: [] as (() => void)[],
  entered: () => {},
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const { readFileSync, statSync } = await import('node:fs');
  const gated = (p: unknown) => gate.path !== '' && String(p) === gate.path;
  return {
    ...fs,
    // Answered at once (no thread pool), so every step of a reload up to its read is a microtask.
    stat: (p: string, ...rest: unknown[]) =>
      gated(p)
        ? Promise.resolve().then(() => statSync(p))
        : (fs.stat as (...a: unknown[]) => unknown)(p, ...rest),
    // Read at once too (the text as it is at the call), then held while the gate holds.
    readFile: async (p: string, ...rest: unknown[]) => {
      if (!gated(p)) return (fs.readFile as (...a: unknown[]) => Promise<unknown>)(p, ...rest);
      const text = (readFileSync as (...a: unknown[]) => unknown)(p, ...rest);
      if (gate.holding)
        await new Promise<void>((release) => {
          gate.held.push(release);
          gate.entered();
        });
      return text;
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'mana-reload-order-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(closeAll);

const body = (name: string) => `aliases:\n  ${name}:\n    chain: [a/m]\n`;

/** `p`, or a failure naming `what` after `ms` (so a gate that is never reached fails the test instead of hanging it). */
async function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('reload() of an aliases file', () => {
  it('runs one reload at a time: a reload begun while another is reading applies the newer file last', async () => {
    const path = join(dir, 'aliases.yaml');
    writeFileSync(path, body('mana/a'));
    const a = await upstream('openai');
    const llm = track(
      createManaLLM({ aliasesPath: path, providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } } }),
    );
    const events = recordEvents(llm);
    gate.path = path;
    try {
      writeFileSync(path, body('mana/b'));
      gate.holding = true;
      const entered = new Promise<void>((r) => {
        gate.entered = r;
      });
      const first = llm.reload();
      await within(entered, 'the first reload to read the file');
      writeFileSync(path, body('mana/c'));
      const second = llm.reload();
      // Every step of a reload up to its read is a microtask: a second reload that did not wait is reading by now.
      await new Promise((r) => setImmediate(r));
      gate.holding = false;
      // Newest read first: had the second reload not waited, the first (older text) would now be applied last.
      for (const release of gate.held.splice(0).reverse()) release();
      await within(Promise.all([first, second]), 'both reloads');
      expect(llm.aliases().aliases.map((x) => x.name)).toEqual(['mana/c']);
      expect(events.of('reload').map((e) => e.ok)).toEqual([true, true]);
    } finally {
      gate.holding = false;
      for (const release of gate.held.splice(0)) release();
      gate.path = '';
    }
  });
});
