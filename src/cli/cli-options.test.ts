import { describe, expect, it } from 'vitest';
import { optionsFrom } from './cli-options.js';

describe('optionsFrom without --config', () => {
  it('configures Ollama (OLLAMA_URL or localhost) and each well-known cloud whose <ID>_API_KEY is set', () => {
    const env = {
      OLLAMA_URL: 'http://127.0.0.1:1',
      OLLAMA_API_KEY: 'not-read',
      GROQ_API_KEY: 'g',
      ANTHROPIC_API_KEY: 'a',
      GOOGLE_API_KEY: '',
      MISTRAL_API_KEY: 'not-well-known',
    };
    expect(optionsFrom({ aliases: 'aliases.example.yaml' }, env).providers).toEqual({
      ollama: { baseUrl: 'http://127.0.0.1:1' },
      groq: { apiKey: 'g' },
      anthropic: { apiKey: 'a' },
    });
    const keys = { OPENAI_API_KEY: 'o', OPENROUTER_API_KEY: 'r', TOGETHER_API_KEY: 't', GOOGLE_API_KEY: 'x' };
    expect(Object.keys(optionsFrom({ aliases: 'aliases.example.yaml' }, keys).providers ?? {})).toEqual([
      'ollama',
      'openai',
      'openrouter',
      'together',
      'google',
    ]);
  });
});
