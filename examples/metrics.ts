/**
 * A Prometheus `/metrics` endpoint: prom-client's Registry fed by `registerPrometheusMetrics` (requests, tokens,
 * latency, errors, alias resolutions, fallbacks, provider health, time to first chunk), next to Node's defaults.
 *
 *   npx tsx examples/metrics.ts               # then: curl localhost:9464/metrics
 *   npx tsx examples/metrics.ts --self-test   # makes a few calls, scrapes itself, then exits
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createManaLLM } from 'mana-llm';
import { registerPrometheusMetrics } from 'mana-llm/prometheus';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { aliasesPath, startStandIns } from './providers.js';
import { selfTest } from './self-test.js';

// No keys in the environment: local stand-ins answer instead (see providers.ts; your app has no such line).
const standIns = await startStandIns();
const llm = createManaLLM({
  aliasesPath,
  providers: {
    ollama: { baseUrl: standIns?.ollama ?? process.env.OLLAMA_URL ?? 'http://localhost:11434' },
    // A cloud provider whose key is not set is simply not configured: its chain entries are skipped.
    groq: standIns ? { baseUrl: standIns.groq, apiKey: 'stand-in' } : { apiKey: process.env.GROQ_API_KEY },
    openrouter: { apiKey: process.env.OPENROUTER_API_KEY },
    together: { apiKey: process.env.TOGETHER_API_KEY },
    google: { apiKey: process.env.GOOGLE_API_KEY },
  },
});

const registry = new Registry();
collectDefaultMetrics({ register: registry });
registerPrometheusMetrics(llm, { registry }); // metric names start with `mana_llm_`; change it with `prefix`

const server = createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  } else {
    res.writeHead(404).end();
  }
});

async function shutdown() {
  await new Promise((resolve) => server.close(resolve));
  await llm.close();
  await standIns?.close();
}

const selfTesting = process.argv.includes('--self-test');
server.listen(selfTesting ? 0 : Number(process.env.PORT ?? 9464), '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`metrics on ${url}/metrics`);
process.once('SIGINT', shutdown).once('SIGTERM', shutdown);

if (selfTesting) {
  try {
    // Some traffic to count: a chat, a stream and a call that fails (no provider `together` is configured).
    const messages = [{ role: 'user' as const, content: 'Hi!' }];
    const answer = await llm.chat({ model: 'mana/fast-text', messages });
    let streamed = '';
    for await (const chunk of llm.stream({ model: 'mana/fast-text', messages })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
    }
    console.log(`chat: ${answer.choices[0]?.message.content}\nstream: ${streamed}`);
    await llm
      .chat({ model: 'together/some-model', messages })
      .catch((err: Error) => console.log(`expected failure: ${err.name}\n`));
    const ours = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('mana_llm_') && !line.includes('_bucket{'))
        .join('\n');
    await selfTest(url, [{ path: '/metrics', show: ours }]);
  } finally {
    await shutdown();
  }
}
