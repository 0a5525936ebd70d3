/** Source of time for every time-dependent part; inject a fake one in tests. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; returns a function that cancels it. Timers must not keep the process alive. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The longest delay one Node timer holds (24.8 days): a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Timers a clock runs on: Node's `setTimeout`/`clearTimeout` and `Date.now` for the system clock. */
export interface Timers<T extends { unref(): unknown }> {
  now(): number;
  setTimeout(fn: () => void, ms: number): T;
  clearTimeout(timer: T): void;
}

/** A clock on `timers`: each timer unref'd, a delay past 24.8 days chained over several (a 35-day `totalMs`). */
export function timerClock<T extends { unref(): unknown }>(timers: Timers<T>): Clock {
  const clock: Clock = {
    now: () => timers.now(),
    setTimer(ms, fn) {
      if (ms > MAX_TIMER_MS) {
        let cancel = clock.setTimer(MAX_TIMER_MS, () => {
          cancel = clock.setTimer(ms - MAX_TIMER_MS, fn);
        });
        return () => cancel();
      }
      const t = timers.setTimeout(fn, Math.max(0, ms));
      t.unref();
      return () => timers.clearTimeout(t);
    },
  };
  return clock;
}

/** The real clock: `Date.now()` and unref'd `setTimeout`. */
export const systemClock: Clock = timerClock({
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
});

/** What `within` gives when the time ran out first. */
export const TIMER = Symbol('timer');

/** `p`, or TIMER when `ms` on `clock` runs out first; the timer never outlives the race. */
export async function within<V>(clock: Clock, p: Promise<V>, ms: number): Promise<V | typeof TIMER> {
  let cancel: (() => void) | undefined;
  const timer = new Promise<typeof TIMER>((resolve) => {
    cancel = clock.setTimer(Math.max(0, ms), () => resolve(TIMER));
  });
  try {
    return await Promise.race([p, timer]);
  } finally {
    cancel?.();
  }
}
