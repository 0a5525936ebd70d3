/** The size caps the wire layer enforces on what an upstream sends (defaults and docs: options.ts, docs/limits.md). */
export interface WireLimits {
  /** A non-stream reply read whole (chat, model lists): bytes. */
  readonly maxResponseBytes: number;
  /** An embeddings reply read whole: bytes. */
  readonly maxEmbeddingResponseBytes: number;
  /** What is read of an error reply's body; the rest is dropped: bytes. */
  readonly maxErrorBodyBytes: number;
  /** One SSE event or NDJSON line, counted in characters of its decoded text (a byte each for ASCII JSON). */
  readonly maxFrameBytes: number;
}

/**
 * An upstream sent more than a cap allows. Thrown by the wire layer before anything past the cap is decoded;
 * adapters report it as a `ProviderResponseError` (the provider's fault, never the connection's).
 */
export class WireLimitError extends Error {
  override readonly name = 'WireLimitError';
  readonly code = 'MANA_WIRE_LIMIT';

  constructor(
    what: string,
    /** The cap that was passed, and the option that sets it. */
    readonly limit: number,
    readonly option: keyof WireLimits,
  ) {
    super(`${what} is larger than ${limit} bytes (limits.${option})`);
  }
}
