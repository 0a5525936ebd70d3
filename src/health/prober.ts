import type { Clock } from '../clock.js';
import type { ProbeOutcome } from '../providers/adapter.js';
import { redact } from '../redact.js';

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
export interface ProberOptions {
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
}

/** Background health probing: `tick()` probes every provider once; `start()` ticks now and then periodically. */
export interface Prober {
  start(): void;
  stop(): void;
  tick(): Promise<void>;
}

const JITTER = 0.1;
const MAX_REASON = 200;

/** Creates a prober that runs every provider's probe concurrently, each bounded by `timeoutMs`. */
export function createProber(opts: ProberOptions): Prober {
  const { targets, intervalMs, timeoutMs, clock, onResult, acquire } = opts;
  const random = opts.random ?? Math.random;
  const inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let started = false;
  let epoch = 0;
  let cancelTimer: (() => void) | undefined;

  const schedule = (): void => {
    const delay = intervalMs * (1 - JITTER + 2 * JITTER * random());
    cancelTimer = clock.setTimer(delay, () => {
      if (!started) return;
      // Schedule first so a slow tick never stretches the period; overlap is prevented per provider.
      schedule();
      void tick();
    });
  };

  const report = (provider: string, outcome: ProbeResult): void => {
    try {
      onResult(provider, outcome);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      process.emitWarning(`mana-llm: recording a probe result threw: ${msg}`, { code: 'MANA_LLM_PROBE' });
    }
  };

  // A broken or slow gate must not stop probing: this process then probes for itself.
  const acquired = async (provider: string): Promise<boolean> => {
    if (!acquire) return true;
    let cancel = (): void => {};
    const late = new Promise<boolean>((resolve) => {
      cancel = clock.setTimer(timeoutMs, () => resolve(true));
    });
    try {
      return await Promise.race([Promise.resolve(acquire(provider)), late]);
    } catch {
      return true;
    } finally {
      cancel();
    }
  };

  const run = async (target: ProbeTarget, controller: AbortController): Promise<void> => {
    const runEpoch = epoch;
    if (acquire && !(await acquired(target.provider))) {
      if (inFlight.get(target.provider)?.controller === controller) inFlight.delete(target.provider);
      return;
    }
    if (runEpoch !== epoch || controller.signal.aborted) return;
    const startedAt = clock.now();
    let cancelTimeout = (): void => {};
    const aborted = new Promise<ProbeOutcome>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve(timeoutOutcome(timeoutMs)), { once: true });
      cancelTimeout = clock.setTimer(timeoutMs, () =>
        controller.abort(new DOMException(`probe timed out after ${timeoutMs}ms`, 'TimeoutError')),
      );
    });
    const answered = (async () => target.probe(controller.signal))().then(normalize).catch(errorOutcome);
    const outcome = await Promise.race([answered, aborted]);
    cancelTimeout();
    if (inFlight.get(target.provider)?.controller === controller) inFlight.delete(target.provider);
    // A probe cut short by stop() says nothing about the provider.
    if (runEpoch !== epoch) return;
    report(target.provider, { ...outcome, durationMs: clock.now() - startedAt });
  };

  const tick = async (): Promise<void> => {
    const runs = targets.map((target) => {
      const current = inFlight.get(target.provider);
      if (current) return current.done;
      const controller = new AbortController();
      const entry = { controller, done: Promise.resolve() };
      inFlight.set(target.provider, entry);
      entry.done = run(target, controller);
      return entry.done;
    });
    await Promise.all(runs);
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
      const running = [...inFlight.values()];
      inFlight.clear();
      for (const { controller } of running)
        controller.abort(new DOMException('prober stopped', 'AbortError'));
    },
    tick,
  };
}

function normalize(answer: ProbeOutcome | boolean): ProbeOutcome {
  if (typeof answer === 'boolean') return answer ? { ok: true } : { ok: false, error: 'probe-failed' };
  if (answer.ok) return answer.error === undefined ? { ok: true } : { ok: true, error: clean(answer.error) };
  return { ok: false, error: answer.error === undefined ? 'probe-failed' : clean(answer.error) };
}

function errorOutcome(err: unknown): ProbeOutcome {
  // Prefer the transport's code (ECONNREFUSED) over a wrapping error's own code (PROVIDER_CONNECTION).
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : e?.code;
  const what = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return { ok: false, error: `probe-error: ${clean(what)}` };
}

function timeoutOutcome(timeoutMs: number): ProbeOutcome {
  return { ok: false, error: `probe-timeout (>${timeoutMs}ms)` };
}

// Reasons end up in snapshots and events: never a key, never a whole upstream page.
function clean(text: string): string {
  return redact(text).slice(0, MAX_REASON);
}
