import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { AliasConfigError } from '../errors.js';
import { type AliasSource, loadAliases, loadAliasesAsync, MAX_ALIAS_BYTES } from './load-aliases.js';

// A spy, to see that an oversized input is refused before any parsing.
vi.mock('yaml', async (original) => {
  const yaml = await original<typeof import('yaml')>();
  return { ...yaml, parseDocument: vi.fn(yaml.parseDocument) };
});

const dir = mkdtempSync(join(tmpdir(), 'mana-aliases-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(source: AliasSource): AliasConfigError {
  try {
    loadAliases(source);
  } catch (err) {
    expect(err).toBeInstanceOf(AliasConfigError);
    return err as AliasConfigError;
  }
  throw new Error('expected an AliasConfigError');
}

const valid = 'aliases:\n  mana/a:\n    chain: [ollama/qwen2.5:7b, groq/llama]\ndefault: mana/a\n';

describe('loadAliases from files and text', () => {
  it('loads a file and YAML text alike', () => {
    const fromFile = loadAliases({ path: write('ok.yaml', valid) });
    const fromText = loadAliases({ text: valid });
    expect(fromFile).toEqual(fromText);
    expect(fromFile.aliases.get('mana/a')?.chain.map((e) => e.target)).toEqual([
      'ollama/qwen2.5:7b',
      'groq/llama',
    ]);
  });

  it('names the path of a missing file and keeps the cause', () => {
    const path = join(dir, 'missing.yaml');
    const err = errorOf({ path });
    expect(err.message).toContain(path);
    expect(err.issues).toEqual([{ path: '(root)', message: `file not found: ${path}` }]);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('refuses a directory', () => {
    const path = join(dir, 'a-dir');
    mkdirSync(path);
    expect(errorOf({ path }).issues[0]?.message).toBe(`not a file: ${path}`);
  });

  it('reports YAML syntax errors with line and column', () => {
    const err = errorOf({ text: 'aliases:\n  mana/a:\n    chain: [ollama/x, groq/y\n' });
    expect(err.issues[0]?.path).toBe('(root)');
    expect(err.issues[0]?.message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('rejects duplicate keys with their line', () => {
    const err = errorOf({ text: `${valid}aliases: {}\n` });
    expect(err.issues[0]?.message).toMatch(/line 5, column 1: Map keys must be unique/);
  });

  it('rejects an empty file as a root that is not a mapping', () => {
    expect(errorOf({ path: write('empty.yaml', '') }).issues[0]).toEqual({
      path: '(root)',
      message: 'must be a mapping with an "aliases" key, got nothing (empty document)',
    });
    expect(errorOf({ text: '- a\n- b\n' }).issues[0]?.message).toMatch(/got a list/);
  });

  it('names the YAML types that are not plain mappings (!!omap, !!set, !!timestamp, !!binary)', () => {
    const issue = (text: string) => errorOf({ text }).issues[0];
    expect(issue('aliases: !!omap [ mana/a: { chain: [p/m] } ]\n')).toEqual({
      path: 'aliases',
      message: 'must be a mapping, got a Map (YAML !!omap): a mapping of "mana/<name>" to { chain: [...] }',
    });
    expect(issue('aliases: !!set { mana/a }\n')?.message).toMatch(
      /^must be a mapping, got a Set \(YAML !!set\)/,
    );
    expect(issue('aliases: !!timestamp 2001-12-14\n')?.message).toMatch(/got a Date \(YAML !!timestamp\)/);
    expect(issue('aliases: !!binary aGVsbG8=\n')?.message).toMatch(/got binary data \(YAML !!binary\)/);
    expect(issue('!!omap [ aliases: { mana/a: { chain: [p/m] } } ]\n')).toEqual({
      path: '(root)',
      message: 'must be a mapping with an "aliases" key, got a Map (YAML !!omap)',
    });
    expect(issue('aliases: { mana/a: !!omap [ chain: [p/m] ] }\n')).toEqual({
      path: 'aliases["mana/a"]',
      message: 'must be a mapping with a "chain" list (and optionally "description")',
    });
    expect(issue('aliases: { mana/a: { chain: [p/m], hedge: !!omap [ afterMs: 5 ] } }\n')?.message).toMatch(
      /^must be a mapping like/,
    );
  });

  it('refuses a 10 MB file or text quickly, before parsing', () => {
    const big = `aliases:\n${'  # padding\n'.repeat(900_000)}`;
    expect(big.length).toBeGreaterThan(10 * MAX_ALIAS_BYTES - MAX_ALIAS_BYTES);
    const path = write('big.yaml', big);
    vi.mocked(parseDocument).mockClear();
    const fileErr = errorOf({ path });
    const textErr = errorOf({ text: big });
    expect(parseDocument).not.toHaveBeenCalled();
    expect(fileErr.issues[0]?.message).toMatch(/the limit is 1048576 bytes/);
    expect(textErr.issues[0]?.message).toMatch(/the limit is 1048576 bytes/);
  });

  it('accepts a file or text of exactly the limit, and refuses one byte more', () => {
    const pad = (n: number) => `${valid}#${'x'.repeat(n - valid.length - 2)}\n`;
    const text = pad(MAX_ALIAS_BYTES);
    expect(Buffer.byteLength(text)).toBe(MAX_ALIAS_BYTES);
    expect(loadAliases({ text }).default).toBe('mana/a');
    expect(loadAliases({ path: write('at-limit.yaml', text) }).default).toBe('mana/a');
    const over = pad(MAX_ALIAS_BYTES + 1);
    expect(errorOf({ text: over }).issues[0]?.message).toMatch(/is 1048577 bytes; the limit is 1048576/);
    expect(errorOf({ path: write('over-limit.yaml', over) }).issues[0]?.message).toMatch(/is 1048577 bytes/);
  });

  it('counts bytes, not characters, for text', () => {
    const text = `# ${'é'.repeat(MAX_ALIAS_BYTES / 2)}\n${valid}`;
    expect(text.length).toBeLessThan(MAX_ALIAS_BYTES);
    expect(errorOf({ text }).issues[0]?.message).toMatch(/limit/);
  });

  it('bounds YAML alias bombs', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    // Expanded, 9^10 (3.5 billion) nodes: never finishes within the test's timeout, which is the guard.
    const err = errorOf({ text: `${levels.join('\n')}\naliases: {}\n` });
    expect(err.issues[0]?.message).toMatch(/anchors\/aliases expand too much/);
  });

  it('still allows a modest use of anchors', () => {
    const text =
      'aliases:\n  mana/a: &body\n    chain: &c [ollama/x, groq/y]\n  mana/b:\n    chain: *c\n  mana/c: *body\n';
    expect(loadAliases({ text }).aliases.get('mana/c')?.chain).toHaveLength(2);
  });

  it('reports __proto__, constructor and prototype as invalid names and pollutes nothing', () => {
    const text = [
      '__proto__: { polluted: yes }',
      'constructor: { polluted: yes }',
      'aliases:',
      '  __proto__: { chain: [ollama/x], polluted: yes }',
      '  constructor: { chain: [ollama/x] }',
      '  prototype: { chain: [ollama/x] }',
      '  mana/a: { chain: [ollama/x], __proto__: { polluted: yes } }',
    ].join('\n');
    const err = errorOf({ text });
    // Each is reported, as a name or as an unknown key, and none is read as a setting.
    expect(err.issues.map((i) => i.path)).toEqual([
      '__proto__',
      'constructor',
      'aliases["__proto__"]',
      'aliases["__proto__"].polluted',
      'aliases["constructor"]',
      'aliases["prototype"]',
      'aliases["mana/a"].__proto__',
    ]);
    const object = JSON.parse('{"aliases":{"__proto__":{"chain":["a/b"]},"mana/a":{"chain":["a/b"]}}}');
    expect(errorOf({ object }).issues.map((i) => i.path)).toEqual(['aliases["__proto__"]']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).chain).toBeUndefined();
  });

  it('turns a throwing getter in a caller object into an AliasConfigError', () => {
    const object = {
      get aliases(): unknown {
        throw new Error('boom');
      },
    };
    const err = errorOf({ object });
    expect(err.issues[0]?.message).toMatch(/could not be validated: boom/);
    expect((err.cause as Error).message).toBe('boom');
  });

  it('loads asynchronously with the same rules', async () => {
    const path = write('async.yaml', valid);
    await expect(loadAliasesAsync({ path })).resolves.toEqual(loadAliases({ path }));
    await expect(loadAliasesAsync({ path: join(dir, 'nope.yaml') })).rejects.toBeInstanceOf(AliasConfigError);
    await expect(loadAliasesAsync({ text: 'aliases: 3' })).rejects.toBeInstanceOf(AliasConfigError);
  });
});

describe('aliases.example.yaml', () => {
  const path = fileURLToPath(new URL('../../aliases.example.yaml', import.meta.url));
  const config = loadAliases({ path });
  const chain = (name: string) => config.aliases.get(name)?.chain.map((e) => e.target);

  it('defines the five classes with their chains and default', () => {
    expect(config.default).toBe('mana/fast-text');
    expect(chain('mana/fast-text')).toEqual([
      'ollama/qwen2.5:7b',
      'groq/llama-3.1-8b-instant',
      'openrouter/anthropic/claude-3-haiku',
    ]);
    expect(chain('mana/long-form')).toEqual([
      'ollama/gemma3:12b',
      'groq/llama-3.3-70b-versatile',
      'openrouter/anthropic/claude-3.5-haiku',
    ]);
    expect(chain('mana/structured')).toEqual([
      'ollama/qwen2.5:7b',
      'groq/llama-3.1-8b-instant',
      'openrouter/openai/gpt-4o-mini',
    ]);
    expect(chain('mana/reasoning')).toEqual([
      'openrouter/anthropic/claude-3.5-sonnet',
      'groq/llama-3.3-70b-versatile',
    ]);
    expect(chain('mana/vision')).toEqual([
      'ollama/llava:7b',
      'google/gemini-2.0-flash-exp',
      'openrouter/openai/gpt-4o',
    ]);
  });

  it('has an embedding alias and a description on every alias, each chain ending in the cloud', () => {
    expect(config.aliases.get('mana/embed')?.dimensions).toBe(768);
    for (const def of config.aliases.values()) {
      expect(def.description).toBeTruthy();
      expect(def.chain.at(-1)?.provider).not.toBe('ollama');
    }
  });
});

describe('hostile input (property)', () => {
  const hostileKey = fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'aliases',
    'default',
    'chain',
    'mana/x',
  );
  const hostile = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.anything(),
      fc.dictionary(fc.oneof(hostileKey, fc.string()), tie('node'), { maxKeys: 5 }),
      fc.array(tie('node'), { maxLength: 4 }),
    ),
  })).node;

  function onlyAliasConfigError(run: () => unknown): void {
    try {
      run();
    } catch (err) {
      if (!(err instanceof AliasConfigError)) throw err;
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  }

  it('loadAliases({ object }) throws nothing but AliasConfigError', () => {
    fc.assert(
      fc.property(hostile, (object) => onlyAliasConfigError(() => loadAliases({ object }))),
      {
        numRuns: 500,
      },
    );
  });

  it('loadAliases({ text }) throws nothing but AliasConfigError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => onlyAliasConfigError(() => loadAliases({ text }))),
      {
        numRuns: 500,
      },
    );
  });

  it('YAML renderings of hostile objects throw nothing but AliasConfigError', () => {
    fc.assert(
      fc.property(hostile, (object) => {
        let text: string;
        try {
          text = stringify(object);
        } catch {
          return; // not representable as YAML (e.g. symbols); nothing to feed
        }
        onlyAliasConfigError(() => loadAliases({ text }));
      }),
      { numRuns: 300 },
    );
  });

  it('accepts any well-formed config and normalises each target', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/);
    const target = fc.tuple(segment, fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9.:/_-]{0,12}$/));
    const config = fc.dictionary(
      segment.map((s) => `mana/${s}`),
      fc.array(target, { minLength: 1, maxLength: 4 }),
      { minKeys: 1, maxKeys: 5 },
    );
    fc.assert(
      fc.property(config, (defs) => {
        const aliases = Object.fromEntries(
          Object.entries(defs).map(([name, chain]) => [
            name,
            { chain: chain.map(([p, m]) => `${p.toUpperCase()}/${m}`) },
          ]),
        );
        const loaded = loadAliases({ text: stringify({ aliases }) });
        for (const [name, chain] of Object.entries(defs)) {
          expect(loaded.aliases.get(name)?.chain.map((e) => e.target)).toEqual(
            chain.map(([p, m]) => `${p}/${m}`),
          );
        }
      }),
      { numRuns: 200 },
    );
  });
});
