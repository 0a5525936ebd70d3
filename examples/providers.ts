/**
 * Shared by the examples: which providers to use. With any of the usual environment variables set (OLLAMA_URL,
 * GROQ_API_KEY, OPENROUTER_API_KEY, TOGETHER_API_KEY, GOOGLE_API_KEY) those real providers are used; with none,
 * two local mock upstreams from `mana-llm/testing` stand in (Ollama-shaped and OpenAI-compatible as `groq`), so
 * every example runs with no API keys and no network. In your app, write the `providers` map directly.
 */
import { fileURLToPath } from 'node:url';
import type { ProviderOptions } from '../src/index.js';
import { startMockUpstream } from '../src/testing/index.js';

/** What the examples pass to `createManaLLM`, plus a `close` that stops the mock upstreams, if any. */
export interface ExampleProviders {
  aliasesPath: string;
  providers: Record<string, ProviderOptions>;
  /** True when the local mock upstreams stand in for real providers. */
  mock: boolean;
  /** Stops the mock upstreams (nothing to do for real providers). */
  close(): Promise<void>;
}

const ENV_KEYS = {
  groq: 'GROQ_API_KEY',
  openrouter: 'OPENROUTER_API_KEY',
  together: 'TOGETHER_API_KEY',
  google: 'GOOGLE_API_KEY',
} as const;

/** Real providers from the environment when configured, local mock upstreams otherwise. */
export async function exampleProviders(env = process.env): Promise<ExampleProviders> {
  const aliasesPath = fileURLToPath(new URL('../aliases.example.yaml', import.meta.url));
  const providers: Record<string, ProviderOptions> = {};
  if (env.OLLAMA_URL) providers.ollama = { baseUrl: env.OLLAMA_URL };
  for (const [id, name] of Object.entries(ENV_KEYS)) {
    const apiKey = env[name];
    if (apiKey) providers[id] = { apiKey };
  }
  if (Object.keys(providers).length > 0)
    return { aliasesPath, providers, mock: false, close: async () => {} };

  const ollama = await startMockUpstream('ollama', { reply: 'Hello from the local GPU box (mock Ollama).' });
  const groq = await startMockUpstream('openai', { reply: 'Hello from the cloud (mock Groq).', chunks: 6 });
  return {
    aliasesPath,
    providers: {
      ollama: { baseUrl: ollama.url },
      groq: { type: 'openai', baseUrl: groq.url, apiKey: 'mock-key-not-a-secret' },
    },
    mock: true,
    close: async () => void (await Promise.all([ollama.close(), groq.close()])),
  };
}
