import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startUpstream } from './upstream.js';
import { manaClient } from './clients.js';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const up = await startUpstream('child');
const mana = manaClient({ url: up.url, deadUrl: 'http://127.0.0.1:9' }, false);
for (let i = 0; i < 300; i++) await mana.stream();
const useGc = process.argv[2] === 'gc';
const until = performance.now() + 6000; let n = 0; let tot = 0;
while (performance.now() < until) { if (useGc) { gc(); gc(); } for (let i = 0; i < 8; i++) { const s = performance.now(); await mana.stream(); tot += performance.now() - s; n++; } }
console.log(useGc, n, (tot / n * 1000).toFixed(0), 'µs per stream');
await mana.close(); await up.close();
