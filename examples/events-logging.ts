/**
 * Structured logging from the client's events: one JSON line per event, errors as their `code` and message.
 * Payloads never carry an API key (mana-llm redacts keys, bearer tokens and `key=` values from every message).
 * To make the log interesting, the local GPU box (Ollama) is "switched off": the first call falls back.
 *
 *   npx tsx examples/events-logging.ts
 */
import { createManaLLM, isManaLLMError, type ManaLLMEventName, type ManaLLMEvents } from 'mana-llm';
import { aliasesPath, startStandIns } from './providers.js';

// Every event with its log level; `satisfies` makes TypeScript point at any event this list is missing.
const LEVELS = {
  request: 'info',
  resolved: 'info',
  response: 'info',
  fallback: 'warn',
  failure: 'error',
  health: 'warn',
  probe: 'debug',
  reload: 'info',
  store: 'warn',
  cache: 'debug',
  cancel: 'info',
  hedge: 'info',
} as const satisfies Record<ManaLLMEventName, string>;

function log(event: ManaLLMEventName, payload: ManaLLMEvents[ManaLLMEventName]) {
  const { error, ...fields } = payload as { error?: unknown };
  const line: Record<string, unknown> = {
    time: new Date().toISOString(),
    level: LEVELS[event],
    event,
    ...fields,
  };
  // The error as its code (stable: alert and chart on it) and its message; not the whole object and cause chain.
  if (error !== undefined) {
    line.error = isManaLLMError(error)
      ? { code: error.code, message: error.message }
      : { message: String(error) };
  }
  console.log(JSON.stringify(line)); // with pino: logger[LEVELS[event]](line)
}

// No keys in the environment: a local stand-in answers for Groq (see providers.ts; your app has no such line).
const standIns = await startStandIns();
const llm = createManaLLM({
  aliasesPath,
  providers: {
    // Port 9 on this machine refuses connections: an Ollama box that is switched off.
    ollama: { baseUrl: 'http://127.0.0.1:9' },
    groq: standIns ? { baseUrl: standIns.groq, apiKey: 'stand-in' } : { apiKey: process.env.GROQ_API_KEY },
    openrouter: { apiKey: process.env.OPENROUTER_API_KEY },
  },
  health: { failureThreshold: 1 },
});
for (const event of Object.keys(LEVELS) as ManaLLMEventName[])
  llm.on(event, (payload) => log(event, payload));

const messages = [{ role: 'user' as const, content: 'Hi!' }];
await llm.chat({ model: 'mana/fast-text', messages }); // request, fallback, health, resolved, response
await llm.chat({ model: 'ollama/qwen2.5:7b', messages }).catch(() => {}); // failure: the breaker is open
await llm.reload(); // reload: the aliases file was read again

await llm.close();
await standIns?.close();
