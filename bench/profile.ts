/**
 * Drives one mana-llm call kind in a loop against the bench upstream, for profiling:
 *   node --cpu-prof --cpu-prof-dir=bench/profiles --import tsx bench/profile.ts [chat|stream|c64|embed|ollama-stream] [seconds]
 * Open the .cpuprofile in Chrome DevTools (Performance → Load profile) or speedscope.
 */
import { manaClient } from './clients.js';
import { startUpstream } from './upstream.js';

const kind = process.argv[2] ?? 'chat';
const seconds = Number(process.argv[3] ?? 10);

const upstream = await startUpstream('child');
const client = manaClient({ url: upstream.url, deadUrl: 'http://127.0.0.1:9' }, false);
const call: () => Promise<unknown> =
  kind === 'stream'
    ? () => client.stream()
    : kind === 'embed'
      ? () => client.embed()
      : kind === 'ollama-stream'
        ? () => client.ollamaStream?.() ?? Promise.resolve()
        : () => client.chat();
const until = performance.now() + seconds * 1000;
let n = 0;
if (kind === 'c64') {
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await call();
        n++;
      }
    }),
  );
} else {
  while (performance.now() < until) {
    await call();
    n++;
  }
}
console.log(`${kind}: ${n} calls in ${seconds}s, ${((seconds * 1e6) / n).toFixed(1)} µs per call`);
await client.close();
await upstream.close();
