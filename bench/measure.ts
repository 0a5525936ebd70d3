/** Timing helpers shared by the benchmarks (`run.ts`, `parts.ts`): rounds, sequential and concurrent loops. */
import type { Client } from './clients.js';

/** Paced streams in flight at once (a server streams to many callers; it also keeps the row's wall time sane). */
export const PACED_CONCURRENCY = 16;

/** Does nothing (a `then` target). */
export const ignore = (): void => undefined;

/** Milliseconds, high resolution. */
export const now = (): number => performance.now();

/** The median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The `q` quantile of `xs` (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/** Runs `measure` for every client, `rounds` times, rotating the order so that no client always goes first. */
export async function inRounds<T>(
  clients: readonly Client[],
  rounds: number,
  measure: (c: Client) => Promise<T>,
): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(clients.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = clients.map((_, i) => clients[(i + r) % clients.length] as Client);
    // No forced GC between clients: a full collection shrinks the young generation and then taxes whichever
    // client allocates most for a while (2× for some) — an artefact no real process has.
    for (const c of order) out.get(c.name)?.push(await measure(c));
  }
  return out;
}

/** Microseconds each of `n` calls of `fn`, one after the other, took. */
export async function sequential(fn: () => Promise<void>, n: number): Promise<number[]> {
  const us: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn();
    us[i] = (now() - t) * 1000;
  }
  return us;
}

/** Milliseconds to run `total` calls with `conc` in flight at all times. */
export async function concurrent(fn: () => Promise<void>, conc: number, total: number): Promise<number> {
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      issued++;
      await fn();
    }
  };
  const t = now();
  await Promise.all(Array.from({ length: conc }, worker));
  return now() - t;
}

/** What one round of paced streams cost a client. */
export interface PacedRound {
  /** Process CPU time (user + system) per stream, µs. */
  cpuUs: number;
  /** Event-loop busy time per stream, µs. */
  busyUs: number;
  /** The median stream's wall time, ms (the upstream's pacing, mostly). */
  wallMs: number;
}

/**
 * `n` paced streams, PACED_CONCURRENCY at a time: the process's CPU time (user + system, `process.cpuUsage`) and
 * its event loop's busy time (`performance.eventLoopUtilization`) per stream, and the median stream's wall time.
 * The upstream runs in another process (or thread), so both are the client's alone.
 */
export async function pacedRound(c: Client, n: number): Promise<PacedRound> {
  const walls: number[] = [];
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await concurrent(
    async () => {
      const t = now();
      await c.stream('paced');
      walls.push(now() - t);
    },
    PACED_CONCURRENCY,
    n,
  );
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return { cpuUs: (cpu.user + cpu.system) / n, busyUs: (elu.active * 1000) / n, wallMs: median(walls) };
}
