import { breakerBench } from './clients.js';
const bb = breakerBench({ url: 'http://127.0.0.1:9', deadUrl: 'http://127.0.0.1:9' });
const depth = Number(process.argv[2] ?? 0);
if (depth) await bb.openBreakers();
for (let i = 0; i < 50000; i++) await bb.call(depth);
const until = performance.now() + 5000; let n = 0;
const t = performance.now();
while (performance.now() < until) { for (let i = 0; i < 1000; i++) await bb.call(depth); n += 1000; }
console.log('depth', depth, ((performance.now() - t) * 1000 / n).toFixed(2), 'µs per call');
await bb.llm.close();
