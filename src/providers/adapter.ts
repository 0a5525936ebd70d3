import type { ChatChunk, ChatCompletion, ChatRequest, Embeddings, EmbedRequest } from '../types.js';

/** What a provider can do for a given model; routing skips an entry that cannot serve a request. */
export interface Capabilities {
  tools: boolean;
  vision: boolean;
  jsonSchema: boolean;
  embeddings: boolean;
}

/** Every capability, for any model: what the OpenAI-compatible, Ollama and Gemini adapters offer. */
export const ALL_CAPABILITIES: Capabilities = Object.freeze({
  tools: true,
  vision: true,
  jsonSchema: true,
  embeddings: true,
});

/** Per-attempt context handed to an adapter by the router. */
export interface AdapterContext {
  /**
   * Aborts when the caller aborts or this attempt's time is up. Adapters pass it to every request they
   * make; the router decides what an abort means (timeout vs. the caller's own abort).
   */
  signal: AbortSignal;
}

/** A chat request as an adapter sees it: `model` is the provider's own model name (no `provider/` prefix). */
export type AdapterChatRequest = Omit<ChatRequest, 'model'> & { model: string };

/** An embeddings request as an adapter sees it. */
export type AdapterEmbedRequest = Omit<EmbedRequest, 'model' | 'input'> & { model: string; input: string[] };

/** Result of a health probe: `ok` = the provider answered; `error` is kept as `lastError` (e.g. a 401). */
export interface ProbeOutcome {
  ok: boolean;
  error?: string;
}

/**
 * One wire protocol. The built-in adapters implement it for OpenAI-compatible servers, Ollama, Gemini and
 * Anthropic; pass your own with `type: 'custom'`.
 *
 * Contract: every failure is thrown as a `ProviderError` subclass (see errors.ts); `stream()` yields OpenAI
 * `chat.completion.chunk` objects whose `model` is `provider/model`, and throws if the upstream ends without a
 * finish reason or end marker. Chunks whose delta carries no text, tool call or reasoning are allowed (role-only
 * chunks); the router holds them until the first content chunk.
 */
export interface ProviderAdapter {
  capabilities(model: string): Capabilities;
  chat(request: AdapterChatRequest, ctx: AdapterContext): Promise<ChatCompletion>;
  stream(request: AdapterChatRequest, ctx: AdapterContext): AsyncIterable<ChatChunk>;
  /**
   * Optional: the same stream as one array of chunks per network read, so that routing pays one promise per read
   * instead of one per chunk (on a burst of 256 chunks in one read that is most of the router's cost). When present,
   * `llm.stream()` uses it instead of `stream`: the same chunks, in the same order, with the same errors (chunks
   * parsed before a bad frame come first, then the error). Each array should hold at least one chunk.
   */
  streamBatches?(request: AdapterChatRequest, ctx: AdapterContext): AsyncIterable<ChatChunk[]>;
  embed(request: AdapterEmbedRequest, ctx: AdapterContext): Promise<Embeddings>;
  /** Zero-token liveness check (a model-list endpoint). Resolves `{ ok: false }` or throws when down. */
  probe(ctx: AdapterContext): Promise<ProbeOutcome>;
  /** The provider's model names (without prefix). */
  models(ctx: AdapterContext): Promise<string[]>;
  /** Releases what the adapter holds (the client closes the shared HTTP agent itself). */
  close?(): Promise<void>;
}

/**
 * Internal: set on an adapter whose upstream needs image bytes rather than URLs (Ollama, Gemini, Anthropic), so
 * the router fetches a call's images once, before the attempt's clock starts, and never on the provider's time.
 */
export const INLINE_IMAGES: unique symbol = Symbol('mana-llm.inlineImages');

/** An adapter that may say it inlines images. */
export interface InlinesImages {
  readonly [INLINE_IMAGES]?: true;
}
