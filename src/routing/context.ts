import type { AliasDefinition, ChainEntry } from '../aliases/schema.js';
import type { Clock } from '../clock.js';
import type { Attempt } from '../errors.js';
import type { CallKind, ManaEmitter } from '../events.js';
import type { HealthCache } from '../health/health-cache.js';
import type { ResolvedOptions, ResolvedProvider } from '../options.js';
import type { Capabilities, ProviderAdapter } from '../providers/adapter.js';
import type { CallImages, ImageService } from '../providers/images.js';
import type { ManaTraceMessage } from '../trace-channels.js';
import type { AttemptSignal } from './attempt.js';
import type { HedgePolicy } from './hedge-policy.js';

/** A configured provider at run time. */
export interface ProviderSlot {
  readonly config: ResolvedProvider;
  readonly adapter: ProviderAdapter;
  inFlight: number;
  /**
   * Attempts still waiting for the provider's answer (a committed stream no longer counts): what the limit after a
   * failure bounds, so that long streams already running do not shut a recovering provider out.
   */
  unanswered: number;
}

/** What the chain walk needs from the client; built once per client. */
export interface RouterContext {
  readonly providers: ReadonlyMap<string, ProviderSlot>;
  readonly health: HealthCache;
  readonly events: ManaEmitter;
  readonly clock: Clock;
  readonly opts: ResolvedOptions;
  /** In-flight attempts, aborted by `close()`. */
  readonly live: Set<AttemptSignal>;
  /** Fetches the images of calls whose upstream needs bytes (policy and budget from `images.*`). */
  readonly images: ImageService;
  /** The client's hedge budget and `'auto'` rule (absent: no call hedges). */
  readonly hedging?: HedgePolicy;
  /** Set by `close()`: no attempt starts and nothing is recorded after it. */
  closed?: boolean;
}

/** What a request needs from a provider. */
export type Needs = Partial<Record<keyof Capabilities, true>>;

/** One call, resolved and ready to walk. */
export interface CallPlan {
  readonly id: string;
  readonly kind: CallKind;
  readonly requested: string;
  readonly alias: AliasDefinition | undefined;
  readonly chain: readonly ChainEntry[];
  readonly needs: Needs;
  readonly signal: AbortSignal | undefined;
  readonly startedAt: number;
  /** Epoch ms at which the whole walk's budget runs out. */
  readonly deadline: number;
  /** The walk's record, filled as it goes (so a failure can report what was tried). */
  readonly attempts: Attempt[];
  /** The tracing-channel message, when `mana-llm:<kind>` has subscribers. */
  readonly trace: ManaTraceMessage | undefined;
  /** The call's `hedgeAfterMs`, else its alias's `hedge.afterMs` (absent or 0: no hedging). */
  readonly hedgeAfterMs?: number | 'auto' | undefined;
  /** A chat call's images, fetched once for every entry that needs bytes (absent without images). */
  readonly images?: CallImages;
}
