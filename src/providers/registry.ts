import type { Clock } from '../clock.js';
import type { ResolvedProvider } from '../options.js';
import type { Http } from '../wire/http.js';
import type { ProviderAdapter } from './adapter.js';
import { createAnthropicAdapter } from './anthropic.js';
import { createGoogleAdapter } from './google.js';
import type { ImageService } from './images.js';
import { createOllamaAdapter } from './ollama.js';
import { createOpenAIAdapter } from './openai.js';

/** The wire protocols mana-llm speaks, plus user-supplied adapters. */
export type ProviderType = 'ollama' | 'openai' | 'google' | 'anthropic' | 'custom';

/** A provider's settings after validation and defaults. */
export type AdapterConfig = Pick<ResolvedProvider, 'id' | 'baseUrl' | 'apiKey' | 'headers' | 'adapter'>;

/** What every adapter factory receives. */
export interface AdapterDeps {
  config: AdapterConfig;
  http: Http;
  clock: Clock;
  /** Fetches and inlines image URLs for upstreams that need bytes (the client's policy and budget). */
  images: ImageService;
}

/** The only switch on provider type. */
export const ADAPTERS = {
  openai: createOpenAIAdapter,
  ollama: createOllamaAdapter,
  google: createGoogleAdapter,
  anthropic: createAnthropicAdapter,
  // resolveOptions refuses a custom provider without an adapter (a ConfigError naming its path).
  custom: ({ config }) => config.adapter as ProviderAdapter,
} satisfies Record<ProviderType, (deps: AdapterDeps) => ProviderAdapter>;

/** Well-known provider ids: their protocol and public endpoint. */
export const WELL_KNOWN: Readonly<
  Record<string, { type: Exclude<ProviderType, 'custom'>; baseUrl: string }>
> = {
  ollama: { type: 'ollama', baseUrl: 'http://localhost:11434' },
  openai: { type: 'openai', baseUrl: 'https://api.openai.com/v1' },
  groq: { type: 'openai', baseUrl: 'https://api.groq.com/openai/v1' },
  openrouter: { type: 'openai', baseUrl: 'https://openrouter.ai/api/v1' },
  together: { type: 'openai', baseUrl: 'https://api.together.xyz/v1' },
  google: { type: 'google', baseUrl: 'https://generativelanguage.googleapis.com/v1beta' },
  anthropic: { type: 'anthropic', baseUrl: 'https://api.anthropic.com/v1' },
};

// Headers that carry a credential for one of the well-known clouds: a key given this way counts as a key.
const AUTH_HEADERS = new Set(['authorization', 'x-api-key', 'x-goog-api-key', 'api-key']);

/**
 * True when a well-known cloud provider (every well-known id but Ollama) is set up at its public endpoint with no
 * key: it could only answer 401, so it is not configured at all (`groq: { apiKey: process.env.GROQ_API_KEY }`
 * with the variable unset). A local server, or any other `baseUrl`, needs no key.
 */
export function lacksKey(
  known: (typeof WELL_KNOWN)[string],
  p: { baseUrl?: string | undefined; apiKey?: string | undefined; headers: Record<string, string> },
): boolean {
  if (known.type === 'ollama' || p.apiKey) return false;
  // Without `baseUrl` it is at the public endpoint. A given one (schema-checked: it parses) is compared as the
  // WHATWG parser writes it (host lower-cased, a default port dropped), without trailing slashes.
  if (p.baseUrl !== undefined && new URL(p.baseUrl).href.replace(/\/+$/, '') !== known.baseUrl) return false;
  return !Object.keys(p.headers).some((h) => AUTH_HEADERS.has(h.toLowerCase()));
}
