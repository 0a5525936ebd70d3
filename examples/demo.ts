/**
 * mana-llm demo: a local GPU box goes offline and the cloud answers in milliseconds instead of a 75-second hang.
 * Runs with no API keys and no network: it starts two local upstreams (Ollama-shaped and OpenAI-compatible) from
 * `mana-llm/testing` and points the aliases at them. If a real Ollama answers on localhost:11434 (or OLLAMA_URL),
 * it is used as the first entry instead.
 *
 *   npm run demo
 */
import { createManaLLM, isManaLLMError } from 'mana-llm';
import { type MockUpstream, startMockUpstream } from 'mana-llm/testing';

const tty = process.stdout.isTTY;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const dim = paint(2);
const bold = paint(1);
const green = paint(32);
const yellow = paint(33);
const red = paint(31);
const cyan = paint(36);

const step = (n: number, title: string) => console.log(`\n${bold(`${n}. ${title}`)}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function realOllama(): Promise<{ url: string; model: string } | undefined> {
  const url = process.env.OLLAMA_URL ?? 'http://127.0.0.1:11434';
  try {
    const res = await fetch(`${url}/api/tags`, { signal: AbortSignal.timeout(400) });
    const body = (await res.json()) as { models?: { name: string }[] };
    const model = body.models?.find((m) => !m.name.includes('embed'))?.name;
    return model ? { url, model } : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  console.log(
    bold('mana-llm demo') + dim(' — model-class aliases, fallback chains, in-process health cache'),
  );

  const real = await realOllama();
  let local: MockUpstream | undefined = real
    ? undefined
    : await startMockUpstream('ollama', { reply: 'Hi! I am the local GPU box (gemma3:12b).' });
  const cloud = await startMockUpstream('openai', {
    reply: 'Hi! I am the cloud (llama-3.3-70b on Groq).',
    chunks: 8,
  });
  const localUrl = real?.url ?? (local as MockUpstream).url;
  const localModel = real?.model ?? 'gemma3:12b';
  console.log(
    real
      ? green(`  Found a real Ollama at ${real.url}: using ${real.model} as the first entry.`)
      : dim(
          `  Local upstreams: ollama-shaped ${localUrl}, OpenAI-compatible ${cloud.url} (no real Ollama found)`,
        ),
  );

  const llm = createManaLLM({
    aliases: {
      aliases: {
        'mana/long-form': { chain: [`ollama/${localModel}`, 'groq/llama-3.3-70b-versatile'] },
        'mana/embed': { chain: ['ollama/nomic-embed-text', 'groq/nomic-embed-text-v1.5'], dimensions: 4 },
      },
      default: 'mana/long-form',
    },
    providers: {
      ollama: { baseUrl: localUrl },
      groq: { type: 'openai', baseUrl: cloud.url, apiKey: 'demo-key-not-secret' },
    },
    // Short cooldowns so the demo shows recovery within seconds (defaults: 2 failures, 60 s, probes every 30 s).
    health: { failureThreshold: 1, cooldownMs: 1500, probeIntervalMs: 1000, probeTimeoutMs: 500 },
    timeouts: { connectMs: 500 },
  });

  llm.on('fallback', (e) =>
    console.log(yellow(`   ↪ fallback  ${e.from} → ${e.to ?? 'nothing'} (${e.reason})`)),
  );
  llm.on('health', (e) =>
    console.log(
      (e.healthy ? green : red)(
        `   ♥ health    ${e.provider} is ${e.healthy ? 'healthy again' : `down (${e.reason})`}`,
      ),
    ),
  );
  llm.on('resolved', (e) => console.log(dim(`   ✓ resolved  ${e.alias} → ${e.target}`)));

  const messages = [{ role: 'user' as const, content: 'Say hi in one sentence.' }];
  const ask = async () => {
    const t0 = performance.now();
    const res = await llm.chat({ model: 'mana/long-form', messages });
    const ms = (performance.now() - t0).toFixed(1);
    console.log(`   ${cyan(res.model)} answered in ${bold(`${ms} ms`)}: ${res.choices[0]?.message.content}`);
  };

  step(1, 'A chat on mana/long-form is served by the first entry (the local GPU box)');
  await ask();

  step(2, 'The GPU box goes offline');
  if (local) {
    await local.close();
    console.log(dim('   (local upstream stopped: connections are now refused)'));
  } else {
    console.log(dim('   (a real Ollama is running; stop it now to see the fallback — continuing in 3 s)'));
    await sleep(3000);
  }

  step(3, 'The next call falls back to the cloud in milliseconds');
  await ask();

  step(4, 'While the breaker is open the dead box is skipped without even trying');
  await ask();

  step(5, 'A streamed answer (nothing reaches you before the first content chunk)');
  let first = true;
  for await (const chunk of llm.stream({ model: 'mana/long-form', messages })) {
    process.stdout.write(
      `${first ? `   ${cyan(chunk.model)}: ` : ''}${chunk.choices[0]?.delta.content ?? ''}`,
    );
    first = false;
  }
  process.stdout.write('\n');

  step(6, 'An embedding through mana/embed (members must share one vector space)');
  const emb = await llm.embed({ model: 'mana/embed', input: ['the quick brown fox'] });
  console.log(`   ${cyan(emb.model)}: [${emb.data[0]?.embedding.map((x) => x.toFixed(3)).join(', ')}]`);

  step(7, 'The GPU box comes back; the breaker recovers after its cooldown (1.5 s in this demo)');
  if (local) {
    const port = Number(new URL(localUrl).port);
    local = await startMockUpstream('ollama', { reply: 'Hi! I am the local GPU box again.' }, { port });
  }
  await new Promise<void>((resolve) => {
    const limit = setTimeout(resolve, 5000);
    llm.on('health', (e) => {
      if (e.provider === 'ollama' && e.healthy) {
        clearTimeout(limit);
        resolve();
      }
    });
  });
  await ask();

  step(8, 'llm.health()');
  console.log(
    JSON.stringify(llm.health(), null, 2)
      .split('\n')
      .map((l) => `   ${l}`)
      .join('\n'),
  );

  await llm.close();
  await Promise.all([local?.close(), cloud.close()]);
  console.log(`\n${green('Done.')} ${dim('Read README.md for the API; `npm test` runs the test suite.')}`);
}

main().catch((err) => {
  console.error(red(`demo failed: ${isManaLLMError(err) ? `${err.code}: ${err.message}` : String(err)}`));
  process.exitCode = 1;
});
