import type { ProviderAdapter } from '../../src/providers/adapter.js';
import { createAnthropicAdapter } from '../../src/providers/anthropic.js';
import { createGoogleAdapter } from '../../src/providers/google.js';
import { createOllamaAdapter } from '../../src/providers/ollama.js';
import { createOpenAIAdapter } from '../../src/providers/openai.js';
import type { AdapterDeps } from '../../src/providers/registry.js';
import { anthropicCodec } from '../../src/testing/codecs/anthropic.js';
import { googleCodec } from '../../src/testing/codecs/google.js';
import { ollamaCodec } from '../../src/testing/codecs/ollama.js';
import { openaiCodec } from '../../src/testing/codecs/openai.js';
import type { MockCodec } from '../../src/testing/mock-server.js';

/** One wire protocol under the shared adapter contract. */
export interface Protocol {
  name: string;
  codec: MockCodec;
  create: (deps: AdapterDeps) => ProviderAdapter;
  /** A model name as the adapter sees it (no provider prefix). */
  model: string;
  /** What the contract expects `capabilities(model)` to say (tools and vision: every protocol). */
  capabilities: { embeddings: boolean; jsonSchema: boolean };
}

/** Every built-in protocol; each adapter appends its own entry (one line of imports each above). */
export const PROTOCOLS: Protocol[] = [
  {
    name: 'openai',
    codec: openaiCodec,
    create: createOpenAIAdapter,
    model: 'gpt-4o-mini',
    capabilities: { embeddings: true, jsonSchema: true },
  },
  {
    name: 'anthropic',
    codec: anthropicCodec,
    create: createAnthropicAdapter,
    model: 'claude-sonnet-4-5',
    capabilities: { embeddings: false, jsonSchema: false },
  },
  {
    name: 'ollama',
    codec: ollamaCodec,
    create: createOllamaAdapter,
    model: 'llama3.1:8b',
    capabilities: { embeddings: true, jsonSchema: true },
  },
  {
    name: 'google',
    codec: googleCodec,
    create: createGoogleAdapter,
    model: 'gemini-2.0-flash',
    capabilities: { embeddings: true, jsonSchema: true },
  },
];
