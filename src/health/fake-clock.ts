import type { Clock } from '../clock.js';

/** A Clock whose time moves only when a test says so. */
export interface FakeClock extends Clock {
  /**
   * Moves time forward by `ms`, firing every timer that falls due, in time order. A negative `ms` moves nothing; a
   * non-finite one (NaN, Infinity) throws a RangeError.
   */
  advance(ms: number): void;
  /** Like `advance`, but lets promises and `setImmediate` chains (up to 10 turns) settle around each timer. */
  advanceAsync(ms: number): Promise<void>;
  /** How many timers are scheduled and not yet fired or cancelled. */
  pending(): number;
}

const SETTLE_TURNS = 10;

interface Timer {
  readonly at: number;
  readonly fn: () => void;
}

/** Creates a fake clock starting at `startMs` (milliseconds since the epoch) for deterministic tests. */
export function createFakeClock(startMs = 1_700_000_000_000): FakeClock {
  let now = startMs;
  const timers = new Set<Timer>();

  // Earliest due timer; of equal deadlines the one scheduled first (a Set iterates in insertion order).
  const nextDue = (until: number): Timer | undefined => {
    let best: Timer | undefined;
    for (const t of timers) if (t.at <= until && (!best || t.at < best.at)) best = t;
    return best;
  };

  const fire = (t: Timer): void => {
    timers.delete(t);
    now = Math.max(now, t.at);
    t.fn();
  };

  // NaN would make `now` NaN for good; Infinity would fire a periodic timer forever. Negative stays a no-op.
  const target = (ms: number): number => {
    if (!Number.isFinite(ms))
      throw new RangeError(`advance(ms) needs a finite number of milliseconds, got ${ms}`);
    return now + Math.max(0, ms);
  };

  // Several macrotask turns, so callbacks that themselves hop through setImmediate also get to finish.
  const settle = async (): Promise<void> => {
    for (let i = 0; i < SETTLE_TURNS; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  return {
    now: () => now,
    setTimer(ms, fn) {
      const t: Timer = { at: now + Math.max(0, ms), fn };
      timers.add(t);
      return () => {
        timers.delete(t);
      };
    },
    advance(ms) {
      const until = target(ms);
      for (let t = nextDue(until); t; t = nextDue(until)) fire(t);
      now = until;
    },
    async advanceAsync(ms) {
      const until = target(ms);
      await settle();
      for (let t = nextDue(until); t; t = nextDue(until)) {
        fire(t);
        await settle();
      }
      now = until;
      await settle();
    },
    pending: () => timers.size,
  };
}
