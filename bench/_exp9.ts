import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
const up = await startUpstream('child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
async function conc(fn: () => Promise<void>, c: number, total: number) { let i = 0; await Promise.all(Array.from({ length: c }, async () => { while (i < total) { i++; await fn(); } })); }
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cs = [['floor', () => floor.chat()], ['mana', () => mana.chat()]] as const;
for (const [, f] of cs) await conc(f, 64, 5000);
const res: Record<string, { rps: number[]; cpu: number[] }> = {};
for (let r = 0; r < 8; r++) for (const [n, f] of cs) {
  const c0 = process.cpuUsage(); const t0 = performance.now(); const N = 4000;
  await conc(f, 64, N);
  const ms = performance.now() - t0; const c = process.cpuUsage(c0);
  (res[n] ??= { rps: [], cpu: [] }).rps.push(N / ms * 1000); res[n]!.cpu.push((c.user + c.system) / N);
}
for (const [n, v] of Object.entries(res)) console.log(n, 'req/s', med(v.rps).toFixed(0), 'cpu µs/req', med(v.cpu).toFixed(1));
await mana.close(); await floor.close(); await up.close();
