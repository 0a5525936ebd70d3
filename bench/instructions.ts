/**
 * `npx tsx bench/instructions.ts [--rows=stream,paced] [--before=<commit>] [--scale=1]`: CPU instructions per call,
 * counted by valgrind's cachegrind, for the floor, the floor handing each chunk out through an async generator (the
 * stream row's reference), mana-llm (direct and through an alias) and, with `--before`, mana-llm as it was at a
 * commit. Needs `valgrind` on the PATH (`apt-get install valgrind`); not part of `npm run bench` or CI.
 *
 * Why: on this shared 2-core machine a time ratio to the floor moves by ±5 % from run to run for the same code (the
 * burst row read 1.20–1.29×), so a change of a few per cent cannot be seen in time; an instruction count is
 * the same whatever else the machine does. It is not time: it leaves out cache misses and waits, and it counts the
 * garbage collector's work only as far as the collections run on the main thread.
 *
 * How: each client runs in its own `node --single-threaded` process under valgrind (no background GC or compiler
 * threads, so the collector's work is counted on the main thread), twice, for n calls and for 6n calls after the
 * same warm-up; (count(6n) − count(n)) / 5n leaves out start-up, module loading and JIT warm-up. The upstream runs
 * outside valgrind, in this process's child. Paced streams run PACED_CONCURRENCY at a time, as in the bench row.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFrom, extractAt } from './builds.js';
import { type Client, floorClient, manaClient } from './clients.js';
import { concurrent, ignore, PACED_CONCURRENCY } from './measure.js';
import { startUpstream } from './upstream.js';

const args = process.argv.slice(2);
const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** The rows, with calls per measured run (n; the long run is 6n): about 0.2–0.4 G instructions for n. */
const ROWS = {
  chat: { calls: 400, run: (c: Client) => c.chat() },
  stream: { calls: 60, run: (c: Client) => c.stream().then(ignore) },
  obfuscated: { calls: 60, run: (c: Client) => c.stream('obfuscated').then(ignore) },
  paced: { calls: 48, run: (c: Client) => c.stream('paced').then(ignore) },
  ollama: { calls: 80, run: (c: Client) => c.ollamaStream?.().then(ignore) ?? Promise.resolve() },
  embed: { calls: 16, run: (c: Client) => c.embed() },
} as const;
type RowId = keyof typeof ROWS;

if (args[0] === '--probe') await probe();
else await main();

/** Inside valgrind: warm up, then `n` calls of one row on one client, and exit. */
async function probe(): Promise<void> {
  const [, row, clientId, n, url, entry] = args as [string, RowId, string, string, string, string?];
  const targets = { url, deadUrl: 'http://127.0.0.1:9' };
  let client: Client;
  if (clientId === 'floor' || clientId === 'generator') client = floorClient(targets);
  else if (entry) {
    const create = await createFrom(entry);
    client = manaClient(targets, false, { create, id: 'before', name: 'before' });
  } else client = manaClient(targets, clientId === 'alias');
  const iterated = client.streamIterated?.bind(client);
  const one =
    clientId === 'generator' && iterated ? () => iterated().then(ignore) : () => ROWS[row].run(client);
  const conc = row === 'paced' ? PACED_CONCURRENCY : 1;
  // The same warm-up for both runs: their difference is then only the extra calls.
  await concurrent(one, conc, Math.max(conc, Math.ceil(ROWS[row].calls / 2)));
  await concurrent(one, conc, Number(n));
  await client.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const rows = (arg('rows')?.split(',') ?? Object.keys(ROWS)) as RowId[];
  const unknown = rows.filter((r) => !(r in ROWS));
  if (unknown.length > 0)
    throw new Error(`unknown rows ${unknown.join(', ')}: ${Object.keys(ROWS).join(', ')}`);
  const scale = Number(arg('scale') ?? 1);
  const before = arg('before');
  const build = before ? extractAt(before) : undefined;
  const loadBefore = loadavg()[0] ?? 0;
  const upstream = await startUpstream('child');
  const self = fileURLToPath(import.meta.url);
  const run = promisify(execFile);
  const probeArgs = (row: RowId, client: string, n: number) => [
    self,
    '--probe',
    row,
    client,
    String(n),
    upstream.url,
    ...(client === 'before' && build ? [build] : []),
  ];
  /** Instructions counted by valgrind for one process of `n` calls. */
  const count = async (row: RowId, client: string, n: number): Promise<number> => {
    const { stderr } = await run(
      'valgrind',
      [
        '--tool=cachegrind',
        '--cache-sim=no',
        '--cachegrind-out-file=/dev/null',
        process.execPath,
        '--single-threaded',
        '--max-semi-space-size=8',
        '--import',
        'tsx',
        ...probeArgs(row, client, n),
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr)?.[1];
    if (!refs) throw new Error(`no instruction count from valgrind:\n${stderr.slice(-2000)}`);
    return Number(refs.replaceAll(',', ''));
  };
  console.log(`instructions per call, load ${loadBefore.toFixed(1)}${before ? `, before = ${before}` : ''}`);
  console.log(
    '| row | floor | floor through a generator | mana-llm | mana-llm (alias) |' +
      (before ? ` @${before} |` : ''),
  );
  console.log(`|---|---:|---:|---:|---:|${before ? '---:|' : ''}`);
  for (const row of rows) {
    const n = Math.max(1, Math.round(ROWS[row].calls * scale));
    const clients = [
      'floor',
      ...(row === 'stream' ? ['generator'] : []),
      'mana',
      'alias',
      ...(build ? ['before'] : []),
    ];
    // Two processes at a time: this machine has two cores, and a count does not depend on how busy they are.
    const per = new Map<string, number>();
    for (let i = 0; i < clients.length; i += 2) {
      await Promise.all(
        clients.slice(i, i + 2).map(async (c) => {
          // Once without valgrind first, so that tsx's cache holds every file transpiled: otherwise the short run
          // alone pays for it (a fresh --before build read 3× cheaper than it is).
          await run(process.execPath, ['--import', 'tsx', ...probeArgs(row, c, 1)]);
          const [short, long] = [await count(row, c, n), await count(row, c, 6 * n)];
          per.set(c, (long - short) / (5 * n));
        }),
      );
    }
    const floor = per.get('floor') as number;
    const cell = (c: string) => {
      const v = per.get(c);
      return v === undefined ? '—' : `${(v / 1e6).toFixed(3)} M (${(v / floor).toFixed(3)}×)`;
    };
    const cols = ['generator', 'mana', 'alias', ...(build ? ['before'] : [])].map(cell);
    console.log(`| ${row} | ${(floor / 1e6).toFixed(3)} M | ${cols.join(' | ')} |`);
  }
  console.log(`load after ${(loadavg()[0] ?? 0).toFixed(1)}`);
  await upstream.close();
}
