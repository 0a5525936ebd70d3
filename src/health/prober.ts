import { type Clock, TIMER, within } from '../clock.js';
import type { ProbeOutcome } from '../providers/adapter.js';
import { cleanText, textOf } from '../redact.js';
import { warnThrown } from '../warn.js';

/** One provider's probe: resolves to an outcome (or a bare boolean) and should stop when `signal` aborts. */
export interface ProbeTarget {
  readonly provider: string;
  readonly probe: (signal: AbortSignal) => Promise<ProbeOutcome | boolean>;
}

/** A probe's outcome as reported: `error` is the reason text recorded as `lastError`. */
export interface ProbeResult extends ProbeOutcome {
  readonly durationMs: number;
}

/** What the prober needs; `random` replaces `Math.random` for the interval jitter in tests. */
interface ProberOptions {
  readonly targets: readonly ProbeTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly onResult: (provider: string, outcome: ProbeResult) => void;
  readonly random?: () => number;
  /**
   * Gate for coordinated probing: called before each probe, false skips this provider this round (another
   * process holds its lease). A gate that throws or takes longer than `timeoutMs` lets the probe run.
   */
  readonly acquire?: (provider: string) => boolean | Promise<boolean>;
  /**
   * Faster probing of a provider that is down: its next probe comes `initialMs` after it went down, then each
   * wait doubles up to `intervalMs` (with the same jitter) for as long as `isDown` says so.
   */
  readonly recovery: { readonly initialMs: number; readonly isDown: (provider: string) => boolean };
}

/** Background health probing: `tick()` probes every provider once; `start()` ticks now and then periodically. */
export type Prober = ReturnType<typeof createProber>;

/**
 * A provider on the recovery schedule, or just off it: `step` waits so far, `upAt` when a probe found it back
 * (undefined while it is still on the schedule).
 */
interface Recovery {
  step: number;
  cancel: (() => void) | undefined;
  upAt: number | undefined;
}

const JITTER = 0.1;
const MAX_REASON = 200;

/** Creates a prober that runs every provider's probe concurrently, each bounded by `timeoutMs`. */
export function createProber(opts: ProberOptions) {
  const { targets, intervalMs, timeoutMs, clock, onResult, acquire, recovery } = opts;
  const random = opts.random ?? Math.random;
  const inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const byId = new Map(targets.map((t) => [t.provider, t]));
  const recovering = new Map<string, Recovery>();
  const onSchedule = (provider: string): Recovery | undefined => {
    const r = recovering.get(provider);
    return r?.upAt === undefined ? r : undefined;
  };
  let started = false;
  // Bumped by stop(): a probe, gate or recovery timer begun before it sees another epoch and gives up.
  let epoch = 0;
  let cancelTimer: (() => void) | undefined;
  const jitter = (ms: number): number => ms * (1 - JITTER + 2 * JITTER * random());

  const schedule = (): void => {
    const delay = jitter(intervalMs);
    cancelTimer = clock.setTimer(delay, () => {
      if (!started) return;
      // Schedule first so a slow tick never stretches the period; overlap is prevented per provider.
      schedule();
      void tick();
    });
  };

  const run = async (target: ProbeTarget, controller: AbortController): Promise<void> => {
    const runEpoch = epoch;
    if (acquire) {
      // A broken or slow gate must not stop probing: this process then probes for itself.
      const held = await within(clock, (async () => acquire(target.provider))(), timeoutMs).catch(() => true);
      if (held !== TIMER && !held) return;
    }
    if (runEpoch !== epoch) return;
    const startedAt = clock.now();
    const stopped = new Promise<typeof TIMER>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve(TIMER), { once: true }),
    );
    const answered = (async () => target.probe(controller.signal))().then(normalize).catch(errorOutcome);
    let outcome = await within(clock, Promise.race([answered, stopped]), timeoutMs);
    // A probe cut short by stop() says nothing about the provider.
    if (runEpoch !== epoch) return;
    if (outcome === TIMER) {
      controller.abort(new DOMException(`probe timed out after ${timeoutMs}ms`, 'TimeoutError'));
      outcome = { ok: false, error: `probe-timeout (>${timeoutMs}ms)` };
    }
    try {
      onResult(target.provider, { ...outcome, durationMs: clock.now() - startedAt });
    } catch (err) {
      warnThrown('recording a probe result', err, 'MANA_LLM_PROBE');
    }
    // A provider found down by a periodic probe (already open, so no health flip announced it) recovers too.
    if (stillDown(target.provider)) recover(target.provider);
  };

  // Overlap is prevented per provider: a probe still running is joined, not doubled.
  const probeOne = (target: ProbeTarget): Promise<void> => {
    const current = inFlight.get(target.provider);
    if (current) return current.done;
    const controller = new AbortController();
    const entry = { controller, done: Promise.resolve() };
    inFlight.set(target.provider, entry);
    entry.done = run(target, controller).finally(() => {
      if (inFlight.get(target.provider) === entry) inFlight.delete(target.provider);
    });
    return entry.done;
  };

  // A provider waiting on its recovery schedule is probed by that schedule alone: the load stays bounded.
  const tick = async (): Promise<void> => {
    await Promise.all(targets.filter((t) => onSchedule(t.provider) === undefined).map(probeOne));
  };

  const arm = (target: ProbeTarget, r: Recovery): void => {
    const wait = Math.min(intervalMs, recovery.initialMs * 2 ** r.step);
    const runEpoch = epoch;
    r.cancel = clock.setTimer(jitter(wait), () => {
      r.cancel = undefined;
      if (runEpoch !== epoch) return;
      void probeOne(target).then(() => {
        if (runEpoch !== epoch) return;
        if (stillDown(target.provider)) {
          r.step = Math.min(r.step + 1, 30);
          arm(target, r);
        } else {
          r.upAt = clock.now();
        }
      });
    });
  };

  const stillDown = (provider: string): boolean => {
    try {
      return recovery.isDown(provider);
    } catch {
      return false;
    }
  };

  const recover = (provider: string): void => {
    const target = byId.get(provider);
    if (!started || !target || onSchedule(provider)) return;
    const r = recovering.get(provider);
    // Down again within an interval of coming back (a flapping provider): the waits go on from where they were.
    const step = r?.upAt !== undefined && clock.now() - r.upAt < intervalMs ? Math.min(r.step + 1, 30) : 0;
    const next: Recovery = { step, cancel: undefined, upAt: undefined };
    recovering.set(provider, next);
    arm(target, next);
  };

  return {
    start() {
      if (started) return;
      started = true;
      schedule();
      void tick();
    },
    stop() {
      started = false;
      epoch++;
      cancelTimer?.();
      cancelTimer = undefined;
      for (const r of recovering.values()) r.cancel?.();
      recovering.clear();
      for (const { controller } of inFlight.values())
        controller.abort(new DOMException('prober stopped', 'AbortError'));
      inFlight.clear();
    },
    tick,
    /** Starts the recovery schedule of a provider that just went down (no-op when it is already on it). */
    recover,
  };
}

function normalize(answer: ProbeOutcome | boolean): ProbeOutcome {
  const { ok, error } = typeof answer === 'boolean' ? { ok: answer, error: undefined } : answer;
  if (error !== undefined) return { ok: !!ok, error: clean(error) };
  return ok ? { ok: true } : { ok: false, error: 'probe-failed' };
}

function errorOutcome(err: unknown): ProbeOutcome {
  // Prefer the transport's code (ECONNREFUSED) over a wrapping error's own code (PROVIDER_CONNECTION).
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : e?.code;
  const what = typeof code === 'string' ? code : textOf(err);
  return { ok: false, error: `probe-error: ${clean(what)}` };
}

// Reasons end up in snapshots and events: never a key, a control character or a whole upstream page.
function clean(text: string): string {
  return cleanText(text, MAX_REASON);
}
