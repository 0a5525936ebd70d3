import { TIMER, within } from '../clock.js';
import type { ChainWalk } from './chain-walk.js';
import type { HedgePolicy } from './hedge-policy.js';
import type { Outcome, Running, Served } from './walk-chain.js';

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
 * call's images first.
 */
function startHedge<T, R>(
  walk: ChainWalk<T, R>,
  policy: HedgePolicy,
  current: Running<T>,
  afterMs: number,
): Running<T> | undefined | Promise<Running<T> | undefined> {
  if (!walk.callableAhead() || !policy.take()) return undefined;
  // The entries skipped on the way to the hedge are recorded now, after `current`'s place: chain order is kept.
  walk.hold(current);
  const started = (hedge: Running<T> | undefined): Running<T> | undefined => {
    if (hedge === undefined) {
      policy.refund();
      return undefined;
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
  // The call's images cannot be had for the hedge's entry (or the call ended while they were fetched): no hedge. The
  // current attempt goes on (it may pass the URLs on); the walk meets that error again only if it falls through.
  return hedge instanceof Promise ? hedge.then(started, () => started(undefined)) : started(hedge);
}

/** The call ended before its hedge started: the hedge never starts (its token is refunded), or is cancelled. */
function dropHedge<T, R>(walk: ChainWalk<T, R>, starting: Promise<Running<T> | undefined>): void {
  walk.stop();
  starting.then(
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
 * through after it as usual. Each attempt keeps its own budget (half of what is left while entries remain).
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
  let hedge: Running<T> | undefined;
  for (;;) {
    if (current === undefined) {
      current = await walk.start();
      if (current === undefined) return walk.exhausted();
    }
    let o: Outcome<T>;
    if (hedge !== undefined) {
      o = await Promise.race([settled(current), settled(hedge)]);
    } else {
      const delay = current.hedged ? undefined : policy.delay(afterMs, current.entry.target, plan.kind);
      const r =
        delay === undefined
          ? await settled(current)
          : await within(ctx.clock, settled(current), current.started + delay - ctx.clock.now());
      if (r === TIMER) {
        current.hedged = true;
        try {
          const starting = startHedge(walk, policy, current, delay as number);
          if (starting instanceof Promise) {
            // The hedge's entry fetches the call's images first (up to images.timeoutMs): `current` settling
            // meanwhile is judged at once. Served, or ending the call (the caller's mistake), the hedge is then
            // never started; fallen through, or its answer rejected, the hedge goes on as the current attempt.
            const first = await Promise.race([starting, settled(current)]);
            if (first !== undefined && 'ok' in first) {
              const done = current;
              // Recorded below: not to be cancelled (recorded as hedged-out) when the judgement throws.
              current = undefined;
              let served: Served<T> | undefined;
              try {
                if (first.ok) served = walk.answered(done, first.value);
                else walk.failed(done, first.error);
              } catch (err) {
                dropHedge(walk, starting);
                throw err;
              }
              if (served) {
                dropHedge(walk, starting);
                return served;
              }
              current = await starting;
              continue;
            }
          }
          hedge = await starting;
        } catch (err) {
          if (current !== undefined) walk.cancel(current);
          throw err;
        }
        continue;
      }
      o = r;
    }
    const other = o.run === current ? hedge : current;
    hedge = undefined;
    if (o.ok) {
      const served = walk.answered(o.run, o.value);
      if (served) {
        if (other) walk.cancel(other);
        return served;
      }
    } else {
      try {
        walk.failed(o.run, o.error);
      } catch (err) {
        if (other) walk.cancel(other);
        throw err;
      }
    }
    current = other;
  }
}
