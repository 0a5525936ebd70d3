import { describe, expect, it } from 'vitest';
import { AliasConfigError, createManaLLM } from '../../src/index.js';

function refusal(aliases: unknown): AliasConfigError {
  try {
    createManaLLM({ aliases: aliases as never, providers: { ollama: {} }, health: { probes: false } });
  } catch (err) {
    return err as AliasConfigError;
  }
  throw new Error('not refused');
}

describe('an unknown default alias', () => {
  it('lists the valid alias names as a hint, and no hint when there is none', () => {
    const hinted = refusal({ aliases: { 'mana/a': { chain: ['ollama/m'] } }, default: 'mana/x' });
    expect(hinted.message).toContain(
      'default: names "mana/x", which is not a defined alias (defined: mana/a)',
    );
    const bare = refusal({ aliases: { 'BAD NAME': { chain: ['ollama/m'] } }, default: 'mana/x' });
    expect(bare).toBeInstanceOf(AliasConfigError);
    expect(bare.message).toMatch(/default: names "mana\/x", which is not a defined alias$/m);
  });
});
