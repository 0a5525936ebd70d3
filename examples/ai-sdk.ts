/**
 * The Vercel AI SDK on mana-llm aliases: generateText, streamText, a tool loop, and a UI message stream response
 * for a route handler, each routed with fallback across the alias's chain.
 *
 *   npx tsx examples/ai-sdk.ts
 *
 * In your app: `import { createManaProvider } from 'mana-llm/ai-sdk'` (and `npm install ai @ai-sdk/provider`).
 */
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createManaLLM } from 'mana-llm';
import { createManaProvider } from 'mana-llm/ai-sdk';
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
const mana = createManaProvider(llm);

// One answer; providerMetadata.mana says which chain entry served it and what was tried before.
const answer = await generateText({ model: mana('mana/fast-text'), prompt: 'Say hello.', maxRetries: 0 });
const route = answer.providerMetadata?.mana as {
  resolved: string;
  attempts: { target: string; reason: string }[];
};
console.log(`answer: ${answer.text}`);
console.log(
  `served by ${route.resolved}: ${route.attempts.map((a) => `${a.target} ${a.reason}`).join(', ')}`,
);
console.log(`usage: ${answer.usage.inputTokens} in, ${answer.usage.outputTokens} out`);

// A stream: the chain is walked until the first chunk, then the text arrives as it is written.
const story = streamText({ model: mana('mana/long-form'), prompt: 'Tell a very short story.' });
let text = '';
for await (const piece of story.textStream) text += piece;
console.log(`stream: ${text}`);

// Tools: the AI SDK runs the loop, mana-llm routes every turn (an alias for tool use: mana/structured).
const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  }),
  execute: async ({ city }) => ({ city, sky: 'clear' }),
});
const withTools = await generateText({
  model: mana('mana/structured'),
  prompt: 'What is the weather in Paris?',
  tools: { weather },
  stopWhen: stepCountIs(3),
});
console.log(`with tools: ${withTools.steps.length} step(s), answer: ${withTools.text}`);

// In a route handler (Next.js, Hono, a fetch handler): return this Response as is.
const response = streamText({ model: mana('mana/fast-text'), prompt: 'Hi' }).toUIMessageStreamResponse();
const body = await response.text();
console.log(
  `UI message stream: ${response.status} ${response.headers.get('content-type')}, ${body.length} bytes`,
);

await llm.close();
await standIns?.close();
