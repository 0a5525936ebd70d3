// docs/options.md's ranges against the code: every numeric option's row states its range ("(integer >= 1)", "(> 0)",
// "(>= 0)", "(0 to 1)"), and createManaLLM accepts the boundary and rejects the value just past it, at that path.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM, type ManaLLMOptions } from '../../src/index.js';
import { resolveOptions } from '../../src/resolve-options.js';
import { closeAll, track } from '../helpers/client.js';

afterEach(closeAll);

const page = readFileSync(
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'options.md'),
  'utf8',
);

type Range = 'integer >= 1' | 'integer >= 0' | '> 0' | '>= 0' | '0 to 1';
const RANGE = /\((integer >= 1|integer >= 0|> 0|>= 0|0 to 1)[;)]/;

/** The range stated in the meaning cell of the row documenting `name`, or undefined. */
function documentedRange(name: string): Range | undefined {
  const row = page.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
  return RANGE.exec(row?.split('|').slice(3).join('|') ?? '')?.[1] as Range | undefined;
}

/** Values on each side of a range's boundary. */
const SIDES: Record<Range, { accepted: number[]; rejected: number[] }> = {
  'integer >= 1': { accepted: [1], rejected: [0, 1.5, Number.POSITIVE_INFINITY, Number.NaN] },
  'integer >= 0': { accepted: [0], rejected: [-1, 0.5, Number.POSITIVE_INFINITY] },
  '> 0': { accepted: [0.5], rejected: [0, -1, Number.POSITIVE_INFINITY, Number.NaN] },
  '>= 0': { accepted: [0, 0.5], rejected: [-0.5, Number.POSITIVE_INFINITY, Number.NaN] },
  '0 to 1': { accepted: [0, 1], rejected: [-0.01, 1.01, Number.NaN] },
};

/** Options setting the option documented as `name` (a provider option: on provider `local`) to `value`. */
function withOption(name: string, value: number): { options: ManaLLMOptions; path: string } {
  const options: Record<string, unknown> = {
    aliases: { aliases: { 'mana/x': { chain: ['local/m'] } } },
    providers: { local: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
    health: { probes: false },
  };
  const [group, key] = name.split('.');
  if (key === undefined) {
    (options.providers as { local: Record<string, unknown> }).local[name] = value;
    return { options: options as ManaLLMOptions, path: `providers.local.${name}` };
  }
  options[group as string] = { ...(options[group as string] as object), [key]: value };
  return { options: options as ManaLLMOptions, path: name };
}

/** Every numeric option with a default, as documented names (`health.cooldownMs`; provider options bare). */
function numericOptions(): string[] {
  const resolved = resolveOptions({
    aliases: { aliases: { 'mana/x': { chain: ['local/m'] } } },
    providers: { local: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
    cache: {},
  }) as unknown as Record<string, unknown>;
  const names: string[] = [];
  for (const [group, value] of Object.entries(resolved)) {
    if (group === 'providers') {
      const p = (value as Record<string, unknown>[])[0] as Record<string, unknown>;
      for (const [k, v] of Object.entries(p)) if (typeof v === 'number') names.push(k);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) if (typeof v === 'number') names.push(`${group}.${k}`);
    }
  }
  return names;
}

const names = numericOptions();
const cases = names.flatMap((name) => {
  const range = documentedRange(name);
  if (range === undefined) return [];
  return [
    ...SIDES[range].accepted.map((value) => [name, range, value, true] as const),
    ...SIDES[range].rejected.map((value) => [name, range, value, false] as const),
  ];
});

describe('docs/options.md ranges', () => {
  it('states the range of every numeric option', () => {
    expect(names).toEqual(expect.arrayContaining(['health.cooldownMs', 'timeoutMs', 'images.maxCount']));
    expect(names.filter((name) => documentedRange(name) === undefined)).toEqual([]);
  });

  it.each(cases)('%s (%s): %s accepted: %s', (name, _range, value, accepted) => {
    const { options, path } = withOption(name, value);
    let error: unknown;
    try {
      track(createManaLLM(options));
    } catch (err) {
      error = err;
    }
    if (accepted) expect(error).toBeUndefined();
    else {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((i) => i.path)).toEqual([path]);
    }
  });
});
