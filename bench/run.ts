/**
 * `npm run bench [-- --quick] [-- --upstream=child|worker|inline]`: mana-llm side by side with raw undici (the
 * floor), Node fetch, the openai SDK and the Vercel AI SDK, in one process, against one local upstream.
 *
 * Machine speed drifts over minutes, so no number is compared with one taken at another time: every row runs in
 * rounds, each round runs every client once (in a rotated order, after a GC), a client's ratio is taken against
 * the floor's result of the same round, and the table shows medians over rounds. Writes bench/results.json.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createFrom, extractAt } from './builds.js';
import {
  aiSdkClient,
  breakerBench,
  type Client,
  fetchClient,
  floorClient,
  manaClient,
  openaiClient,
  SKIP_DEPTH,
  type StreamStat,
  type Targets,
} from './clients.js';
import { DIRECT, type GatewayResult, gatewayBench, MANA, PORTKEY } from './gateway.js';
import {
  concurrent,
  ignore,
  inRounds,
  median,
  now,
  PACED_CONCURRENCY,
  type PacedRound,
  pacedRound,
  quantile,
  sequential,
} from './measure.js';
import { renderTail, type TailResult, tailBench } from './tail.js';
import { startUpstream, type UpstreamMode } from './upstream.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const upstreamMode = (arg('upstream') ?? 'child') as UpstreamMode;
/** `--clients=floor,mana` and `--rows=chat,stream` narrow a run while working on one thing. */
const onlyClients = arg('clients')?.split(',');
const onlyRows = arg('rows')?.split(',');
/**
 * `--before=<commit>[,<commit>…]`: one more column per commit, mana-llm built from src/ as it was at that commit
 * (before/after). Each is its own module graph, unlike `mana` and `alias`, which share one: an A/B of two builds
 * is `--clients=before --before=A,B`, and `--before=HEAD,HEAD` shows how far two copies of the same code differ.
 */
const befores =
  arg('before')
    ?.split(',')
    .filter((c) => c !== '') ?? [];
const want = (row: string) => !onlyRows || onlyRows.includes(row);

/** Work per round and number of rounds, by mode. */
const P = quick
  ? {
      rounds: 5,
      warm: { chat: 300, stream: 15, embed: 3, fallback: 40, c64: 400 },
      seq: 200,
      c64: { rounds: 3, total: 800 },
      stream: 8,
      // An Ollama stream is ~0.5 ms: 8 per round left the quick row's median at the mercy of one slow stream.
      ollamaStream: 32,
      paced: { rounds: 5, streams: 16 },
      embed: 4,
      fallback: 40,
      skip: 4000,
      memory: [2_000, 20_000],
    }
  : {
      rounds: 16,
      warm: { chat: 1500, stream: 40, embed: 8, fallback: 200, c64: 2000 },
      seq: 600,
      c64: { rounds: 12, total: 4000 },
      stream: 40,
      ollamaStream: 40,
      // The paced row reads CPU time, which V8's background threads make noisy (±0.05 over 10 rounds): 24 rounds.
      paced: { rounds: 24, streams: 32 },
      embed: 12,
      fallback: 200,
      skip: 20_000,
      memory: [10_000, 100_000],
    };

const CONCURRENCY = 64;
const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);

function settle(): void {
  gc();
  gc();
}

/** One cell of the table: the value in its unit, and the median over rounds of value ÷ the floor's value. */
interface Cell {
  value: number;
  ratio: number;
  [extra: string]: number;
}
interface Row {
  id: string;
  label: string;
  unit: string;
  /** `lower`: ratio < 1 beats the floor; `higher` (throughput): ratio > 1 does. */
  better: 'lower' | 'higher';
  cells: Record<string, Cell>;
}

const FLOOR = 'undici (floor)';
const ITERATED = 'undici (floor), chunks through an async generator';

/** The floor client whose stream is `stream`: a reference measured beside the clients, in the same rounds. */
function iteratedFloor(floor: Client, stream: () => Promise<StreamStat>): Client {
  return { ...floor, id: 'floor-iterated', name: ITERATED, stream, ollamaStream: stream };
}

interface Snapshot {
  rssMB: number;
  heapMB: number;
  /** `process.getActiveResourcesInfo()` counted by kind. */
  handles: Record<string, number>;
}
interface Memory {
  calls: [number, number];
  before: Snapshot;
  first: Snapshot;
  second: Snapshot;
  heapGrowthPct: number;
  handlesUnchanged: boolean;
}

async function snapshot(): Promise<Snapshot> {
  // Let the last calls' immediates and socket callbacks run before counting.
  await new Promise((r) => setTimeout(r, 100));
  settle();
  const m = process.memoryUsage();
  const handles: Record<string, number> = {};
  for (const h of process.getActiveResourcesInfo()) handles[h] = (handles[h] ?? 0) + 1;
  return { rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20, handles };
}

/** Per-round value → cells, with each ratio taken against the floor's value of the same round. */
function toCells(
  perRound: Map<string, number[]>,
  pooled?: Map<string, number>,
  floorName = FLOOR,
): Record<string, Cell> {
  const floor = perRound.get(floorName);
  const cells: Record<string, Cell> = {};
  for (const [name, vals] of perRound) {
    const ratios = floor ? vals.map((v, i) => v / (floor[i] as number)) : [];
    cells[name] = { value: pooled?.get(name) ?? median(vals), ratio: floor ? median(ratios) : Number.NaN };
  }
  return cells;
}

function roundMedians(m: Map<string, number[][]>): Map<string, number[]> {
  return new Map([...m].map(([k, rounds]) => [k, rounds.map(median)]));
}
function pooled(m: Map<string, number[][]>, f: (xs: number[]) => number): Map<string, number> {
  return new Map([...m].map(([k, rounds]) => [k, f(rounds.flat())]));
}

/** mana-llm as it was at `commit`: its src/ from git in bench/.builds/, imported as its own module graph. */
async function buildAt(commit: string, copy: number, targets: Targets): Promise<Client> {
  const create = await createFrom(extractAt(commit, copy));
  const name = `mana-llm @${commit}${copy === 0 ? '' : ` (${copy + 1})`}`;
  return manaClient(targets, false, { create, id: 'before', name });
}

async function main(): Promise<void> {
  const started = Date.now();
  // Other work on the machine shows up as noise: the 1-minute load average is recorded before and after.
  const loadBefore = loadavg()[0] ?? 0;
  const upstream = await startUpstream(upstreamMode);
  // A port where nothing listens: bind one, then close it.
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const deadPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const targets = { url: upstream.url, deadUrl: `http://127.0.0.1:${deadPort}` };

  const mana = manaClient(targets, false);
  const all: Client[] = [
    floorClient(targets),
    fetchClient(targets),
    await openaiClient(targets),
    await aiSdkClient(targets),
    mana,
    manaClient(targets, true),
  ];
  for (const [i, commit] of befores.entries())
    all.push(await buildAt(commit, befores.indexOf(commit) === i ? 0 : i, targets));
  const clients = all.filter((c) => c.id === 'floor' || !onlyClients || onlyClients.includes(c.id));
  for (const c of all) if (!clients.includes(c) && c !== mana) await c.close();
  const names = clients.map((c) => c.name);
  log(`mana-llm bench: ${quick ? 'quick' : 'full'} mode, upstream in a ${upstreamMode}, ${upstream.url}`);

  log('warm-up');
  for (const c of clients) {
    if (want('chat') || want('c64') || want('memory')) for (let i = 0; i < P.warm.chat; i++) await c.chat();
    if (want('stream')) for (let i = 0; i < P.warm.stream; i++) await c.stream();
    if (want('obfuscated')) for (let i = 0; i < P.warm.stream; i++) await c.stream('obfuscated');
    if (want('paced'))
      await concurrent(() => c.stream('paced').then(ignore), PACED_CONCURRENCY, PACED_CONCURRENCY);
    if (want('embed')) for (let i = 0; i < P.warm.embed; i++) await c.embed();
    if (want('ollama') && c.ollamaChat && c.ollamaStream) {
      for (let i = 0; i < P.warm.chat / 3; i++) await c.ollamaChat();
      for (let i = 0; i < P.warm.stream; i++) await c.ollamaStream();
    }
    if (want('fallback') && c.fallback) for (let i = 0; i < P.warm.fallback; i++) await c.fallback();
    if (want('c64')) await concurrent(() => c.chat(), CONCURRENCY, P.warm.c64);
  }

  const rows: Row[] = [];
  /** The floor handing each chunk over through an async generator, per stream row (what any `for await` API costs at least). */
  const references: { row: string; cell: Cell }[] = [];
  /** Moves the reference's cell out of a row's cells into `references`. */
  const takeReference = (cells: Record<string, Cell>, row: string): void => {
    const cell = cells[ITERATED];
    if (cell) references.push({ row, cell });
    delete cells[ITERATED];
  };

  if (want('chat')) {
    log(`non-stream latency: ${P.rounds} rounds × ${P.seq} sequential calls per client`);
    const seq = await inRounds(clients, P.rounds, (c) => sequential(() => c.chat(), P.seq));
    rows.push({
      id: 'chat-median',
      label: `chat, sequential: median µs (${P.rounds * P.seq} calls)`,
      unit: 'µs',
      better: 'lower',
      cells: toCells(roundMedians(seq), pooled(seq, median)),
    });
    rows.push({
      id: 'chat-p99',
      label: 'chat, sequential: p99 µs',
      unit: 'µs',
      better: 'lower',
      cells: toCells(
        new Map([...seq].map(([k, r]) => [k, r.map((xs) => quantile(xs, 0.99))])),
        pooled(seq, (xs) => quantile(xs, 0.99)),
      ),
    });
  }

  if (want('c64')) {
    log(`throughput: ${P.c64.rounds} rounds × ${P.c64.total} calls at concurrency ${CONCURRENCY}`);
    const c64 = await inRounds(clients, P.c64.rounds, async (c) => {
      const ms = await concurrent(() => c.chat(), CONCURRENCY, P.c64.total);
      return (P.c64.total / ms) * 1000;
    });
    rows.push({
      id: 'c64',
      label: `chat at concurrency ${CONCURRENCY}: req/s`,
      unit: 'req/s',
      better: 'higher',
      cells: toCells(c64),
    });
  }

  const streamRounds = async (
    run: (c: Client) => Promise<StreamStat>,
    who: readonly Client[],
    perRound = P.stream,
  ) => {
    const s = await inRounds(who, P.rounds, async (c) => {
      const total: number[] = [];
      const ttfc: number[] = [];
      for (let i = 0; i < perRound; i++) {
        const t = now();
        const r = await run(c);
        total.push((now() - t) * 1000);
        ttfc.push(r.ttfcUs);
      }
      return { total: median(total), ttfc: median(ttfc) };
    });
    const total = new Map([...s].map(([k, v]) => [k, v.map((x) => x.total)]));
    const ttfc = new Map([...s].map(([k, v]) => [k, v.map((x) => x.ttfc)]));
    return { total, ttfc };
  };

  if (want('stream')) {
    log(`stream: ${P.rounds} rounds × ${P.stream} streams of 256 chunks`);
    // A reference measured in the same rounds: the floor handing each chunk over through an async generator,
    // the least that any `for await` API (mana-llm's, the SDKs') costs on top of the floor's plain loop.
    const floor = clients.find((c) => c.id === 'floor') as Client;
    const iterated = iteratedFloor(floor, () => floor.streamIterated?.() ?? floor.stream());
    const st = await streamRounds((c) => c.stream(), [...clients, iterated]);
    const streamCells = toCells(st.total);
    for (const cell of Object.values(streamCells)) cell.chunksPerSec = 256 / (cell.value / 1e6);
    takeReference(streamCells, 'the 256-chunk stream');
    rows.push({
      id: 'stream',
      label: '256-chunk stream: total µs',
      unit: 'µs',
      better: 'lower',
      cells: streamCells,
    });
    const ttfcCells = toCells(st.ttfc);
    delete ttfcCells[ITERATED];
    rows.push({
      id: 'stream-ttfc',
      label: '256-chunk stream: time to first chunk µs',
      unit: 'µs',
      better: 'lower',
      cells: ttfcCells,
    });
  }

  if (want('obfuscated')) {
    log(`realistic frames in one burst: ${P.rounds} rounds × ${P.stream} streams`);
    const ob = await streamRounds((c) => c.stream('obfuscated'), clients);
    rows.push({
      id: 'obfuscated',
      label: '256 realistic frames in one burst: total µs',
      unit: 'µs',
      better: 'lower',
      cells: toCells(ob.total),
    });
  }

  if (want('paced')) {
    const { rounds, streams } = P.paced;
    log(`realistic paced stream: ${rounds} rounds × ${streams} streams, ${PACED_CONCURRENCY} at a time`);
    // A paced stream's total time is the upstream's pacing: what a client costs is the CPU it spends meanwhile.
    const pr = await inRounds(clients, rounds, (c) => pacedRound(c, streams));
    const pick = (k: keyof PacedRound) => new Map([...pr].map(([n, v]) => [n, v.map((x) => x[k])]));
    rows.push(
      {
        id: 'paced-cpu',
        label: 'realistic stream (paced): client CPU µs per stream',
        unit: 'µs',
        better: 'lower',
        cells: toCells(pick('cpuUs')),
      },
      {
        id: 'paced-busy',
        label: 'realistic stream (paced): event-loop busy µs per stream',
        unit: 'µs',
        better: 'lower',
        cells: toCells(pick('busyUs')),
      },
      {
        id: 'paced-wall',
        label: 'realistic stream (paced): wall ms per stream (the pacing)',
        unit: 'ms',
        better: 'lower',
        cells: toCells(pick('wallMs')),
      },
    );
  }

  if (want('embed')) {
    log(`embeddings: ${P.rounds} rounds × ${P.embed} batches of 64 × 1024`);
    const emb = await inRounds(clients, P.rounds, (c) => sequential(() => c.embed(), P.embed));
    rows.push({
      id: 'embed',
      label: 'embeddings 64 × 1024: µs per batch',
      unit: 'µs',
      better: 'lower',
      cells: toCells(roundMedians(emb), pooled(emb, median)),
    });
  }

  const local = clients.filter((c) => c.ollamaChat && c.ollamaStream);
  if (want('ollama') && local.length > 1) {
    log(`ollama: ${P.rounds} rounds × ${P.seq} calls, ${P.ollamaStream} streams`);
    const oseq = await inRounds(local, P.rounds, (c) =>
      sequential(() => c.ollamaChat?.() ?? Promise.resolve(), P.seq),
    );
    rows.push({
      id: 'ollama-chat',
      label: 'ollama chat, sequential: median µs',
      unit: 'µs',
      better: 'lower',
      cells: toCells(roundMedians(oseq), pooled(oseq, median)),
    });
    const floor = local.find((c) => c.id === 'floor');
    const iterate = floor?.ollamaStreamIterated;
    const iterated = floor && iterate ? [iteratedFloor(floor, iterate)] : [];
    const ost = await streamRounds(
      (c) => c.ollamaStream?.() ?? Promise.resolve({ ttfcUs: 0, chunks: 0 }),
      [...local, ...iterated],
      P.ollamaStream,
    );
    const ostCells = toCells(ost.total);
    takeReference(ostCells, 'the Ollama NDJSON stream');
    rows.push({
      id: 'ollama-stream',
      label: 'ollama 256-line NDJSON stream: total µs',
      unit: 'µs',
      better: 'lower',
      cells: ostCells,
    });
  }

  const withFallback = clients.filter((c) => c.fallback);
  if (want('fallback') && withFallback.length > 1) {
    log(`fallback past a refused connection: ${P.rounds} rounds × ${P.fallback} calls`);
    const fb = await inRounds(withFallback, P.rounds, (c) =>
      sequential(() => c.fallback?.() ?? Promise.resolve(), P.fallback),
    );
    const fbCells = toCells(roundMedians(fb), pooled(fb, median));
    const chatRow = rows.find((r) => r.id === 'chat-median');
    for (const [name, cell] of Object.entries(fbCells)) {
      cell.extraUs = cell.value - (chatRow?.cells[name]?.value ?? Number.NaN);
    }
    rows.push({
      id: 'fallback',
      label: 'fallback past a refused connection: end-to-end µs',
      unit: 'µs',
      better: 'lower',
      cells: fbCells,
    });
  }

  let skip: { routerCallUs: number; skipOneUs: number; perEntryUs: number } | undefined;
  if (want('skip')) {
    log(`open-breaker skip: ${P.rounds} rounds × ${P.skip} calls at chain depths 0, 1, ${SKIP_DEPTH}`);
    const bb = breakerBench(targets);
    await bb.openBreakers();
    const depths = [0, 1, SKIP_DEPTH];
    for (const d of depths) for (let i = 0; i < P.skip; i++) await bb.call(d);
    const perDepth = new Map<number, number[]>(depths.map((d) => [d, []]));
    for (let r = 0; r < P.rounds; r++) {
      for (let j = 0; j < depths.length; j++) {
        const d = depths[(j + r) % depths.length] as number;
        const t = now();
        for (let i = 0; i < P.skip; i++) await bb.call(d);
        perDepth.get(d)?.push(((now() - t) * 1000) / P.skip);
      }
    }
    const base = perDepth.get(0) as number[];
    skip = {
      routerCallUs: median(base),
      skipOneUs: median((perDepth.get(1) as number[]).map((v, i) => v - (base[i] as number))),
      perEntryUs: median(
        (perDepth.get(SKIP_DEPTH) as number[]).map((v, i) => (v - (base[i] as number)) / SKIP_DEPTH),
      ),
    };
    await bb.llm.close();
  }

  let gateway: { chat: Record<string, Cell>; stream: Record<string, Cell> } | undefined;
  if (want('gateway')) {
    const g: GatewayResult = await gatewayBench(
      upstream.url,
      { rounds: P.rounds, calls: P.seq / 2, streams: P.stream, warm: P.warm.chat / 3 },
      log,
    );
    gateway = { chat: toCells(g.chat, undefined, DIRECT), stream: toCells(g.stream, undefined, DIRECT) };
  }

  let tail: TailResult | undefined;
  if (want('hung') || want('slow1in20'))
    tail = await tailBench(upstream.url, { quick, hung: want('hung'), slow: want('slow1in20') }, log);

  let memory: Memory | undefined;
  if (want('memory')) {
    const [m1, m2] = P.memory as [number, number];
    log(`memory: ${m2} mana-llm calls at concurrency ${CONCURRENCY}`);
    const before = await snapshot();
    await concurrent(() => mana.chat(), CONCURRENCY, m1);
    const first = await snapshot();
    await concurrent(() => mana.chat(), CONCURRENCY, m2 - m1);
    const second = await snapshot();
    memory = {
      calls: [m1, m2],
      before,
      first,
      second,
      heapGrowthPct: ((second.heapMB - first.heapMB) / first.heapMB) * 100,
      handlesUnchanged: JSON.stringify(first.handles) === JSON.stringify(second.handles),
    };
  }

  await mana.close();
  for (const c of clients) await c.close();
  await upstream.close();

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
  const results = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    upstream: upstreamMode,
    machine,
    durationS: Math.round((Date.now() - started) / 1000),
    load: [loadBefore, loadavg()[0] ?? 0],
    rows,
    references,
    breakerSkip: skip,
    gateway,
    tail,
    memory,
  };
  // A narrowed run (--clients, --rows) is for working on something: it leaves results.json alone.
  if (!onlyClients && !onlyRows) {
    writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  }
  process.stdout.write(render(results, names));
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
}

/** The markdown table printed at the end and pasted into bench/README.md. */
function render(
  r: {
    date: string;
    mode: string;
    upstream: string;
    machine: Record<string, unknown>;
    durationS: number;
    load: number[];
    rows: Row[];
    references: { row: string; cell: Cell }[];
    breakerSkip: { routerCallUs: number; skipOneUs: number; perEntryUs: number } | undefined;
    gateway?: { chat: Record<string, Cell>; stream: Record<string, Cell> } | undefined;
    tail?: TailResult | undefined;
    memory: Memory | undefined;
  },
  names: string[],
): string {
  const m = r.machine;
  const lines = [
    '',
    `${r.date.slice(0, 10)} · ${r.mode} mode · upstream in a ${r.upstream} · ${m.cpu} × ${m.cores} · ${m.memGB} GB · Node ${m.node} · ${m.os} · ${r.durationS} s · load ${r.load.map((l) => l.toFixed(1)).join(' → ')}`,
    '',
    `| row | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
  ];
  const extra = (label: string, row: Row | undefined, key: string) => {
    if (row)
      lines.push(`| ${label} | ${names.map((n) => fmt(row.cells[n]?.[key] ?? Number.NaN)).join(' | ')} |`);
  };
  for (const row of r.rows) {
    const cells = names.map((n) => {
      const c = row.cells[n];
      if (!c) return '—';
      return n === FLOOR ? fmt(c.value) : `${fmt(c.value)} (${c.ratio.toFixed(2)}×)`;
    });
    lines.push(`| ${row.label}${row.better === 'higher' ? ' ↑' : ''} | ${cells.join(' | ')} |`);
    if (row.id === 'stream') extra('256-chunk stream: chunks/s ↑', row, 'chunksPerSec');
    if (row.id === 'fallback') extra("fallback: extra µs over the client's own chat median", row, 'extraUs');
  }
  lines.push(
    '',
    'Cells: value (median over rounds of the ratio to the floor in the same round). ↑ = higher is better.',
  );
  for (const { row, cell } of r.references) {
    lines.push(
      '',
      `Reference for ${row}: the floor handing each of its 256 chunks to its caller through an async generator (what any \`for await\` API costs at least): ${fmt(cell.value)} µs (${cell.ratio.toFixed(2)}× the floor).`,
    );
  }
  const s = r.breakerSkip;
  if (s) {
    lines.push(
      '',
      `Open-breaker skip: ${s.perEntryUs.toFixed(2)} µs per skipped entry (chain of ${SKIP_DEPTH} open entries), ${s.skipOneUs.toFixed(2)} µs for one; a whole chat through the router with an instant adapter: ${s.routerCallUs.toFixed(2)} µs.`,
    );
  }
  const g = r.gateway;
  if (g) {
    const cols = [DIRECT, MANA, PORTKEY];
    const cell = (c: Cell | undefined, direct: boolean) =>
      !c ? '—' : direct ? fmt(c.value) : `${fmt(c.value)} (${c.ratio.toFixed(2)}×)`;
    lines.push(
      '',
      'Gateway hop (the same undici client; ratio to the direct call of the same round):',
      '',
      `| row | ${cols.join(' | ')} |`,
      `|---|${cols.map(() => '---:').join('|')}|`,
      `| chat, sequential: median µs | ${cols.map((n) => cell(g.chat[n], n === DIRECT)).join(' | ')} |`,
      `| 256-chunk stream: total µs | ${cols.map((n) => cell(g.stream[n], n === DIRECT)).join(' | ')} |`,
    );
  }
  if (r.tail) lines.push(...renderTail(r.tail));
  const mem = r.memory;
  if (mem) {
    const [a, b] = mem.calls;
    const pct = `${mem.heapGrowthPct >= 0 ? '+' : ''}${mem.heapGrowthPct.toFixed(1)} %`;
    lines.push(
      '',
      `Memory (mana-llm, concurrency ${CONCURRENCY}): after ${a} calls RSS ${mem.first.rssMB.toFixed(1)} MB, heap ${mem.first.heapMB.toFixed(2)} MB; after ${b} calls RSS ${mem.second.rssMB.toFixed(1)} MB, heap ${mem.second.heapMB.toFixed(2)} MB (${pct}); active handles ${mem.handlesUnchanged ? 'unchanged' : 'CHANGED'}: ${JSON.stringify(mem.second.handles)}.`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

await main();
