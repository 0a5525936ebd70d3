/**
 * Drives one mana-llm call kind in a loop against the bench upstream, for profiling:
 *   node --cpu-prof --cpu-prof-dir=bench/profiles --import tsx bench/profile.ts [chat|stream|obfuscated|paced|c64|embed|ollama-stream] [seconds]
 * For clean function names and lines, bundle it and keep the upstream in its own process:
 *   npx tsx bench/upstream.ts --serve            # prints the URL
 *   npx esbuild bench/profile.ts --bundle --platform=node --format=esm --outfile=/tmp/profile.mjs \
 *     "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
 *   node --cpu-prof /tmp/profile.mjs stream 10 --url=http://127.0.0.1:PORT [--floor]
 * Open the .cpuprofile in Chrome DevTools (Performance → Load profile) or speedscope.
 */
import { type Client, floorClient, manaClient } from './clients.js';
import { PACED_CONCURRENCY } from './measure.js';
import { startUpstream, type Upstream } from './upstream.js';

const [kind = 'chat', secs = '10'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const seconds = Number(secs);
const given = process.argv.find((a) => a.startsWith('--url='))?.slice(6);

const upstream: Upstream = given
  ? { url: given, close: async () => undefined }
  : await startUpstream('child');
const targets = { url: upstream.url, deadUrl: 'http://127.0.0.1:9' };
// `--floor` drives the raw-undici floor instead, to compare profiles.
const client: Client = process.argv.includes('--floor') ? floorClient(targets) : manaClient(targets, false);
const calls: Record<string, () => Promise<unknown>> = {
  chat: () => client.chat(),
  c64: () => client.chat(),
  stream: () => client.stream(),
  obfuscated: () => client.stream('obfuscated'),
  // The realistic paced stream, PACED_CONCURRENCY at a time as in the bench row.
  paced: () => client.stream('paced'),
  embed: () => client.embed(),
  'ollama-stream': () => client.ollamaStream?.() ?? Promise.resolve(),
};
const call = calls[kind];
if (!call) throw new Error(`unknown kind ${kind}: ${Object.keys(calls).join(', ')}`);
const until = performance.now() + seconds * 1000;
let n = 0;
const loop = async () => {
  while (performance.now() < until) {
    await call();
    n++;
  }
};
const parallel = kind === 'c64' ? 64 : kind === 'paced' ? PACED_CONCURRENCY : 1;
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: parallel }, loop));
const cpu = process.cpuUsage(cpu0);
console.log(`client CPU per call: ${((cpu.user + cpu.system) / n).toFixed(1)} µs`);
console.log(`${kind}: ${n} calls in ${seconds}s, ${((seconds * 1e6) / n).toFixed(1)} µs per call`);
await client.close();
await upstream.close();
