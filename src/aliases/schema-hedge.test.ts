import { describe, expect, it } from 'vitest';
import { AliasConfigError, type ConfigIssue } from '../errors.js';
import { loadAliases } from './load-aliases.js';

function issuesOf(hedge: unknown): ConfigIssue[] {
  try {
    loadAliases({ object: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge } } } });
  } catch (err) {
    expect(err).toBeInstanceOf(AliasConfigError);
    return [...(err as AliasConfigError).issues];
  }
  throw new Error('expected an AliasConfigError');
}

describe('alias hedge', () => {
  it('accepts afterMs as milliseconds or auto, frozen', () => {
    const config = loadAliases({
      object: {
        aliases: {
          'mana/a': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } },
          'mana/b': { chain: ['a/m', 'b/m'], hedge: { afterMs: 'auto' } },
        },
      },
    });
    expect(config.aliases.get('mana/a')?.hedge).toEqual({ afterMs: 300 });
    expect(config.aliases.get('mana/b')?.hedge).toEqual({ afterMs: 'auto' });
    expect(Object.isFrozen(config.aliases.get('mana/a')?.hedge)).toBe(true);
    expect(
      loadAliases({ object: { aliases: { 'mana/c': { chain: ['a/m'] } } } }).aliases.get('mana/c'),
    ).not.toHaveProperty('hedge');
  });

  it.each([
    [0, 'must be a number of milliseconds > 0'],
    [-5, 'must be a number of milliseconds > 0'],
    [Number.POSITIVE_INFINITY, 'must be a number of milliseconds > 0'],
    ['300', 'must be a number of milliseconds > 0'],
    ['fast', 'must be a number of milliseconds > 0'],
    [null, 'must be a number of milliseconds > 0'],
  ])('rejects afterMs %s with its path', (afterMs, message) => {
    expect(issuesOf({ afterMs })).toEqual([
      { path: 'aliases["mana/x"].hedge.afterMs', message: expect.stringContaining(message) },
    ]);
  });

  it('requires afterMs', () => {
    expect(issuesOf({})).toEqual([
      { path: 'aliases["mana/x"].hedge.afterMs', message: expect.stringMatching(/^is required/) },
    ]);
  });

  it('rejects a hedge that is not a mapping', () => {
    for (const hedge of [300, 'auto', true, [300], null]) {
      expect(issuesOf(hedge)).toEqual([
        { path: 'aliases["mana/x"].hedge', message: expect.stringMatching(/must be a mapping/) },
      ]);
    }
  });

  it('reports an unknown key in hedge with a suggestion', () => {
    expect(issuesOf({ aftreMs: 300, afterMs: 300 })).toEqual([
      { path: 'aliases["mana/x"].hedge.aftreMs', message: expect.stringMatching(/afterMs/) },
    ]);
  });

  it('suggests hedge for a misspelled key of the alias', () => {
    try {
      loadAliases({ object: { aliases: { 'mana/x': { chain: ['a/m'], hegde: { afterMs: 300 } } } } });
      expect.unreachable();
    } catch (err) {
      expect((err as AliasConfigError).issues).toEqual([
        { path: 'aliases["mana/x"].hegde', message: expect.stringMatching(/hedge/) },
      ]);
    }
  });
});
