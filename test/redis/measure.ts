// Measures what README "Running many processes" reports: `npx tsx test/redis/measure.ts`.
// Needs redis-server on PATH; everything runs on 127.0.0.1 and stops by itself.
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';
import { startRedis } from './redis-server.js';
import { killWorkers, spawnWorker, type Worker } from './workers.js';

const redis = await startRedis();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const connected = (w: Worker) => w.waitFor((l) => l.event === 'store' && l.payload.connected, 'connected');

async function discovery(trials: number): Promise<number[]> {
  const ok = await startMockUpstream('openai');
  const dead: MockUpstream[] = [];
  for (let i = 0; i < trials; i++) dead.push(await startMockUpstream('openai', { status: 500 }));
  const providers: Record<string, string> = { ok: ok.url };
  const aliases: Record<string, { chain: string[] }> = {};
  dead.forEach((u, i) => {
    providers[`p${i}`] = u.url;
    aliases[`mana/p${i}`] = { chain: [`p${i}/m`, 'ok/m'] };
  });
  const ws = Array.from({ length: 4 }, (_, i) =>
    spawnWorker(`w${i}`, {
      redisUrl: redis.url,
      keyPrefix: 'measure-discovery:',
      providers,
      aliases,
      health: { probes: false, cooldownMs: 600_000 },
    }),
  );
  await Promise.all(ws.map(connected));
  const lags: number[] = [];
  for (let i = 0; i < trials; i++) {
    const [first, ...others] = ws;
    await first!.send('chat', { model: `mana/p${i}` });
    // From sending the call whose failure opens the breaker (an upper bound: includes that call and stdio).
    const sentAt = Date.now();
    await first!.send('chat', { model: `mana/p${i}` });
    const opened = await first!.waitFor(
      (l) => l.event === 'health' && l.payload.provider === `p${i}` && !l.payload.healthy,
      'open',
    );
    const seen = await Promise.all(
      others.map((w) =>
        w.waitFor(
          (l) => l.event === 'health' && l.payload.provider === `p${i}` && !l.payload.healthy,
          'seen',
        ),
      ),
    );
    lags.push(Math.max(opened.at, ...seen.map((s) => s.at)) - sentAt);
    const calls = dead[i]!.count('chat');
    for (const w of others) await w.send('chat', { model: `mana/p${i}` });
    if (dead[i]!.count('chat') !== calls) throw new Error('another process called the dead upstream');
  }
  await Promise.all(ws.map((w) => w.close()));
  await Promise.all([ok, ...dead].map((u) => u.close()));
  return lags;
}

async function probeLoad(processes: number, shared: boolean, intervalMs: number, windowMs: number) {
  const a = await startMockUpstream('openai');
  const ws = Array.from({ length: processes }, (_, i) =>
    spawnWorker(`w${i}`, {
      redisUrl: shared ? redis.url : '',
      keyPrefix: `measure-probes-${processes}-${shared}:`,
      providers: { a: a.url },
      aliases: { 'mana/x': { chain: ['a/m'] } },
      health: { probes: true, probeIntervalMs: intervalMs },
    }),
  );
  await Promise.all(
    ws.map((w) => (shared ? connected(w) : w.waitFor((l) => l.event === 'started', 'start'))),
  );
  await sleep(intervalMs);
  const before = a.count('models');
  await sleep(windowMs);
  const n = a.count('models') - before;
  await Promise.all(ws.map((w) => w.close()));
  await a.close();
  return (n * 60_000) / windowMs;
}

try {
  const lags = await discovery(10).catch(async (e) => {
    await killWorkers();
    throw e;
  });
  lags.sort((x, y) => x - y);
  console.log(
    `failing call → breaker open in all 4 processes: median ${lags[5]} ms, max ${lags.at(-1)} ms (${lags.join(', ')})`,
  );
  const intervalMs = 1_000;
  const windowMs = 30_000;
  for (const [n, shared] of [
    [1, true],
    [4, true],
    [4, false],
  ] as const) {
    const perMin = await probeLoad(n, shared, intervalMs, windowMs);
    console.log(
      `${n} process(es), ${shared ? 'shared Redis store' : 'memory stores'}, probeIntervalMs ${intervalMs}: ` +
        `${perMin.toFixed(0)} probe requests/min to one provider`,
    );
  }
} finally {
  await killWorkers();
  await redis.stop();
}
