import { floorClient, manaClient } from './clients.js';
import { createUpstreamServer, listenUpstream } from './upstream.js';

const server = createUpstreamServer();
let conns = 0;
server.on('connection', () => conns++);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as any).port}`;
const mana = manaClient({ url, deadUrl: 'http://127.0.0.1:9' }, false);
const floor = floorClient({ url, deadUrl: 'http://127.0.0.1:9' });
for (const [n, c] of [
  ['floor', floor],
  ['mana', mana],
] as const) {
  conns = 0;
  for (let i = 0; i < 50; i++) await c.stream();
  console.log(n, 'stream conns', conns);
  conns = 0;
  for (let i = 0; i < 50; i++) await c.ollamaStream!();
  console.log(n, 'ollama conns', conns);
  conns = 0;
  for (let i = 0; i < 50; i++) await c.chat();
  console.log(n, 'chat conns', conns);
}
await mana.close();
await floor.close();
server.closeAllConnections();
server.close();
