import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';

/**
 * Whether `redis-server` is on PATH. Locally the Redis tests are skipped with a visible message when it is
 * not; in CI (`CI=true`) its absence is a failure, never a skip.
 */
export function haveRedis(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (found) return true;
  if (process.env.CI === 'true') {
    throw new Error(
      'redis-server is not on PATH: CI must install it (.ci/run does: apt-get install redis-server)',
    );
  }
  console.warn(
    '\n[mana-llm] redis-server is not on PATH: SKIPPING the Redis tests (apt-get install redis-server)\n',
  );
  return false;
}

/** A free loopback port: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A `redis-server` this test started on its own port, without persistence. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts `redis-server --port <free> --save '' --appendonly no` on 127.0.0.1 and waits until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const until = Date.now() + 5_000;
    while (!(await ping(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > until) throw new Error(`redis-server did not answer PING on port ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    restart: launch,
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited(child);
    },
    freeze() {
      child.kill('SIGSTOP');
    },
    thaw() {
      child.kill('SIGCONT');
    },
  };
}

/** Every command a Redis server runs, seen through MONITOR (commands a frozen server gets are seen after thaw). */
export interface CommandLog {
  /** How many commands seen so far have a name in `names` (lower case) and an argument starting with `arg`. */
  count(names: readonly string[], arg: string): number;
  /** Resolves once the log has seen every command Redis ran before this call (a marker sent and seen). */
  sync(): Promise<void>;
  stop(): void;
}

/** The quoted arguments of one MONITOR line (`+1.2 [0 127.0.0.1:5] "SET" "a\\"b"`), unescaped. */
function monitorArgs(line: string): string[] {
  const args: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    args.push(
      (m[1] ?? '').replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) =>
        e.length === 3 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : (ESCAPES[e] ?? e),
      ),
    );
  }
  return args;
}
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };

/**
 * A raw socket, not ioredis's `monitor()`: ioredis can read a MONITOR line that arrives in the same read as
 * the MONITOR command's OK before it switches to monitoring, and then throws "Command queue state error".
 */
export async function watchCommands(url: string): Promise<CommandLog> {
  const { Redis } = await import('ioredis');
  const seen: string[][] = [];
  const waiting = new Map<string, () => void>();
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let buffered = '';
  let started: () => void;
  const monitoring = new Promise<void>((resolve) => {
    started = resolve;
  });
  socket.setEncoding('latin1');
  socket.on('data', (data: string) => {
    buffered += data;
    let end = buffered.indexOf('\r\n');
    while (end >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\r\n');
      if (line === '+OK') {
        started();
        continue;
      }
      const args = monitorArgs(line);
      seen.push(args);
      if (args[0]?.toLowerCase() === 'echo') waiting.get(args[1] ?? '')?.();
    }
  });
  socket.write('MONITOR\r\n');
  await monitoring;
  const marker = new Redis(url);
  let n = 0;
  return {
    count: (names, arg) =>
      seen.filter((a) => names.includes(a[0]?.toLowerCase() ?? '') && a.some((x) => x.startsWith(arg)))
        .length,
    async sync() {
      const id = `sync-${++n}`;
      const done = new Promise<void>((resolve) => waiting.set(id, resolve));
      await marker.echo(id);
      await done;
    },
    stop() {
      socket.destroy();
      marker.disconnect();
    },
  };
}
