import { Agent } from 'undici';
import { floorClient, manaClient } from './clients.js';
import { startUpstream } from './upstream.js';

const up = await startUpstream('child');
const agent = new Agent({ keepAliveTimeout: 60_000 });
const origin = up.url;
const headers = { 'content-type': 'application/json', authorization: 'Bearer x' };
const MESSAGES = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say something short.' },
];
const variants: Record<string, () => Promise<unknown>> = {
  floor: async () => {
    const r = await agent.request({
      origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm', messages: MESSAGES }),
    });
    return r.body.json();
  },
  floorText: async () => {
    const r = await agent.request({
      origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm', messages: MESSAGES }),
    });
    return JSON.parse(await r.body.text());
  },
  floorSignal: async () => {
    const ac = new AbortController();
    const r = await agent.request({
      origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm', messages: MESSAGES }),
      signal: ac.signal,
    });
    return r.body.json();
  },
  floorSignalTimer: async () => {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 120000);
    t.unref();
    const r = await agent.request({
      origin,
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm', messages: MESSAGES }),
      signal: ac.signal,
    });
    const j = await r.body.json();
    clearTimeout(t);
    return j;
  },
};
const mana = manaClient({ url: up.url, deadUrl: 'http://127.0.0.1:9' }, false);
variants.mana = () => mana.chat();
const N = 3000;
for (const f of Object.values(variants)) for (let i = 0; i < 2000; i++) await f();
const res: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
for (let r = 0; r < 6; r++)
  for (const [k, f] of Object.entries(variants)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await f();
    const dt = ((performance.now() - t0) * 1000) / N;
    const c = process.cpuUsage(c0);
    (res[k] ??= []).push(dt);
    (cpu[k] ??= []).push((c.user + c.system) / N);
  }
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const k of Object.keys(variants))
  console.log(k.padEnd(18), 'wall', med(res[k]).toFixed(1), 'cpu', med(cpu[k]).toFixed(1));
await mana.close();
await agent.close();
await up.close();
