import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
const up = await startUpstream((process.argv[2] as any) ?? 'child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (let i = 0; i < 3000; i++) await mana.chat();
for (const [n, c] of [['floor', floor], ['mana', mana], ['floor', floor], ['mana', mana]] as const) {
  const ttfc: number[] = []; const tot: number[] = [];
  for (let i = 0; i < 200; i++) { const s = performance.now(); const r = await c.stream(); tot.push((performance.now() - s) * 1000); ttfc.push(r.ttfcUs); }
  console.log(n, 'ttfc', med(ttfc).toFixed(0), 'total', med(tot).toFixed(0));
}
await mana.close(); await floor.close(); await up.close();
