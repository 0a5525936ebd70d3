import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AliasConfigError } from '../errors.js';
import { AliasRegistry } from './alias-registry.js';

const dir = mkdtempSync(join(tmpdir(), 'mana-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(dir, `aliases-${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}

const v1 = `aliases:
  mana/b: { chain: [groq/llama] }
  mana/a: { description: first, chain: [ollama/qwen2.5:7b, openrouter/anthropic/claude-3-haiku] }
default: mana/a
`;
const v2 = `aliases:
  mana/c: { chain: [google/gemini] }
default: mana/c
`;

describe('AliasRegistry', () => {
  it('serves aliases, default and a sorted list', () => {
    const reg = new AliasRegistry({ text: v1 });
    expect(reg.list()).toHaveLength(2);
    expect(reg.default).toBe('mana/a');
    expect(reg.get('mana/b')?.chain[0]?.target).toBe('groq/llama');
    expect(reg.get('mana/zzz')).toBeUndefined();
    expect(reg.list()).toEqual([
      {
        name: 'mana/a',
        description: 'first',
        chain: ['ollama/qwen2.5:7b', 'openrouter/anthropic/claude-3-haiku'],
      },
      { name: 'mana/b', chain: ['groq/llama'] },
    ]);
    expect(Object.keys(reg.list()[1] ?? {})).toEqual(['name', 'chain']);
  });

  it('throws AliasConfigError from the constructor', () => {
    expect(() => new AliasRegistry({ path: join(dir, 'missing.yaml') })).toThrow(AliasConfigError);
    expect(() => new AliasRegistry({ object: { aliases: {} } })).toThrow(AliasConfigError);
  });

  it('hands out frozen chains and lists', () => {
    const reg = new AliasRegistry({ text: v1 });
    const listed = reg.list();
    expect(Object.isFrozen(listed)).toBe(true);
    expect(Object.isFrozen(listed[0])).toBe(true);
    expect(Object.isFrozen(listed[0]?.chain)).toBe(true);
    expect(Object.isFrozen(reg.get('mana/a')?.chain)).toBe(true);
    expect(() => (listed[0]!.chain as string[]).push('x/y')).toThrow(TypeError);
  });

  it('swaps aliases and default on a valid edit', async () => {
    const path = file(v1);
    const reg = new AliasRegistry({ path });
    writeFileSync(path, v2);
    const config = await reg.reload();
    expect(config.default).toBe('mana/c');
    expect(reg.default).toBe('mana/c');
    expect(reg.get('mana/a')).toBeUndefined();
    expect(reg.list().map((a) => a.name)).toEqual(['mana/c']);
  });

  it('keeps the last good config when the file becomes invalid', async () => {
    const path = file(v1);
    const reg = new AliasRegistry({ path });
    const before = reg.list();
    writeFileSync(path, 'aliases:\n  mana/a: { chain: [nope] }\ndefault: mana/z\n');
    const err = await reg.reload().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AliasConfigError);
    expect((err as AliasConfigError).issues.map((i) => i.path)).toEqual([
      'aliases["mana/a"].chain[0]',
      'default',
    ]);
    expect(reg.list()).toBe(before);
    expect(reg.default).toBe('mana/a');
    expect(reg.list()).toHaveLength(2);
  });

  it('keeps the last good config when the file is deleted or has a syntax error', async () => {
    const path = file(v1);
    const reg = new AliasRegistry({ path });
    writeFileSync(path, 'aliases: [\n');
    await expect(reg.reload()).rejects.toBeInstanceOf(AliasConfigError);
    unlinkSync(path);
    await expect(reg.reload()).rejects.toThrow(/file not found/);
    expect(reg.get('mana/a')?.description).toBe('first');
    writeFileSync(path, v2);
    await expect(reg.reload()).resolves.toMatchObject({ default: 'mana/c' });
  });

  it('runs overlapping reloads one at a time, in call order, past a failure', async () => {
    const versions: unknown[] = [
      { 'mana/a': { chain: ['a/x'] } },
      { 'mana/b': { chain: ['b/x'] } },
      3,
      { 'mana/c': { chain: ['c/x'] } },
    ];
    let reads = 0;
    const reg = new AliasRegistry({
      object: {
        get aliases() {
          return versions[reads++];
        },
      },
    });
    const results = await Promise.allSettled([reg.reload(), reg.reload(), reg.reload()]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(reg.list().map((a) => a.name)).toEqual(['mana/c']);
  });

  it('re-validates an object source, keeping the last good one on failure', async () => {
    const object: { aliases: Record<string, unknown> } = { aliases: { 'mana/a': { chain: ['ollama/x'] } } };
    const reg = new AliasRegistry({ object });
    object.aliases['mana/b'] = { chain: ['groq/y'] };
    await reg.reload();
    expect(reg.list()).toHaveLength(2);
    object.aliases['mana/c'] = { chain: [] };
    await expect(reg.reload()).rejects.toBeInstanceOf(AliasConfigError);
    expect(reg.list()).toHaveLength(2);
  });
});
