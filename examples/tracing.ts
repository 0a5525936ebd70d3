/**
 * OpenTelemetry traces of mana-llm calls: one GenAI CLIENT span per call, one child span per attempt, so a
 * fallback from a failing local box to the cloud shows as a red attempt and a green one. Spans are kept in memory
 * and printed as a tree here; in your app, register your SDK (e.g. @opentelemetry/sdk-node with an OTLP exporter)
 * and call `instrumentOpenTelemetry(llm)`.
 *
 *   npx tsx examples/tracing.ts
 *
 * In your app: `import { instrumentOpenTelemetry } from 'mana-llm/otel'` (and `npm install @opentelemetry/api`).
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createManaLLM, type ManaTraceMessage } from 'mana-llm';
import { instrumentOpenTelemetry } from 'mana-llm/otel';
import { startMockUpstream } from 'mana-llm/testing';
import { aliasesPath, startStandIns } from './providers.js';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);

// No keys in the environment: local stand-ins answer instead (see providers.ts; your app has no such line).
const standIns = await startStandIns();
// With the local stand-ins, the GPU box answers 503 so that the trace shows a fallback.
const down = standIns ? await startMockUpstream('ollama', { status: 503 }) : undefined;
const llm = createManaLLM({
  aliasesPath,
  providers: {
    ollama: { baseUrl: down?.url ?? process.env.OLLAMA_URL ?? 'http://localhost:11434' },
    // A cloud provider whose key is not set is simply not configured: its chain entries are skipped.
    groq: standIns ? { baseUrl: standIns.groq, apiKey: 'stand-in' } : { apiKey: process.env.GROQ_API_KEY },
    openrouter: { apiKey: process.env.OPENROUTER_API_KEY },
  },
  health: { probes: false },
});
const stop = instrumentOpenTelemetry(llm);

// The same calls on node:diagnostics_channel, for an APM agent that subscribes there instead.
const onEnd = (m: ManaTraceMessage) =>
  console.log(`diagnostics_channel: ${m.kind} ${m.requested} -> ${m.resolved}`);
const noop = () => undefined;
const channel = tracingChannel<unknown, ManaTraceMessage>('mana-llm:chat');
const handlers = { start: noop, end: noop, asyncStart: noop, asyncEnd: onEnd, error: noop };
channel.subscribe(handlers);

await llm.chat({ model: 'mana/fast-text', messages: [{ role: 'user', content: 'Hi' }], temperature: 0.2 });
for await (const _ of llm.stream({ model: 'mana/long-form', messages: [{ role: 'user', content: 'Hi' }] }));

/** Prints each call span with its attempts under it. */
function print(spans: ReadableSpan[]): void {
  const ms = (s: ReadableSpan) => (s.duration[0] * 1e3 + s.duration[1] / 1e6).toFixed(1);
  for (const call of spans.filter((s) => s.parentSpanContext === undefined)) {
    const a = call.attributes;
    console.log(
      `${call.name}  ${ms(call)} ms  served by ${a['gen_ai.response.model']} (${a['gen_ai.provider.name']})`,
    );
    for (const [k, v] of Object.entries(a)) if (k.startsWith('gen_ai.')) console.log(`    ${k} = ${v}`);
    for (const e of call.events) console.log(`    event ${e.name}`);
    for (const child of spans.filter((s) => s.parentSpanContext?.spanId === call.spanContext().spanId)) {
      const reason = child.attributes['mana.attempt.reason'];
      const http = child.attributes['http.response.status_code'];
      console.log(
        `  ${child.name}  ${child.status.code === 2 ? `ERROR ${reason}${http ? ` ${http}` : ''}` : 'ok'}`,
      );
    }
  }
}
print(exporter.getFinishedSpans());

channel.unsubscribe(handlers);
stop();
await llm.close();
await down?.close();
await standIns?.close();
