import type { CallKind } from '../events.js';

/** One series of a target's latency: an EWMA of the samples and an EWMA of their distance from it. */
export interface LatencyStat {
  /** Smoothed latency in milliseconds (rounded). */
  readonly ms: number;
  /** Smoothed absolute deviation from `ms`, in milliseconds (rounded): how spread the samples are. */
  readonly deviationMs: number;
  /** How many samples fed the series. */
  readonly samples: number;
}

/**
 * A target's latency per kind of call, null before any sample of that kind: `chat` and `embed` are the whole call,
 * `stream` the time to the first content chunk (the commit point).
 */
export type TargetLatency = Readonly<Record<CallKind, LatencyStat | null>>;

/** Weight of a new sample in the mean (RFC 6298's alpha): about the last 8 calls matter. */
const ALPHA = 1 / 8;
/** Weight of a new sample's deviation (RFC 6298's beta): the spread reacts faster than the mean. */
const BETA = 1 / 4;
/** How many deviations above the mean the high estimate sits: roughly the 95th percentile for LLM latencies. */
const TAIL_DEVIATIONS = 3;
/** Most targets tracked; past it the one updated longest ago is dropped (model strings can be hostile). */
const MAX_TARGETS = 1_000;
/** Longest target tracked; a longer one (only a hostile or broken caller sends it) is not measured. */
const MAX_TARGET_CHARS = 256;

interface Series {
  mean: number;
  deviation: number;
  samples: number;
}

/** One target's series, and when it was last measured (a count of samples taken by the book, for eviction). */
type Book = Record<CallKind, Series | undefined> & { used: number };

function stat(s: Series | undefined): LatencyStat | null {
  return s ? { ms: Math.round(s.mean), deviationMs: Math.round(s.deviation), samples: s.samples } : null;
}

/**
 * Per-target latency, kept in this process only: an EWMA of the mean and of the absolute deviation per kind of call
 * (TCP's round-trip estimator, RFC 6298), bounded to 1000 targets of at most 256 characters. Only answers feed it:
 * failures and timeouts say nothing about how long an answer takes.
 */
export class LatencyBook {
  readonly #targets = new Map<string, Book>();
  #samples = 0;

  /** Adds one sample: `ms` from the attempt's start to its answer (`chat`, `embed`) or its commit (`stream`). */
  record(target: string, kind: CallKind, ms: number): void {
    if (target.length > MAX_TARGET_CHARS || !Number.isFinite(ms)) return;
    const sample = Math.max(0, ms);
    let book = this.#targets.get(target);
    if (book === undefined) {
      if (this.#targets.size >= MAX_TARGETS) {
        const [oldest] = [...this.#targets].reduce((a, b) => (b[1].used < a[1].used ? b : a));
        this.#targets.delete(oldest);
      }
      book = { chat: undefined, stream: undefined, embed: undefined, used: 0 };
      this.#targets.set(target, book);
    }
    // A stamp, not a delete and re-insert into the Map per sample (measurably cheaper on every call): the scan
    // above runs only when a new target arrives while the book is full.
    book.used = ++this.#samples;
    const s = book[kind];
    if (s === undefined) {
      book[kind] = { mean: sample, deviation: sample / 2, samples: 1 };
      return;
    }
    // The deviation is updated against the old mean first, as RFC 6298 orders it.
    s.deviation += BETA * (Math.abs(s.mean - sample) - s.deviation);
    s.mean += ALPHA * (sample - s.mean);
    s.samples++;
  }

  /** The high estimate of `target`'s `kind` latency, `mean + 3 × deviation`; undefined before any sample. */
  high(target: string, kind: CallKind): number | undefined {
    const s = this.#targets.get(target)?.[kind];
    return s && s.mean + TAIL_DEVIATIONS * s.deviation;
  }

  /** What `health()` and `resolve()` show for `target`: every kind, null where nothing was measured. */
  view(target: string): TargetLatency {
    const book = this.#targets.get(target);
    return { chat: stat(book?.chat), stream: stat(book?.stream), embed: stat(book?.embed) };
  }

  /** Every target with at least one sample. */
  targets(): IterableIterator<string> {
    return this.#targets.keys();
  }

  clear(): void {
    this.#targets.clear();
  }
}
