import { describe, expect, it } from 'vitest';
import { AliasConfigError, ConfigError, type ConfigIssue } from '../errors.js';
import { loadAliases } from './load-aliases.js';
import { MAX_ISSUES } from './schema.js';

function issuesOf(object: unknown): ConfigIssue[] {
  try {
    loadAliases({ object });
  } catch (err) {
    expect(err).toBeInstanceOf(AliasConfigError);
    return [...(err as AliasConfigError).issues];
  }
  throw new Error('expected an AliasConfigError');
}

const ok = { chain: ['ollama/qwen2.5:7b'] };

describe('alias validation', () => {
  it('accepts a valid config and normalises targets', () => {
    const config = loadAliases({
      object: {
        aliases: {
          'mana/a': { description: 'A', chain: [' Groq/llama ', 'openrouter/anthropic/claude-3-haiku'] },
          'mana/e': { chain: ['ollama/nomic-embed-text'], dimensions: 768, cache: true },
        },
        default: 'mana/a',
      },
    });
    expect(config.default).toBe('mana/a');
    expect(config.aliases.get('mana/a')).toEqual({
      name: 'mana/a',
      description: 'A',
      chain: [
        { target: 'groq/llama', provider: 'groq', model: 'llama' },
        {
          target: 'openrouter/anthropic/claude-3-haiku',
          provider: 'openrouter',
          model: 'anthropic/claude-3-haiku',
        },
      ],
    });
    expect(config.aliases.get('mana/e')).toMatchObject({ dimensions: 768, cache: true });
    expect('description' in config.aliases.get('mana/e')!).toBe(false);
  });

  it('rejects a root that is not a mapping', () => {
    for (const root of [null, undefined, 'x', 42, ['mana/a']]) {
      const issues = issuesOf(root);
      expect(issues).toHaveLength(1);
      expect(issues[0]?.path).toBe('(root)');
      expect(issues[0]?.message).toMatch(/must be a mapping/);
    }
  });

  it('requires a non-empty aliases mapping', () => {
    expect(issuesOf({})).toEqual([{ path: 'aliases', message: expect.stringMatching(/is required/) }]);
    expect(issuesOf({ aliases: {} })).toEqual([
      { path: 'aliases', message: 'must define at least one alias' },
    ]);
    expect(issuesOf({ aliases: ['mana/a'] })[0]?.message).toMatch(/must be a mapping, got a list/);
  });

  it('rejects names outside mana/<one segment>', () => {
    const names = ['fast', 'mana/', 'mana/a/b', 'MANA/x', 'mana/ x', 'mana/-x', 'openai/gpt-4o'];
    const aliases = Object.fromEntries(names.map((n) => [n, ok]));
    const issues = issuesOf({ aliases });
    expect(issues.map((i) => i.path)).toEqual(names.map((n) => `aliases[${JSON.stringify(n)}]`));
    expect(issues[0]?.message).toMatch(/expected "mana\/<name>"/);
  });

  it('accepts one-segment names with letters, digits, dot, underscore and dash', () => {
    const config = loadAliases({ object: { aliases: { 'mana/Fast_text-2.0': ok } } });
    expect(config.aliases.has('mana/Fast_text-2.0')).toBe(true);
  });

  it('requires every body to be a mapping', () => {
    const issues = issuesOf({ aliases: { 'mana/a': ['ollama/x'], 'mana/b': 'ollama/x', 'mana/c': null } });
    expect(issues.map((i) => i.path)).toEqual([
      'aliases["mana/a"]',
      'aliases["mana/b"]',
      'aliases["mana/c"]',
    ]);
    expect(issues[0]?.message).toMatch(/must be a mapping/);
  });

  it('requires chain to be a non-empty list', () => {
    const issues = issuesOf({
      aliases: { 'mana/a': {}, 'mana/b': { chain: [] }, 'mana/c': { chain: 'ollama/x' } },
    });
    const msg = 'must be a non-empty list of "provider/model" strings';
    expect(issues).toEqual([
      { path: 'aliases["mana/a"].chain', message: msg },
      { path: 'aliases["mana/b"].chain', message: msg },
      { path: 'aliases["mana/c"].chain', message: msg },
    ]);
  });

  it('reports each bad chain entry at its index', () => {
    const issues = issuesOf({
      aliases: { 'mana/x': { chain: ['ollama/ok', '  ', 'llama3', 7, '/m', 'p/'] } },
    });
    expect(issues).toEqual([
      { path: 'aliases["mana/x"].chain[1]', message: 'is blank: expected provider/model' },
      {
        path: 'aliases["mana/x"].chain[2]',
        message: '"llama3" has no provider prefix: expected provider/model',
      },
      { path: 'aliases["mana/x"].chain[3]', message: 'must be a "provider/model" string' },
      { path: 'aliases["mana/x"].chain[4]', message: '"/m" has no provider prefix: expected provider/model' },
      { path: 'aliases["mana/x"].chain[5]', message: '"p/" has no provider prefix: expected provider/model' },
    ]);
  });

  it('refuses a chain entry naming an alias however it is cased or spaced (the provider is normalised first)', () => {
    const issues = issuesOf({ aliases: { 'mana/x': { chain: ['ollama/ok', ' MANA /b', 'Mana/c'] } } });
    expect(issues.map((i) => i.path)).toEqual(['aliases["mana/x"].chain[1]', 'aliases["mana/x"].chain[2]']);
    for (const i of issues) expect(i.message).toContain('names an alias');
  });

  it('requires description to be a string', () => {
    for (const description of [3, null, ['a'], { a: 1 }]) {
      expect(issuesOf({ aliases: { 'mana/x': { ...ok, description } } })).toEqual([
        { path: 'aliases["mana/x"].description', message: 'must be a string' },
      ]);
    }
  });

  it('requires dimensions to be a positive integer', () => {
    for (const dimensions of [0, -3, 1.5, '768', Number.NaN, Number.POSITIVE_INFINITY, null, 1e23, 2 ** 53]) {
      const issues = issuesOf({ aliases: { 'mana/x': { ...ok, dimensions } } });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toEqual({
        path: 'aliases["mana/x"].dimensions',
        message: expect.stringMatching(/positive integer/),
      });
    }
  });

  it('requires cache to be a boolean', () => {
    expect(issuesOf({ aliases: { 'mana/x': { ...ok, cache: 'yes' } } })).toEqual([
      { path: 'aliases["mana/x"].cache', message: 'must be true or false' },
    ]);
  });

  it('requires default to name a defined alias', () => {
    const unknown = issuesOf({ aliases: { 'mana/a': ok }, default: 'mana/b' });
    expect(unknown).toEqual([
      { path: 'default', message: expect.stringContaining('"mana/b", which is not a defined alias') },
    ]);
    expect(unknown[0]?.message).toContain('(defined: mana/a)');
    expect(issuesOf({ aliases: { 'mana/a': ok }, default: 1 })).toEqual([
      { path: 'default', message: 'must be the name of a defined alias (a string)' },
    ]);
  });

  it('reports every violation together', () => {
    const issues = issuesOf({
      aliases: {
        bad: ok,
        'mana/a': { description: 1, chain: ['x', ''], dimensions: 0, cache: 1 },
        'mana/b': [],
        'mana/ok': ok,
      },
      default: 'mana/none',
    });
    expect(issues.map((i) => i.path)).toEqual([
      'aliases["bad"]',
      'aliases["mana/a"].chain[0]',
      'aliases["mana/a"].chain[1]',
      'aliases["mana/a"].description',
      'aliases["mana/a"].dimensions',
      'aliases["mana/a"].cache',
      'aliases["mana/b"]',
      'default',
    ]);
  });

  it('lists the issues in the error message and is a ConfigError', () => {
    try {
      loadAliases({ object: { aliases: { 'mana/a': { chain: ['x'] } } } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as AliasConfigError).code).toBe('ALIAS_CONFIG');
      expect((err as Error).message).toContain('aliases["mana/a"].chain[0]: "x" has no provider prefix');
    }
  });

  it('caps a flood of issues with a summary', () => {
    const chain = Array.from({ length: 500 }, () => 'nope');
    const issues = issuesOf({ aliases: { 'mana/a': { chain } } });
    expect(issues).toHaveLength(MAX_ISSUES + 1);
    expect(issues.at(-1)).toEqual({ path: '(root)', message: 'and 400 more issue(s) not shown' });
  });

  it('ignores inherited properties', () => {
    const body = Object.create({ chain: ['ollama/x'] });
    expect(issuesOf({ aliases: { 'mana/a': body } })[0]?.path).toBe('aliases["mana/a"].chain');
  });

  it('lists exactly MAX_ISSUES issues without a summary', () => {
    const chain = Array.from({ length: MAX_ISSUES }, () => 'nope');
    const issues = issuesOf({ aliases: { 'mana/a': { chain } } });
    expect(issues).toHaveLength(MAX_ISSUES);
    expect(issues.every((i) => i.path !== '(root)')).toBe(true);
  });

  it('ignores an inherited aliases or default at the root', () => {
    const root = Object.create({ aliases: { 'mana/a': { chain: ['ollama/x'] } } });
    expect(issuesOf(root)[0]?.path).toBe('aliases');
    const inherited = Object.create({ default: 'mana/nope' });
    inherited.aliases = { 'mana/a': { chain: ['ollama/x'] } };
    expect(loadAliases({ object: inherited }).default).toBeUndefined();
  });

  it('a default naming an inherited property of the mapping is not a defined alias', () => {
    const issues = issuesOf({ aliases: { 'mana/a': { chain: ['ollama/x'] } }, default: 'toString' });
    expect(issues.map((i) => i.path)).toEqual(['default']);
  });

  it('an unknown default hints at most 10 valid alias names, and only once aliases is a mapping', () => {
    const aliases: Record<string, unknown> = { 'bad name': { chain: ['ollama/x'] } };
    for (let i = 0; i < 11; i++) aliases[`mana/a${i}`] = { chain: ['ollama/x'] };
    const hint = issuesOf({ aliases, default: 'mana/zz' }).find((i) => i.path === 'default')?.message;
    expect(hint).toContain(
      '(defined: mana/a0, mana/a1, mana/a2, mana/a3, mana/a4, mana/a5, mana/a6, mana/a7, mana/a8, mana/a9)',
    );
    expect(issuesOf({ aliases: ['mana/a'], default: 'mana/a' }).map((i) => i.path)).toEqual(['aliases']);
  });
});

describe('the returned config', () => {
  const config = loadAliases({ object: { aliases: { 'mana/a': { chain: ['ollama/x', 'groq/y'] } } } });

  it('is frozen all the way down', () => {
    const def = config.aliases.get('mana/a')!;
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(def)).toBe(true);
    expect(Object.isFrozen(def.chain)).toBe(true);
    expect(Object.isFrozen(def.chain[0])).toBe(true);
    expect(() =>
      (def.chain as unknown as ChainArray).push({ target: 'a/b', provider: 'a', model: 'b' }),
    ).toThrow(TypeError);
  });
});

type ChainArray = { push(x: unknown): number };
