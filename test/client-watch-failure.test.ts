// fs.watch can fail where the system refuses another watcher (ENOSPC: inotify's limit, common in containers).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryHealthStore } from '../src/health/health-store.js';
import { ConfigError, createManaLLM, type HealthStore } from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, KEY, upstream } from './helpers/client.js';

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    watch: () => {
      throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), {
        code: 'ENOSPC',
      });
    },
  };
});

afterEach(closeAll);

describe('watch: true where the file cannot be watched', () => {
  it('throws a ConfigError naming `watch`, and leaves nothing running (no probes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-watch-'));
    const path = join(dir, 'aliases.yaml');
    writeFileSync(path, 'aliases:\n  mana/x:\n    chain: [a/m]\n');
    const a = await upstream('openai');
    const clock = createFakeClock();
    let err: unknown;
    try {
      createManaLLM({
        aliasesPath: path,
        watch: true,
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        clock,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([expect.objectContaining({ path: 'watch' })]);
    // The client was never handed out, so nobody could close it: nothing of it may run.
    await clock.advanceAsync(60_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.count('models')).toBe(0);
  });
});

describe('watch: true where the file cannot be watched, with a health store of the caller', () => {
  it('leaves the store with no listener of the client that was never handed out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-watch-'));
    const path = join(dir, 'aliases.yaml');
    writeFileSync(path, 'aliases:\n  mana/x:\n    chain: [a/m]\n');
    const a = await upstream('openai');
    const listeners = new Set<unknown>();
    const store: HealthStore = {
      ...createMemoryHealthStore(),
      subscribe: (listener) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    };
    expect(() =>
      createManaLLM({
        aliasesPath: path,
        watch: true,
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        health: { store },
      }),
    ).toThrow(ConfigError);
    expect(listeners.size).toBe(0);
  });
});
