import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const up = await startUpstream('child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (let i = 0; i < 300; i++) { await mana.stream(); await floor.stream(); }
for (const useGc of [false, true, false, true]) for (const [n, c] of [['floor', floor], ['mana', mana]] as const) {
  const ttfc: number[] = []; const tot: number[] = [];
  for (let r = 0; r < 10; r++) { if (useGc) { gc(); gc(); }
  for (let i = 0; i < 8; i++) { const s = performance.now(); const x = await c.stream(); tot.push((performance.now() - s) * 1000); ttfc.push(x.ttfcUs); } }
  console.log(useGc ? 'gc  ' : 'nogc', n, 'ttfc', med(ttfc).toFixed(0), 'total', med(tot).toFixed(0));
}
await mana.close(); await floor.close(); await up.close();
