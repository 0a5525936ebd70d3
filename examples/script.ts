/**
 * A script: ask a model class for an answer, see who served it, then stream a second answer.
 *
 *   npx tsx examples/script.ts
 */
import { createManaLLM } from 'mana-llm';
import { aliasesPath, startStandIns } from './providers.js';

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

const res = await llm.chat({
  model: 'mana/fast-text',
  messages: [{ role: 'user', content: 'In one sentence: why do backends need a fallback LLM?' }],
});
console.log(`answer: ${res.choices[0]?.message.content}`);
console.log(`served by ${res.model} (asked for ${res.routing.requested})`);
for (const a of res.routing.attempts) console.log(`  ${a.target}: ${a.reason}`);

process.stdout.write('stream: ');
for await (const chunk of llm.stream({
  model: 'mana/fast-text',
  messages: [{ role: 'user', content: 'Now say goodbye.' }],
})) {
  process.stdout.write(chunk.choices[0]?.delta.content ?? '');
}
process.stdout.write('\n');

// Stops the local mock upstreams, if this run started any (a real app has nothing of the kind to stop).
await standIns?.close();
// No `llm.close()`: the script still exits by itself, because the client's health probes run on unref'd timers
// and its idle pooled connections do not hold the event loop open. Long-running servers call `llm.close()` on
// shutdown to stop the probes at once.
