import { describe, expect, it } from 'vitest';
import { isAlias, parseModelString } from './model-string.js';

describe('parseModelString', () => {
  it('splits at the first slash', () => {
    expect(parseModelString('groq/llama-3.1-8b-instant')).toEqual({
      provider: 'groq',
      model: 'llama-3.1-8b-instant',
    });
  });

  it('keeps further slashes and colons in the model', () => {
    expect(parseModelString('openrouter/anthropic/claude-3-haiku')).toEqual({
      provider: 'openrouter',
      model: 'anthropic/claude-3-haiku',
    });
    expect(parseModelString('ollama/qwen2.5:7b')).toEqual({ provider: 'ollama', model: 'qwen2.5:7b' });
  });

  it('lower-cases and trims the provider, trims the model', () => {
    expect(parseModelString('  OpenRouter / Anthropic/Claude ')).toEqual({
      provider: 'openrouter',
      model: 'Anthropic/Claude',
    });
  });

  it('returns null without a slash or with a blank side', () => {
    for (const s of ['', 'llama3', '/llama3', 'ollama/', '  /x', 'x/  ', '/']) {
      expect(parseModelString(s)).toBeNull();
    }
  });
});

describe('isAlias', () => {
  it('recognises the mana/ prefix only', () => {
    expect(isAlias('mana/fast-text')).toBe(true);
    expect(isAlias('ollama/qwen2.5:7b')).toBe(false);
    expect(isAlias('manager/x')).toBe(false);
    expect(isAlias('fast-text')).toBe(false);
  });
});
