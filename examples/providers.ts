/**
 * Local stand-ins so that every example runs with no API keys and no network: when none of the usual environment
 * variables is set (OLLAMA_URL, GROQ_API_KEY, OPENROUTER_API_KEY, TOGETHER_API_KEY, GOOGLE_API_KEY), two mock
 * upstreams from `mana-llm/testing` start on 127.0.0.1 (Ollama-shaped, and OpenAI-compatible standing in for Groq).
 * Your app has nothing of the kind: it writes its `providers` map as the examples do, without the `standIns` parts.
 */
import { fileURLToPath } from 'node:url';
import { startMockUpstream } from 'mana-llm/testing';

/** The repository's example aliases file (`mana/fast-text`, `mana/long-form`, …). */
export const aliasesPath = fileURLToPath(new URL('../aliases.example.yaml', import.meta.url));

/** Base URLs of the running stand-ins, and a `close` that stops them. */
export interface StandIns {
  ollama: string;
  groq: string;
  close(): Promise<void>;
}

const ENV = ['OLLAMA_URL', 'GROQ_API_KEY', 'OPENROUTER_API_KEY', 'TOGETHER_API_KEY', 'GOOGLE_API_KEY'];

/** Starts the stand-ins when no real provider is set up in `env`; undefined otherwise. */
export async function startStandIns(env = process.env): Promise<StandIns | undefined> {
  if (ENV.some((name) => env[name])) return undefined;
  const ollama = await startMockUpstream('ollama', { reply: 'Hello from the local GPU box (mock Ollama).' });
  const groq = await startMockUpstream('openai', { reply: 'Hello from the cloud (mock Groq).', chunks: 6 });
  return {
    ollama: ollama.url,
    groq: groq.url,
    close: async () => void (await Promise.all([ollama.close(), groq.close()])),
  };
}
