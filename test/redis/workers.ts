import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A line a worker printed: an event it observed, or the reply to a command. */
export interface WorkerLine {
  event?: string;
  reply?: number;
  ok?: boolean;
  at: number;
  payload?: any;
  result?: any;
  error?: { name?: string; code?: string; message?: string };
}

/** A mana-llm client in its own process, driven over stdin/stdout. */
export interface Worker {
  readonly name: string;
  readonly lines: WorkerLine[];
  events(name: string): WorkerLine[];
  send(op: string, extra?: Record<string, unknown>): Promise<WorkerLine>;
  waitFor(pred: (l: WorkerLine) => boolean, what: string, ms?: number): Promise<WorkerLine>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Closes the client and waits for the process to exit: true if it exited by itself (not killed after 3 s). */
  close(): Promise<boolean>;
}

const running = new Set<ChildProcess>();

/** Spawns a worker (`node --import tsx test/redis/fixtures/worker.ts <config>`). */
export function spawnWorker(name: string, config: Record<string, unknown>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const lines: WorkerLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text));
    } catch {
      return;
    }
    for (const w of [...waiters]) w();
  });
  let seq = 0;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const waitFor = (pred: (l: WorkerLine) => boolean, what: string, ms = 10_000) =>
    new Promise<WorkerLine>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (!hit) return false;
        cleanup();
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name}: timed out waiting for ${what}\n${stderr.slice(-2000)}`));
      }, ms);
      const onExit = () => {
        if (check()) return;
        cleanup();
        reject(new Error(`${name} exited while waiting for ${what}\n${stderr.slice(-2000)}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(w);
        child.off('exit', onExit);
      };
      const w = () => void check();
      waiters.add(w);
      child.once('exit', onExit);
      check();
    });
  return {
    name,
    lines,
    events: (event) => lines.filter((l) => l.event === event),
    async send(op, extra = {}) {
      const id = ++seq;
      child.stdin?.write(`${JSON.stringify({ id, op, ...extra })}\n`);
      return waitFor((l) => l.reply === id, `reply to ${op}`);
    },
    waitFor,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        await this.send('close').catch(() => undefined);
        child.stdin?.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      return child.signalCode === null;
    },
  };
}

/** Kills every worker still running (afterAll / afterEach safety net). */
export async function killWorkers(): Promise<void> {
  const all = [...running];
  for (const c of all) c.kill('SIGKILL');
  await Promise.all(all.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
}
