// docs/options.md against src/options.ts (the defaults, filled in by src/resolve-options.ts): every default the code fills in is in the reference, with the same value.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../src/resolve-options.js';

const page = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'options.md'), 'utf8');

/** The default cell of the row documenting `name`, or undefined when no row does. */
function documentedDefault(name: string): string | undefined {
  const row = page.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
  return row?.split('|')[2]?.trim();
}

/** The first code span of a cell as a value: a number (`120000`, `10_000`), a quoted string, true or false. */
function cellValue(cell: string): unknown {
  const code = /`([^`]+)`/.exec(cell)?.[1];
  if (code === undefined) return undefined;
  if (/^'.*'$/.test(code)) return code.slice(1, -1);
  if (code === 'true' || code === 'false') return code === 'true';
  const n = Number(code.replace(/_/g, ''));
  return Number.isNaN(n) ? code : n;
}

/** Every primitive default below the groups users set (`health.*`, `timeouts.*`, …), as [path, value]. */
function leaves(resolved: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, value] of Object.entries(resolved)) {
    if (['aliasSource', 'providers', 'clock', 'defaultProvider'].includes(key)) continue;
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'object' || typeof v === 'function') continue;
        out.push([`${key}.${k}`, v]);
      }
    } else if (value !== undefined) out.push([key, value]);
  }
  return out;
}

describe('docs/options.md', () => {
  // `cache: {}` turns the cache on, so its defaults are filled in too.
  const resolved = resolveOptions({
    aliases: { aliases: { 'mana/x': { chain: ['local/m'] } } },
    providers: { local: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
    cache: {},
  }) as unknown as Record<string, unknown>;
  const all = leaves(resolved);

  it('finds the defaults to check (the walk over the resolved options works)', () => {
    expect(all.map(([path]) => path)).toEqual(
      expect.arrayContaining(['health.failureThreshold', 'timeouts.totalMs', 'cache.ttlMs', 'watch']),
    );
  });

  it.each(all)('documents %s with its default %s', (path, value) => {
    const cell = documentedDefault(path);
    expect(cell, `docs/options.md has no row for ${path}`).toBeDefined();
    // No limit is written as a word: "none", "off", "unlimited", "no cap".
    if (value === Number.POSITIVE_INFINITY) expect(cell).toMatch(/^(none|off|unlimited|no cap)\b/);
    else expect(cellValue(cell as string), `default of ${path} in docs/options.md`).toEqual(value);
  });

  it('documents the provider defaults', () => {
    const provider = (resolved.providers as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(provider.probe).toBe(true);
    expect(cellValue(documentedDefault('probe') ?? '')).toBe(true);
    expect(provider.timeoutMs).toBe(Number.POSITIVE_INFINITY);
    expect(documentedDefault('timeoutMs')).toBe('none');
    expect(provider.maxConcurrent).toBe(Number.POSITIVE_INFINITY);
    expect(documentedDefault('maxConcurrent')).toBe('unlimited');
  });
});
