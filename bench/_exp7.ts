import diagnostics_channel from 'node:diagnostics_channel';
import { startUpstream } from './upstream.js';
import { manaClient, floorClient } from './clients.js';
let conns = 0;
diagnostics_channel.subscribe('undici:client:connected', () => conns++);
const up = await startUpstream((process.argv[2] as any) ?? 'child');
const t = { url: up.url, deadUrl: 'http://127.0.0.1:9' };
const mana = manaClient(t, false); const floor = floorClient(t);
for (const [n, c] of [['floor', floor], ['mana', mana], ['floor', floor], ['mana', mana]] as const) {
  conns = 0; for (let i = 0; i < 200; i++) await c.stream(); console.log(n, 'stream conns', conns);
  conns = 0; for (let i = 0; i < 200; i++) await c.ollamaStream!(); console.log(n, 'ollama conns', conns);
}
await mana.close(); await floor.close(); await up.close();
