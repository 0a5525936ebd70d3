// instrumentOpenTelemetry edges: the global tracer, an attempt released by its opening breaker, a stream
// cancelled and a cache hit served that began before instrumenting.
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { instrumentOpenTelemetry } from '../src/otel/index.js';
import { closeAll, harness, USER, waitFor } from './helpers/client.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll();
});

const REQ = { model: 'mana/x', messages: USER };

function inMemory() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

describe('instrumentOpenTelemetry edges', () => {
  it('without a tracer uses the global tracer provider, under the name mana-llm', async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const { exporter, provider } = inMemory();
    trace.setGlobalTracerProvider(provider);
    try {
      const stop = instrumentOpenTelemetry(llm);
      await llm.chat(REQ);
      stop();
    } finally {
      trace.disable();
    }
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.instrumentationScope.name])).toEqual([
      ['attempt a/m1', 'mana-llm'],
      ['chat mana/x', 'mana-llm'],
    ]);
  });

  it('an attempt let go because its breaker opened is an ERROR span whose message is breaker-open', async () => {
    const { llm, clock, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: {
        health: { probes: true, probeIntervalMs: 5_000, recoveryProbeMs: 5_000, failureThreshold: 1 },
      },
    });
    const { exporter, provider } = inMemory();
    instrumentOpenTelemetry(llm, { tracer: provider.getTracer('test') });
    const a = up.a!;
    await clock.advanceAsync(0);
    await waitFor(() => a.count('models') === 1 && up.b!.count('models') === 1, 'the first probes');
    a.setDefault({ hang: true });
    const call = llm.chat(REQ);
    await waitFor(() => a.count('chat') === 1, 'the call waiting at a');
    a.enqueue({ status: 500 });
    await clock.advanceAsync(5_500);
    expect((await call).model).toBe('b/m2');
    const released = exporter.getFinishedSpans().find((s) => s.name === 'attempt a/m1');
    expect(released?.attributes['mana.attempt.reason']).toBe('breaker-open');
    expect(released?.status).toEqual({ code: 2, message: 'breaker-open' });
  });

  it('a stream opened before instrumenting and then cancelled leaves no span and no warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm, up } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    up.a!.setDefault({ reply: 'one two three', chunks: 3 });
    const { exporter, provider } = inMemory();
    const stream = llm.stream(REQ);
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    instrumentOpenTelemetry(llm, { tracer: provider.getTracer('test') });
    await it.return?.();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });
  it('a cache hit served for a call that began before instrumenting leaves no span; the next hit has its span', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const saved = new Map<string, string>();
    let hold = false;
    const waiting: (() => void)[] = [];
    const store = {
      getResponse: (key: string) =>
        hold
          ? new Promise<string | undefined>((resolve) => waiting.push(() => resolve(saved.get(key))))
          : saved.get(key),
      setResponse: (key: string, value: string) => void saved.set(key, value),
    };
    const { llm, up } = await harness({
      upstreams: { a: 'openai' },
      options: { aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } }, cache: { store } },
    });
    const req = { model: 'mana/c', messages: USER, temperature: 0 };
    await llm.chat(req);
    hold = true;
    const early = llm.chat(req);
    await waitFor(() => waiting.length === 1, 'the cache read of the call begun before instrumenting');
    const { exporter, provider } = inMemory();
    instrumentOpenTelemetry(llm, { tracer: provider.getTracer('test') });
    hold = false;
    for (const answer of waiting.splice(0)) answer();
    expect((await early).model).toBe('a/m1');
    expect(exporter.getFinishedSpans()).toEqual([]);
    await llm.chat(req);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['mana.cached']])).toEqual([['chat mana/c', true]]);
    expect(up.a!.count('chat')).toBe(1);
    expect(warn).not.toHaveBeenCalled();
  });
});
