import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
import { createOpenAIAdapter } from '../src/providers/openai.js';
import { createHttp } from '../src/wire/http.js';
import { systemClock } from '../src/clock.js';
import { CancelToken } from '../src/wire/cancel.js';
const up = await startUpstream('child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
const http = createHttp({ connectMs: 10000 });
const adapter = createOpenAIAdapter({ config: { id: 'groq', baseUrl: up.url + '/v1', apiKey: 'k', headers: {} }, http, clock: systemClock });
const MESSAGES = [{ role: 'system' as const, content: 'You are terse.' }, { role: 'user' as const, content: 'Say something short.' }];
const adapterStream = async () => {
  const s = performance.now(); let ttfc = 0; let n = 0;
  for await (const c of adapter.stream({ model: 'm', messages: MESSAGES }, new CancelToken().context())) { if (c.choices[0]?.delta.content) { if (!n) ttfc = (performance.now() - s) * 1000; n++; } }
  return { ttfcUs: ttfc, chunks: n };
};
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cs: [string, () => Promise<{ ttfcUs: number }>][] = [['floor', () => floor.stream()], ['adapter', adapterStream], ['mana', () => mana.stream()]];
for (let i = 0; i < 200; i++) for (const [, f] of cs) await f();
for (let r = 0; r < 3; r++) for (const [n, f] of cs) {
  const ttfc: number[] = []; const tot: number[] = [];
  for (let i = 0; i < 100; i++) { const s = performance.now(); const x = await f(); tot.push((performance.now() - s) * 1000); ttfc.push(x.ttfcUs); }
  console.log(n.padEnd(8), 'ttfc', med(ttfc).toFixed(0), 'total', med(tot).toFixed(0));
}
await mana.close(); await floor.close(); await http.close(); await up.close();
