import { TIMER, within } from '../clock.js';
import type { ChainWalk } from './chain-walk.js';
import type { HedgePolicy } from './hedge-policy.js';
import type { Outcome, Running, Served } from './walk-chain.js';

/** The attempt beside the current one: started, or a promise while its entry gets the call's images first. */
type Hedge<T> = Running<T> | Promise<Running<T> | undefined>;

/** `run`'s result as an Outcome that never rejects, made once (a loser's late rejection is handled here too). */
function settled<T>(run: Running<T>): Promise<Outcome<T>> {
  run.settled ??= run.result.then(
    (value): Outcome<T> => ({ run, ok: true, value }),
    (error: unknown): Outcome<T> => ({ run, ok: false, error }),
  );
  return run.settled;
}

/**
 * Starts the hedge of `current` when the budget allows it and a later entry can be called now; undefined otherwise
 * (then neither the cursor, the record nor the budget moved). A promise only when the hedge's entry must fetch the
 * call's images first: it gives undefined when they cannot be had (or the call ended meanwhile), as the current
 * attempt goes on (it may pass the URLs on) and the walk meets that error again only if it falls through.
 */
function startHedge<T, R>(
  walk: ChainWalk<T, R>,
  policy: HedgePolicy,
  current: Running<T>,
  afterMs: number,
): Hedge<T> | undefined {
  if (!walk.callableAhead() || !policy.take()) return undefined;
  // The entries skipped on the way to the hedge are recorded now, after `current`'s place: chain order is kept.
  walk.hold(current);
  const started = (hedge: Running<T> | undefined): Running<T> | undefined => {
    // Nothing started, or `current` fell through while the hedge's entry got the images: no hedge after all, that
    // attempt (if any) is the walk's next one.
    if (hedge === undefined || current.fellThrough) {
      policy.refund();
      return hedge;
    }
    // A hedge is never hedged itself.
    hedge.hedged = true;
    const { events } = walk.ctx;
    const { id, kind } = walk.plan;
    if (events.has('hedge'))
      events.emit('hedge', { id, kind, from: current.entry.target, to: hedge.entry.target, afterMs });
    return hedge;
  };
  let hedge: ReturnType<typeof walk.start>;
  try {
    hedge = walk.start();
  } catch (err) {
    // The call ended as the hedge would start (closed, aborted): the hedge spent nothing.
    policy.refund();
    throw err;
  }
  return hedge instanceof Promise ? hedge.then(started, () => started(undefined)) : started(hedge);
}

/**
 * The call is over: the attempt beside the one that ended it is cancelled (`hedged-out`), or, still getting its
 * images, never starts (its token is refunded) or is cancelled once it has.
 */
function cancelOther<T, R>(walk: ChainWalk<T, R>, other: Hedge<T> | undefined): void {
  if (!(other instanceof Promise)) {
    if (other !== undefined) walk.cancel(other);
    return;
  }
  walk.stop();
  other.then(
    (h) => {
      if (h === undefined) return;
      // Nothing else waits for its result: the abort it gets must not go unhandled.
      void settled(h);
      walk.cancel(h);
    },
    () => undefined,
  );
}

/**
 * The walk with hedging ("The Tail at Scale"): when the current attempt has no answer (a stream: no commit) after
 * the delay, the next callable entry starts beside it; the first to answer wins and the other is cancelled,
 * counting neither for nor against health (`hedged-out`). At most two attempts are in flight; a hedge is never
 * hedged itself, and when one of the two fails the other simply goes on as the current attempt, the walk falling
 * through after it as usual (a hedge whose entry was still getting the call's images then is no hedge: it starts as
 * that next attempt, its token given back). Each attempt keeps its own budget (half of what is left while entries
 * remain).
 * @throws as `walkChain`
 */
export async function hedgedWalk<T, R>(
  walk: ChainWalk<T, R>,
  policy: HedgePolicy,
  afterMs: number | 'auto',
): Promise<Served<T>> {
  const { ctx, plan } = walk;
  policy.deposit();
  let current: Running<T> | undefined;
  let hedge: Hedge<T> | undefined;
  for (;;) {
    if (current === undefined) {
      current = await walk.start();
      if (current === undefined) return walk.exhausted();
    }
    let o: Outcome<T>;
    if (hedge === undefined) {
      const delay = current.hedged ? undefined : policy.delay(afterMs, current.entry.target, plan.kind);
      const r =
        delay === undefined
          ? await settled(current)
          : await within(ctx.clock, settled(current), current.started + delay - ctx.clock.now());
      if (r === TIMER) {
        current.hedged = true;
        try {
          hedge = startHedge(walk, policy, current, delay as number);
        } catch (err) {
          walk.cancel(current);
          throw err;
        }
        continue;
      }
      o = r;
    } else if (hedge instanceof Promise) {
      // The hedge's entry fetches the call's images first (up to images.timeoutMs): `current` settling meanwhile
      // is judged at once.
      const first = await Promise.race([hedge, settled(current)]);
      if (first === undefined || !('ok' in first)) {
        hedge = first;
        continue;
      }
      o = first;
    } else {
      o = await Promise.race([settled(current), settled(hedge)]);
    }
    // The one place an attempt is judged: served, or ending the call, the other is cancelled (or never starts);
    // fallen through, or its answer rejected, the other goes on as the current attempt.
    const other = o.run === current ? hedge : current;
    hedge = undefined;
    let served: Served<T> | undefined;
    try {
      if (o.ok) served = walk.answered(o.run, o.value);
      else walk.failed(o.run, o.error);
    } catch (err) {
      cancelOther(walk, other);
      throw err;
    }
    if (served) {
      cancelOther(walk, other);
      return served;
    }
    if (other instanceof Promise) {
      o.run.fellThrough = true;
      current = await other;
    } else current = other;
  }
}
