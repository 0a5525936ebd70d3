import type { ChainEntry } from '../aliases/schema.js';
import type { AttemptReason } from '../errors.js';
import type { AdapterContext } from '../providers/adapter.js';
import type { AttemptSignal } from './attempt.js';
import { ChainWalk } from './chain-walk.js';
import type { CallPlan, ProviderSlot, RouterContext } from './context.js';
import { hedgedWalk } from './hedged-walk.js';

/** How to run one attempt of a walk; `R` is the call's request, handed to `run` (so a step can be built once). */
export interface Step<T, R = unknown> {
  /**
   * The `timeouts` option that caps each attempt beyond the walk's budget and the provider's cap (none: only those).
   */
  readonly attemptCap?: 'firstChunkMs';
  readonly timeoutLabel: string;
  run(slot: ProviderSlot, entry: ChainEntry, context: AdapterContext, request: R): Promise<T>;
  /** A served value that must not be used (embeddings of another length): the entry is skipped with this reason. */
  reject?(value: T, plan: CallPlan): AttemptReason | undefined;
  /** True when the served value is only a start (a committed stream): health records its success when it ends. */
  judgedAtEnd?(value: T): boolean;
  /** Lets go of a value that lost a hedge race after it was produced (an open stream's reader). */
  discard?(value: T): void;
}

/** One attempt in flight: the entry at chain index `i`, called at `started`. */
export interface Running<T> {
  readonly i: number;
  readonly entry: ChainEntry;
  readonly attempt: AttemptSignal;
  readonly started: number;
  /** The step's own promise; `result` is it raced against the attempt's abort (the same one when the adapter takes it). */
  readonly answer: Promise<T>;
  readonly result: Promise<T>;
  /** Where its record goes in `plan.attempts` when later entries were recorded while it ran (it was hedged). */
  at?: number;
  /** No hedge may start beside it: it is a hedge itself, or one was considered for it already (at most one). */
  hedged?: boolean;
  /** It failed (or its answer was rejected) and the walk went on while a hedge's entry still got the call's images. */
  fellThrough?: boolean;
  /** Its result as an Outcome (made only when attempts race): never rejects. */
  settled?: Promise<Outcome<T>>;
}

/** How an attempt settled, when attempts race (hedging). */
export type Outcome<T> =
  | { readonly run: Running<T>; readonly ok: true; readonly value: T }
  | { readonly run: Running<T>; readonly ok: false; readonly error: unknown };

/** The entry that served a call, with its attempt still open: `attempt.end()` once the answer is fully delivered. */
export interface Served<T> {
  readonly value: T;
  readonly entry: ChainEntry;
  readonly attempt: AttemptSignal;
}

/**
 * Walks a chain: skips what cannot serve, calls the rest in order until one succeeds, falls through on outages
 * and propagates the caller's own mistakes (the fallback table of docs/fallback.md, via `classify`). With hedging
 * on (the call's `hedgeAfterMs` or its alias's `hedge`), a slow attempt gets a second one beside it (`hedgedWalk`).
 * @throws NoHealthyProviderError when nothing served; the caller's error or abort reason as is
 */
export async function walkChain<T, R>(
  ctx: RouterContext,
  plan: CallPlan,
  step: Step<T, R>,
  request: R,
): Promise<Served<T>> {
  const walk = new ChainWalk(ctx, plan, step, request);
  const { hedgeAfterMs } = plan;
  if (hedgeAfterMs !== undefined && hedgeAfterMs !== 0 && ctx.hedging && plan.chain.length > 1)
    return hedgedWalk(walk, ctx.hedging, hedgeAfterMs);
  for (;;) {
    let run = walk.start();
    if (run instanceof Promise) run = await run;
    if (run === undefined) return walk.exhausted();
    let value: T;
    try {
      value = await run.result;
    } catch (raw) {
      walk.failed(run, raw);
      continue;
    }
    const served = walk.answered(run, value);
    if (served) return served;
  }
}
