import type { ResolvedOptions } from '../options.js';

/** The `limits.*` caps the wire layer enforces on what an upstream sends (each documented in options-schema.ts). */
export type WireLimits = Readonly<
  Pick<
    ResolvedOptions['limits'],
    'maxResponseBytes' | 'maxEmbeddingResponseBytes' | 'maxErrorBodyBytes' | 'maxFrameBytes'
  >
>;

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
