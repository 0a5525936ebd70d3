import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const up = await startUpstream('child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
for (let i = 0; i < 300; i++) { await mana.stream(); await floor.stream(); }
for (const [n, c] of [['floor', floor], ['mana', mana], ['floor', floor], ['mana', mana]] as const) {
  gc(); gc();
  const tot: string[] = [];
  for (let i = 0; i < 16; i++) { const s = performance.now(); await c.stream(); tot.push(((performance.now() - s) * 1000).toFixed(0)); }
  console.log(n, tot.join(' '));
}
await mana.close(); await floor.close(); await up.close();
