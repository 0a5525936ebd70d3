import type { AdapterConfig } from './registry.js';

/** What an error message names: provider, model, method and path (never a key). */
export interface CallMeta {
  provider: string;
  model: string;
  method: string;
  path: string;
  /** Configured secrets to scrub from anything the upstream echoes back. */
  secrets: readonly string[];
}

const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|password|credential|signature/i;

/**
 * What an adapter must scrub from anything an upstream echoes back: its API key, and every credential it sends as a
 * configured header (a bearer token for a proxy in front of Ollama, Azure's `api-key`), also without its scheme.
 */
function secretsOf(config: Pick<AdapterConfig, 'apiKey' | 'headers'>): string[] {
  const out = config.apiKey ? [config.apiKey] : [];
  for (const [name, value] of Object.entries(config.headers)) {
    if (!CREDENTIAL_HEADER.test(name)) continue;
    out.push(value);
    const token = /^\s*\S+\s+(\S+)\s*$/.exec(value)?.[1];
    if (token) out.push(token);
  }
  return out;
}

/** One provider's endpoint, worked out once per adapter: where requests go and how errors name a call. */
export interface Endpoint {
  origin: string;
  basePath: string;
  meta(model: string, method: string, path: string): CallMeta;
}

/** The endpoint of a configured provider (origin, path prefix, and the secrets its errors must never show). */
export function endpointOf(config: AdapterConfig): Endpoint {
  // Split once, at construction: undici takes the origin and the path apart.
  const url = new URL(config.baseUrl);
  const secrets = secretsOf(config);
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    meta: (model, method, path) => ({ provider: config.id, model, method, path, secrets }),
  };
}
