/**
 * `npx tsx bench/parts.ts [--quick] [--parts=body,frames] [--rows=chat,paced]`: every hand-made part of mana-llm
 * side by side with what the platform or a well-kept library offers instead, end to end, in one process.
 *
 * Each variant is a copy of `src/` (in `bench/.parts/<id>/`, rebuilt on every run) with one file swapped for its
 * alternative from `bench/parts/` (or one small patch), imported as its own module graph; `current` is an
 * unchanged copy, so every column is JIT-compiled the same way. Every row runs all builds in rounds (rotated
 * order), and a variant's gain is the median over rounds of its value ÷ `current`'s value in the same round.
 * A part is kept only where it wins ≥ 10 % on an end-to-end row it is on the path of (bench/README.md).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFrom, extractAt } from './builds.js';
import { type Client, floorClient, manaClient, type StreamStat } from './clients.js';
import { concurrent, inRounds, median, now, PACED_CONCURRENCY, pacedRound, sequential } from './measure.js';
import { startUpstream } from './upstream.js';
import { patched, type RowId, VARIANTS, type Variant } from './variants.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const onlyParts = arg('parts')?.split(',');
const onlyRows = arg('rows')?.split(',');
/** `--before=<commit>[,<commit>…]`: more builds, src/ as it was at each commit (before/after in the same rounds). */
const before = arg('before');
const befores = before?.split(',').filter((c) => c !== '') ?? [];

const P = quick
  ? { rounds: 6, seq: 300, c64: 1000, streams: 16, paced: 16, cached: 2000, warmMs: 500 }
  : { rounds: 30, seq: 300, c64: 1500, streams: 8, paced: 16, cached: 3000, warmMs: 2000 };

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TREES = join(ROOT, 'bench/.parts');
const ALTS = join(ROOT, 'bench/parts');

/** Copies src/ (without tests) to `bench/.parts/<id>/src` and applies the variant; returns its index.ts. */
function buildTree(v: Variant | undefined, commit?: string): string {
  if (commit) return extractAt(commit);
  const base = join(TREES, v?.id ?? 'current');
  rmSync(base, { recursive: true, force: true });
  const src = join(base, 'src');
  cpSync(join(ROOT, 'src'), src, {
    recursive: true,
    filter: (p) => statSync(p).isDirectory() || (p.endsWith('.ts') && !p.endsWith('.test.ts')),
  });
  for (const [target, alt] of Object.entries(v?.files ?? {})) {
    const dest = join(src, target);
    // The alternative imports the library's modules as `../../src/…` (so that it typechecks where it lives).
    const text = readFileSync(join(ALTS, alt), 'utf8').replace(
      /'\.\.\/\.\.\/src\/([^']+)'/g,
      (_, p: string) => {
        const rel = relative(dirname(dest), join(src, p));
        return `'${rel.startsWith('.') ? rel : `./${rel}`}'`;
      },
    );
    writeFileSync(dest, text);
  }
  for (const file of new Set(v?.patches?.map((p) => p.file))) {
    const path = join(src, file);
    writeFileSync(path, patched(v as Variant, file, readFileSync(path, 'utf8')));
  }
  return join(src, 'index.ts');
}

interface RowDef {
  id: RowId;
  label: string;
  better: 'lower' | 'higher';
  /** One round's value for a client. */
  measure: (c: Client) => Promise<number>;
  /** Calls per round (the client's CPU time per call is measured beside the value). */
  ops: number;
  /** The column ratios are taken to (the cached row has no floor). */
  base: string;
}

const FLOOR = 'undici (floor)';
const CURRENT = 'current';

async function streams(run: () => Promise<StreamStat>, n: number): Promise<number> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await run();
    us.push((now() - t) * 1000);
  }
  return median(us);
}

const ROWS: RowDef[] = [
  {
    id: 'chat',
    ops: P.seq,
    label: 'chat, sequential: median µs',
    better: 'lower',
    base: FLOOR,
    measure: async (c) => median(await sequential(() => c.chat(), P.seq)),
  },
  {
    id: 'c64',
    ops: P.c64,
    label: 'chat at concurrency 64: req/s ↑',
    better: 'higher',
    base: FLOOR,
    measure: async (c) => (P.c64 / (await concurrent(() => c.chat(), 64, P.c64))) * 1000,
  },
  {
    id: 'stream',
    ops: P.streams,
    label: '256-chunk stream (burst): total µs',
    better: 'lower',
    base: FLOOR,
    measure: (c) => streams(() => c.stream('burst'), P.streams),
  },
  {
    id: 'obfuscated',
    ops: P.streams,
    label: '256 realistic frames in one burst: total µs',
    better: 'lower',
    base: FLOOR,
    measure: (c) => streams(() => c.stream('obfuscated'), P.streams),
  },
  {
    id: 'paced',
    ops: P.paced,
    label: `realistic stream (paced, ${PACED_CONCURRENCY} at a time): client CPU µs per stream`,
    better: 'lower',
    base: FLOOR,
    measure: async (c) => (await pacedRound(c, P.paced)).cpuUs,
  },
  {
    id: 'ollama',
    ops: P.streams,
    label: 'ollama 256-line NDJSON stream: total µs',
    better: 'lower',
    base: FLOOR,
    measure: (c) => streams(() => c.ollamaStream?.() ?? c.stream(), P.streams),
  },
  {
    id: 'cached',
    ops: P.cached,
    label: 'chat from the memory cache, sequential: median µs',
    better: 'lower',
    base: CURRENT,
    measure: async (c) => median(await sequential(() => c.cachedChat?.() ?? c.chat(), P.cached)),
  },
];

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const started = Date.now();
  const variants = VARIANTS.filter((v) => !onlyParts || onlyParts.includes(v.id));
  const rows = ROWS.filter(
    (r) =>
      (!onlyRows || onlyRows.includes(r.id)) &&
      (before !== undefined || variants.some((v) => v.rows.includes(r.id))),
  );
  mkdirSync(TREES, { recursive: true });
  const upstream = await startUpstream('child');
  const targets = { url: upstream.url, deadUrl: 'http://127.0.0.1:9' };
  const builds: Client[] = [];
  for (const v of [undefined, ...variants]) {
    const create = await createFrom(buildTree(v));
    const id = v?.id ?? CURRENT;
    builds.push(manaClient(targets, false, { create, id, name: v ? `alt: ${id}` : CURRENT, cache: true }));
  }
  for (const commit of befores) {
    const create = await createFrom(buildTree(undefined, commit));
    builds.push(
      manaClient(targets, false, { create, id: `before ${commit}`, name: `at ${commit}`, cache: true }),
    );
  }
  const floor = floorClient(targets);
  const all = [floor, ...builds];
  const log = (s: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${s}\n`);
  log(
    `parts bench: ${quick ? 'quick' : 'full'}, ${builds.length} builds (${variants.map((v) => v.id).join(', ')})`,
  );

  const results = new Map<RowId, Map<string, { value: number; cpu: number }[]>>();
  for (const row of rows) {
    // The floor has no cache, and a variant off the row's path is the current code again: neither is run.
    const who = all.filter(
      (c) =>
        (c === floor && row.base === FLOOR) ||
        c.id === CURRENT ||
        c.id.startsWith('before ') ||
        variants.some((v) => v.id === c.id && v.rows.includes(row.id)),
    );
    log(`${row.label}: warm-up, then ${P.rounds} rounds × ${who.length} clients`);
    // Warmed for a while, not a few calls: a row run alone measured its first thousand Ollama streams at twice the
    // time of later ones (the floor's too), which shrank every gain on that row toward zero.
    for (const c of who) {
      const until = now() + P.warmMs;
      do await row.measure(c);
      while (now() < until);
    }
    results.set(
      row.id,
      await inRounds(who, P.rounds, async (c) => {
        // The process's CPU time per call beside the value: steadier than wall time on a loaded machine, since
        // time spent waiting for a core or for the upstream is not in it.
        const cpu0 = process.cpuUsage();
        const value = await row.measure(c);
        const cpu = process.cpuUsage(cpu0);
        return { value, cpu: (cpu.user + cpu.system) / row.ops };
      }),
    );
  }

  await Promise.all(all.map((c) => c.close()));
  await upstream.close();

  const series = (row: RowDef, name: string, k: 'value' | 'cpu') =>
    results
      .get(row.id)
      ?.get(name)
      ?.map((x) => x[k]);
  const ratio = (row: RowDef, name: string, base: string, k: 'value' | 'cpu'): number => {
    const a = series(row, name, k);
    const b = series(row, name === base ? name : base, k);
    if (!a || !b) return Number.NaN;
    return median(a.map((v, i) => v / (b[i] as number)));
  };
  const names = all.map((c) => c.name);
  const out: string[] = [
    '',
    `${new Date().toISOString().slice(0, 16)} · parts bench, ${quick ? 'quick' : 'full'} mode · ${Math.round((Date.now() - started) / 1000)} s · load ${loadBefore.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}`,
  ];
  const table = (k: 'value' | 'cpu', title: string) => {
    out.push('', title, '', `| row | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const row of rows) {
      const cells = names.map((n) => {
        const v = series(row, n, k);
        if (!v) return '';
        if (n === row.base) return fmt(median(v));
        return `${fmt(median(v))} (${ratio(row, n, row.base, k).toFixed(2)}×)`;
      });
      const label = k === 'cpu' ? row.label.replace(/:.*$/, ': client CPU µs per call') : row.label;
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
  };
  table('value', "Time (the row's own unit):");
  table('cpu', 'Client CPU time per call (process.cpuUsage, user + system):');
  out.push(
    '',
    'Cells: median over rounds; in brackets the median over rounds of the ratio to the floor (the cached row: to `current`) of the same round.',
    '',
    '| part | alternative | row | gain of the part (time) | gain of the part (CPU) |',
    '|---|---|---|---:|---:|',
  );
  for (const v of variants) {
    for (const row of rows.filter((r) => v.rows.includes(r.id))) {
      // How much the hand-made part saves: the alternative's cost over the current code's, minus one.
      const flip = (x: number) => (v.removed ? 1 / x : x);
      const r = flip(ratio(row, `alt: ${v.id}`, CURRENT, 'value'));
      const gain = row.better === 'lower' ? r - 1 : 1 / r - 1;
      const cpuGain = flip(ratio(row, `alt: ${v.id}`, CURRENT, 'cpu')) - 1;
      out.push(
        `| ${v.part} | ${v.alternative} | ${row.label} | ${(gain * 100).toFixed(1)} % | ${(cpuGain * 100).toFixed(1)} % |`,
      );
    }
  }
  out.push(
    '',
    'Gain: median over rounds of (alternative ÷ current) − 1; for req/s (current ÷ alternative) − 1.',
    '',
  );
  process.stdout.write(out.join('\n'));
  rmSync(TREES, { recursive: true, force: true });
}

await main();
