// The OpenTelemetry and Prometheus bridges on hedged calls: one span per attempt (a hedged-out one is no error,
// none is told twice), and `hedge_total`.
import type { ServerResponse } from 'node:http';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentOpenTelemetry } from '../src/otel/index.js';
import { registerPrometheusMetrics } from '../src/prometheus/index.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, harness, KEY, USER, waitFor } from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup(a: { url: string }) {
  const h = await harness({
    upstreams: { b: 'openai' },
    providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
    aliases: { 'mana/x': { chain: ['a/m', 'b/m'], hedge: { afterMs: 300 } } },
  });
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  instrumentOpenTelemetry(h.llm, { tracer: provider.getTracer('test') });
  const registry = new Registry();
  registerPrometheusMetrics(h.llm, { registry });
  return { ...h, b: h.up.b!, exporter, registry };
}

/** The attempt spans as [name, reason, status]. */
function attempts(spans: ReadableSpan[]) {
  return spans
    .filter((s) => s.name.startsWith('attempt '))
    .map((s) => [s.name, s.attributes['mana.attempt.reason'], s.status.code]);
}

describe('bridges on hedged calls', () => {
  it('the hedged-out attempt is a span without error; hedge_total counts the hedge', async () => {
    const a = await hangingUpstream();
    const { llm, clock, exporter, registry } = await setup(a);
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await call;
    expect(attempts(exporter.getFinishedSpans())).toEqual([
      ['attempt a/m', 'hedged-out', SpanStatusCode.UNSET],
      ['attempt b/m', 'ok', SpanStatusCode.UNSET],
    ]);
    expect(await registry.metrics()).toContain('mana_llm_hedge_total{from_model="a/m",to_model="b/m"} 1');
  });

  it('a hedge that fails before the original answers: each attempt is told once', async () => {
    let held: ServerResponse | undefined;
    const a = await rawUpstream((_text, res) => {
      held = res;
    });
    const { llm, clock, b, exporter } = await setup(a);
    b.enqueue({ status: 503 });
    const call = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(300);
    await waitFor(() => b.count('chat') === 1, 'hedge at b');
    // b's 503 is recorded before a answers.
    await waitFor(() => llm.health().providers.b!.consecutiveFailures === 1, 'b’s failure');
    held!
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply: 'a' }, 'm')));
    const res = await call;
    expect(res.routing.attempts.map((x) => [x.target, x.reason])).toEqual([
      ['a/m', 'ok'],
      ['b/m', 'http-error'],
    ]);
    expect(attempts(exporter.getFinishedSpans()).sort()).toEqual([
      ['attempt a/m', 'ok', SpanStatusCode.UNSET],
      ['attempt b/m', 'http-error', SpanStatusCode.ERROR],
    ]);
  });
});
