import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { generateText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaProvider } from '../src/ai-sdk/index.js';
import {
  createManaLLM,
  type ManaLLM,
  NoHealthyProviderError,
  type ProviderAdapter,
  ProviderError,
  StreamInterruptedError,
} from '../src/index.js';
import { instrumentOpenTelemetry } from '../src/otel/index.js';
import { createFakeClock, openaiCodec } from '../src/testing/index.js';
import {
  closeAll,
  collect,
  harness,
  KEY,
  recordEvents,
  rejection,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** `llm` instrumented with an in-memory exporter: `exporter.getFinishedSpans()` holds the spans it ended. */
function traced(llm: ManaLLM) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const stop = instrumentOpenTelemetry(llm, { tracer: provider.getTracer('test') });
  return { exporter, stop };
}

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'ollama', c: 'anthropic' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'], 'mana/ghost': ['ghost/m', 'a/m1', 'c/m3'] },
  });
  const { exporter, stop } = traced(h.llm);
  return { ...h, a: h.up.a!, b: h.up.b!, c: h.up.c!, exporter, stop };
}

/** The call span and its children, checked to form one tree. */
function tree(spans: ReadableSpan[]) {
  const roots = spans.filter((s) => s.parentSpanContext === undefined);
  expect(roots).toHaveLength(1);
  const root = roots[0] as ReadableSpan;
  const children = spans
    .filter((s) => s !== root)
    .sort((x, y) => Number(x.attributes['mana.attempt.index']) - Number(y.attributes['mana.attempt.index']));
  for (const c of children) {
    expect(c.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(c.spanContext().traceId).toBe(root.spanContext().traceId);
  }
  return { root, children };
}

const ms = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

describe('instrumentOpenTelemetry', () => {
  it('a chat that falls back once: one CLIENT span with GenAI attributes, one child span per attempt', async () => {
    const { llm, a, exporter } = await setup();
    a.enqueue({ status: 503 });
    await llm.chat({ model: 'mana/x', messages: USER, temperature: 0.2, max_tokens: 50 });
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.name).toBe('chat mana/x');
    expect(root.kind).toBe(SpanKind.CLIENT);
    expect(root.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'b',
      'gen_ai.request.model': 'mana/x',
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.response.model': 'b/m2',
      'gen_ai.usage.input_tokens': 5,
      'gen_ai.usage.output_tokens': 7,
      'mana.alias': 'mana/x',
      'mana.attempts': 2,
    });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    expect(children.map((c) => [c.name, c.kind, c.status.code])).toEqual([
      ['attempt a/m1', SpanKind.INTERNAL, SpanStatusCode.ERROR],
      ['attempt b/m2', SpanKind.INTERNAL, SpanStatusCode.UNSET],
    ]);
    expect(children[0]?.attributes).toMatchObject({
      'mana.attempt.target': 'a/m1',
      'mana.attempt.reason': 'http-error',
      'http.response.status_code': 503,
      'error.type': 'http-error',
    });
    expect(children[1]?.attributes).toMatchObject({ 'mana.attempt.reason': 'ok' });
    for (const c of children) {
      expect(ms(c.startTime)).toBeGreaterThanOrEqual(ms(root.startTime));
      expect(ms(c.endTime)).toBeLessThanOrEqual(ms(root.endTime) + 0.001);
    }
  });

  it('a stream: the span lasts until the stream ends and records the time to the first chunk', async () => {
    const { llm, b, exporter } = await setup();
    b.enqueue({ reply: 'streamed answer', chunks: 4 });
    const chunks = await collect(
      llm.stream({ model: 'b/m2', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(chunks.length).toBeGreaterThan(0);
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.name).toBe('chat b/m2');
    expect(root.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'b',
      'gen_ai.request.stream': true,
      'gen_ai.response.model': 'b/m2',
      'gen_ai.response.time_to_first_chunk': 0,
      'gen_ai.usage.input_tokens': 5,
      'gen_ai.usage.output_tokens': 7,
    });
    expect(root.events.map((e) => e.name)).toEqual(['gen_ai.first_chunk']);
    expect(children.map((c) => c.name)).toEqual(['attempt b/m2']);
    expect(ms(children[0]!.endTime)).toBeCloseTo(ms(root.endTime), 3);
    // The serving attempt began with the call (its durationMs is only its time to commit), not just before the end.
    expect(ms(children[0]!.startTime)).toBe(ms(root.startTime));
  });

  it('a failure: error.type, ERROR status, the exception, a skipped entry as an event, every attempt', async () => {
    const { llm, a, c, exporter } = await setup();
    a.enqueue({ reset: true });
    c.enqueue({ status: 500 });
    const err = await rejection(llm.chat({ model: 'mana/ghost', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.name).toBe('chat mana/ghost');
    expect(root.attributes).toMatchObject({
      'error.type': 'NoHealthyProviderError',
      'gen_ai.provider.name': 'mana-llm',
      'mana.attempts': 3,
    });
    expect(root.attributes['gen_ai.response.model']).toBeUndefined();
    expect(root.status).toEqual({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    expect(root.events.map((e) => [e.name, e.attributes])).toEqual([
      ['mana.skip', { 'mana.attempt.target': 'ghost/m', 'mana.attempt.reason': 'unconfigured' }],
      ['exception', expect.objectContaining({ 'exception.type': 'NO_HEALTHY_PROVIDER' })],
    ]);
    expect(
      children.map((s) => [s.name, s.attributes['mana.attempt.reason'], s.attributes['mana.attempt.index']]),
    ).toEqual([
      ['attempt a/m1', 'connection', 1],
      ['attempt c/m3', 'http-error', 2],
    ]);
    expect(children[1]?.attributes['gen_ai.provider.name']).toBe('c');
  });

  it("the caller's own error after a fallback records the attempt that raised it", async () => {
    const { llm, a, b, exporter } = await setup();
    a.enqueue({ status: 500 });
    b.enqueue({ status: 400, body: '{"error":"bad request"}' });
    await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.attributes['error.type']).toBe('ProviderHTTPError');
    expect(children.map((s) => [s.name, s.attributes['http.response.status_code']])).toEqual([
      ['attempt a/m1', 500],
      ['attempt b/m2', 400],
    ]);
  });

  it('embeddings, a stopped stream, and unsubscribing', async () => {
    const { llm, a, exporter, stop } = await setup();
    await llm.embed({ model: 'mana/x', input: ['a', 'b'] });
    let spans = exporter.getFinishedSpans();
    expect(spans.find((s) => s.kind === SpanKind.CLIENT)).toMatchObject({
      name: 'embeddings mana/x',
      attributes: expect.objectContaining({
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.usage.input_tokens': 2,
      }),
    });
    expect(
      spans.find((s) => s.kind === SpanKind.CLIENT)?.attributes['gen_ai.usage.output_tokens'],
    ).toBeUndefined();
    exporter.reset();
    a.enqueue({ streamThenStall: 3 });
    for await (const _ of llm.stream({ model: 'mana/x', messages: USER })) break;
    spans = exporter.getFinishedSpans();
    expect(tree(spans).root.attributes).toMatchObject({
      'mana.cancelled': true,
      'gen_ai.response.model': 'a/m1',
    });
    exporter.reset();
    stop();
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
  it('a chat the caller aborts while an attempt is in flight: the attempt span is there, health untouched', async () => {
    const { llm, a, exporter } = await setup();
    const log = recordEvents(llm);
    const before = llm.health().providers.a;
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.requests.length === 1, 'the upstream to get the request');
    ac.abort(new Error('user left'));
    expect(((await rejection(call)) as Error).message).toBe('user left');
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.attributes['mana.attempts']).toBe(1);
    expect(children.map((c) => [c.name, c.attributes['mana.attempt.reason'], c.status.code])).toEqual([
      ['attempt a/m1', 'hedged-out', SpanStatusCode.UNSET],
    ]);
    const failure = log.of('failure')[0];
    expect(failure?.attempts).toEqual([
      { target: 'a/m1', reason: 'hedged-out', durationMs: expect.any(Number) },
    ]);
    expect(log.of('fallback')).toEqual([]);
    expect(llm.health().providers.a).toEqual(before);
  });
});

describe('instrumentOpenTelemetry and a stream that ends in an error after its first chunk', () => {
  const frame = (content: string) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

  it('the serving attempt span lasts from its call to the failure, not only its time to commit', async () => {
    // Answers at once, then streams for 300 ms, then drops the connection (or the caller aborts first).
    // When each request reached the upstream, on the clock spans are timed with.
    const received: number[] = [];
    const up = await rawUpstream((_body, res) => {
      received.push(performance.timeOrigin + performance.now());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame('a'));
      const more = setTimeout(() => res.write(frame('b')), 100);
      const drop = setTimeout(() => res.destroy(), 300);
      res.on('close', () => {
        clearTimeout(more);
        clearTimeout(drop);
      });
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const { exporter } = traced(llm);
    // An alias stream the upstream breaks, and a direct stream the caller aborts.
    expect(await rejection(collect(llm.stream({ model: 'mana/x', messages: USER })))).toBeInstanceOf(
      StreamInterruptedError,
    );
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 250);
    await rejection(collect(llm.stream({ model: 'r/m', messages: USER }, { signal: ac.signal })));
    const spans = exporter.getFinishedSpans();
    for (const [i, name] of ['chat mana/x', 'chat r/m'].entries()) {
      const root = spans.find((s) => s.name === name) as ReadableSpan;
      expect(root.status.code).toBe(SpanStatusCode.ERROR);
      const attempt = spans.find((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
      expect(attempt?.attributes['mana.attempt.reason']).toBe('ok');
      expect(ms(attempt!.endTime)).toBeCloseTo(ms(root.endTime), 3);
      // It began when the call did (before its request reached the upstream), not its time-to-commit before the
      // failure. (Ordered against that moment, not bounded in wall-clock ms; 2 ms for the rounding of durationMs.)
      expect(ms(attempt!.startTime)).toBeLessThanOrEqual((received[i] as number) + 2);
      expect(ms(attempt!.endTime) - ms(attempt!.startTime)).toBeGreaterThan(200);
    }
  });
});

describe('instrumentOpenTelemetry and a stream interrupted after its first chunk', () => {
  it('the call span names the provider and model that answered before the break', async () => {
    const { llm, a, exporter } = await setup();
    a.enqueue({ streamThenReset: 2 });
    expect(await rejection(collect(llm.stream({ model: 'mana/x', messages: USER })))).toBeInstanceOf(
      StreamInterruptedError,
    );
    const { root } = tree(exporter.getFinishedSpans());
    expect(root.status.code).toBe(SpanStatusCode.ERROR);
    expect(root.attributes).toMatchObject({
      'error.type': 'StreamInterruptedError',
      'gen_ai.response.model': 'a/m1',
      'gen_ai.provider.name': 'a',
    });
    expect(root.attributes['gen_ai.response.time_to_first_chunk']).toBeTypeOf('number');
  });

  it('after a fallback, its time to the first chunk counts from the call, and its attempt starts after the failed one', async () => {
    // a fails after 100 ms; b answers at once, then drops the connection.
    const failing = await rawUpstream((_body, res) => {
      const t = setTimeout(() => res.writeHead(500).end('{"error":"down"}'), 100);
      res.on('close', () => clearTimeout(t));
    });
    const cut = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] })}\n\n`,
      );
      setTimeout(() => res.destroy(), 20);
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/s': { chain: ['a/m1', 'b/m2'] } } },
        providers: {
          a: { type: 'openai', baseUrl: failing.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: cut.url, apiKey: KEY },
        },
        health: { probes: false },
      }),
    );
    const { exporter } = traced(llm);
    expect(await rejection(collect(llm.stream({ model: 'mana/s', messages: USER })))).toBeInstanceOf(
      StreamInterruptedError,
    );
    const { root, children } = tree(exporter.getFinishedSpans());
    const [failed, served] = children as [ReadableSpan, ReadableSpan];
    expect(served.attributes['mana.attempt.reason']).toBe('ok');
    // Ordered against each other, not bounded in wall-clock ms (1 ms for the rounding of durationMs).
    expect(ms(served.startTime)).toBeGreaterThanOrEqual(ms(failed.endTime) - 1);
    const ttfc = root.attributes['gen_ai.response.time_to_first_chunk'] as number;
    expect(ttfc * 1000).toBeGreaterThanOrEqual(ms(failed.endTime) - ms(root.startTime) - 1);
  });
});

describe('instrumentOpenTelemetry and hedging', () => {
  it('a hedge that fails while the first entry still runs keeps its own place in the chain as its index', async () => {
    // a answers only when told; the hedge started beside it on b fails at once.
    let held: ServerResponse | undefined;
    const slow = await rawUpstream((_body, res) => {
      held = res;
    });
    const failing = await upstream('openai', { status: 500 });
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/h': { chain: ['a/m1', 'b/m2'] } } },
        providers: {
          a: { type: 'openai', baseUrl: slow.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: failing.url, apiKey: KEY },
        },
        health: { probes: false },
        clock,
      }),
    );
    const { exporter } = traced(llm);
    const call = llm.chat({ model: 'mana/h', messages: USER }, { hedgeAfterMs: 50 });
    await waitFor(() => slow.received === 1, 'request at a');
    await clock.advanceAsync(50);
    await waitFor(() => llm.health().providers.b?.consecutiveFailures === 1, 'the hedge failed at b');
    held
      ?.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply: 'slow' }, 'm')));
    const res = await call;
    expect(res.routing.attempts.map((a) => [a.target, a.reason])).toEqual([
      ['a/m1', 'ok'],
      ['b/m2', 'http-error'],
    ]);
    const { children } = tree(exporter.getFinishedSpans());
    expect(children.map((s) => [s.name, s.attributes['mana.attempt.index']])).toEqual([
      ['attempt a/m1', 0],
      ['attempt b/m2', 1],
    ]);
  });
});

describe('instrumentOpenTelemetry and odd provider names', () => {
  it('a direct model whose provider is named like an Object member still gets gen_ai.provider.name', async () => {
    const { llm, exporter } = await setup();
    for (const model of ['constructor/m', 'toString/m', '__proto__/m'])
      await rejection(llm.chat({ model, messages: USER }));
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['gen_ai.provider.name']])).toEqual([
      ['chat constructor/m', 'constructor'],
      ['chat toString/m', 'toString'],
      ['chat __proto__/m', '__proto__'],
    ]);
  });
});

describe('instrumentOpenTelemetry with usage details', () => {
  it('records cached prompt tokens when the upstream reports them, and they reach the AI SDK too', async () => {
    const usage = {
      prompt_tokens: 50,
      completion_tokens: 5,
      total_tokens: 55,
      prompt_tokens_details: { cached_tokens: 40 },
    };
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: false }),
      chat: async (req) => ({
        id: 'x',
        object: 'chat.completion',
        created: 1,
        model: req.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'cached' }, finish_reason: 'stop' }],
        usage,
      }),
      stream: () => {
        throw new Error('not used');
      },
      embed: () => Promise.reject(new Error('not used')),
      probe: async () => ({ ok: true }),
      models: async () => [],
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/c': { chain: ['custom/m'] } } },
        providers: { custom: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const { exporter } = traced(llm);
    const res = await generateText({ model: createManaProvider(llm)('mana/c'), prompt: 'Hi' });
    expect(res.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: 40, noCacheTokens: 10 });
    expect(tree(exporter.getFinishedSpans()).root.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 50,
      'gen_ai.usage.cache_read.input_tokens': 40,
    });
  });
});

describe('instrumentOpenTelemetry and the spans of calls that ended', () => {
  it('forgets a call once its span ended: stop() ends no span a second time', async () => {
    const { llm, exporter } = await setup();
    const real = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
      't',
    );
    const ends = new Map<unknown, number>();
    const tracer: Tracer = {
      ...real,
      startSpan(name, options, ctx) {
        const span = real.startSpan(name, options, ctx);
        const end = span.end.bind(span);
        span.end = (t) => {
          ends.set(span, (ends.get(span) ?? 0) + 1);
          end(t);
        };
        return span;
      },
      startActiveSpan: real.startActiveSpan.bind(real),
    };
    const stop = instrumentOpenTelemetry(llm, { tracer });
    await llm.chat({ model: 'mana/x', messages: USER });
    await collect(llm.stream({ model: 'mana/x', messages: USER }));
    stop();
    expect(ends.size).toBeGreaterThanOrEqual(4);
    expect([...ends.values()].every((n) => n === 1)).toBe(true);
  });

  it('stop() called twice ends the span of a call in flight once', async () => {
    const { llm, a, exporter } = await setup();
    const real = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
      't',
    );
    let ends = 0;
    const tracer: Tracer = {
      ...real,
      startSpan(name, options, ctx) {
        const span = real.startSpan(name, options, ctx);
        const end = span.end.bind(span);
        span.end = (t) => {
          ends++;
          end(t);
        };
        return span;
      },
      startActiveSpan: real.startActiveSpan.bind(real),
    };
    const stop = instrumentOpenTelemetry(llm, { tracer });
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.requests.length === 1, 'the upstream to get the request');
    stop();
    stop();
    expect(ends).toBe(1);
    ac.abort();
    await rejection(call);
  });
});

describe('instrumentOpenTelemetry and an attempt timed longer than its call', () => {
  it("an attempt's span never starts before its call's span (its durationMs is on the client's clock)", async () => {
    const clock = createFakeClock();
    let n = 0;
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: false }),
      // The client's clock says 10 s passed during each attempt; the spans' own clock says a few ms.
      chat: async (req) => {
        clock.advance(10_000);
        // The first entry fails (a malformed reply), the second serves.
        if (n++ === 0) throw new Error('busy');
        return {
          id: 'x',
          object: 'chat.completion',
          created: 1,
          model: req.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        };
      },
      stream: () => {
        throw new Error('not used');
      },
      embed: () => Promise.reject(new Error('not used')),
      probe: async () => ({ ok: true }),
      models: async () => [],
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/c': { chain: ['custom/m1', 'custom/m2'] } } },
        providers: { custom: { type: 'custom', adapter } },
        health: { probes: false },
        clock,
      }),
    );
    const { exporter } = traced(llm);
    await llm.chat({ model: 'mana/c', messages: USER });
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(children).toHaveLength(2);
    expect(children[1]?.attributes['mana.attempt.reason']).toBe('ok');
    for (const c of children) expect(ms(c.startTime)).toBeGreaterThanOrEqual(ms(root.startTime));
  });
});

/** The smallest context manager (what @opentelemetry/context-async-hooks does): the active context per async flow. */
class AsyncContextManager implements ContextManager {
  readonly #store = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#store.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#store.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#store.disable();
    return this;
  }
}

describe('instrumentOpenTelemetry and the active context', () => {
  it('a call span is a child of the span active when the call was made (chat and stream)', async () => {
    const manager = new AsyncContextManager();
    context.setGlobalContextManager(manager);
    try {
      const { llm, exporter, stop } = await setup();
      const tracer = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      }).getTracer('app');
      await tracer.startActiveSpan('GET /answer', async (server) => {
        await llm.chat({ model: 'mana/x', messages: USER });
        await collect(llm.stream({ model: 'mana/x', messages: USER }));
        server.end();
      });
      stop();
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.name === 'GET /answer') as ReadableSpan;
      const calls = spans.filter((s) => s.kind === SpanKind.CLIENT);
      expect(calls.map((s) => s.name)).toEqual(['chat mana/x', 'chat mana/x']);
      for (const call of calls) expect(call.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    } finally {
      context.disable();
    }
  });
});

describe('instrumentOpenTelemetry with the response cache', () => {
  it('a miss is an ordinary call span; only the hit is marked mana.cached', async () => {
    const h = await harness({
      upstreams: { a: 'openai' },
      options: {
        aliases: { aliases: { 'mana/c': { chain: ['a/m1'], cache: true } } },
        cache: { store: 'memory' as const, ttlMs: 60_000 },
      },
    });
    const { exporter, stop } = traced(h.llm);
    const req = { model: 'mana/c', messages: USER, temperature: 0 };
    await h.llm.chat(req);
    await h.llm.chat(req);
    stop();
    const calls = exporter.getFinishedSpans().filter((s) => s.parentSpanContext === undefined);
    expect(calls.map((s) => s.attributes['mana.cached'])).toEqual([undefined, true]);
    expect(calls[0]?.attributes['gen_ai.response.model']).toBe('a/m1');
  });
});

describe('an alias the configuration does not define', () => {
  it('its span names the router as provider (mana-llm), not "mana"', async () => {
    const { llm, exporter } = await setup();
    await rejection(llm.chat({ model: 'mana/nope', messages: USER }));
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.attributes).toMatchObject({
      'gen_ai.provider.name': 'mana-llm',
      'gen_ai.request.model': 'mana/nope',
      'error.type': 'UnknownAliasError',
    });
  });
});

describe("instrumentOpenTelemetry and the caller's own abort", () => {
  it("error.type is the abort reason's name (AbortError), not the wrapping error's class", async () => {
    const { llm, a, exporter } = await setup();
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.requests.length === 1, 'the upstream to get the request');
    ac.abort();
    await rejection(call);
    expect(tree(exporter.getFinishedSpans()).root.attributes['error.type']).toBe('AbortError');
  });

  it("another error caused by a plain Error keeps its own class as error.type (a request's throwing getter)", async () => {
    const { llm, exporter } = await setup();
    const hostile = {
      model: 'mana/x',
      get messages(): never {
        throw new Error('hostile getter');
      },
    };
    await rejection(llm.chat(hostile as never));
    expect(tree(exporter.getFinishedSpans()).root.attributes['error.type']).toBe('InvalidRequestError');
  });
});

describe('instrumentOpenTelemetry and a stream that falls back', () => {
  it('the failed attempt span lasts from its call to its failure, before the serving one begins', async () => {
    // a fails after 100 ms; b sends its first chunk 200 ms after its call.
    const failing = await rawUpstream((_body, res) => {
      const t = setTimeout(() => res.writeHead(500).end('{"error":"down"}'), 100);
      res.on('close', () => clearTimeout(t));
    });
    const slow = await rawUpstream((_body, res) => {
      const frame = `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] })}\n\n`;
      const t = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(frame);
        setTimeout(() => res.end('data: [DONE]\n\n'), 50);
      }, 200);
      res.on('close', () => clearTimeout(t));
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/s': { chain: ['a/m1', 'b/m2'] } } },
        providers: {
          a: { type: 'openai', baseUrl: failing.url, apiKey: KEY },
          b: { type: 'openai', baseUrl: slow.url, apiKey: KEY },
        },
        health: { probes: false },
      }),
    );
    const { exporter } = traced(llm);
    await collect(llm.stream({ model: 'mana/s', messages: USER }));
    const { root, children } = tree(exporter.getFinishedSpans());
    const [first, second] = children as [ReadableSpan, ReadableSpan];
    expect([first.name, second.name]).toEqual(['attempt a/m1', 'attempt b/m2']);
    // The failed attempt's status carries its error's message, not only its reason.
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringContaining('down') });
    // Ordered against each other and the call, not bounded in wall-clock ms (1 ms for the rounding of durationMs).
    expect(ms(first.startTime)).toBeLessThanOrEqual(ms(root.startTime) + 50);
    expect(ms(first.endTime) - ms(first.startTime)).toBeGreaterThan(50);
    expect(ms(first.startTime)).toBeLessThan(ms(second.startTime));
    expect(ms(first.endTime)).toBeLessThanOrEqual(ms(second.startTime) + 1);
    // The time to the first chunk in seconds, the moment of its event.
    const event = root.events.find((e) => e.name === 'gen_ai.first_chunk');
    expect(root.attributes['gen_ai.response.time_to_first_chunk']).toBeCloseTo(
      (ms(event!.time) - ms(root.startTime)) / 1000,
      4,
    );
  });
});

describe('instrumentOpenTelemetry and a bare model', () => {
  it('a model without a provider part names the router as provider (mana-llm)', async () => {
    const { llm, exporter } = await setup();
    await rejection(llm.chat({ model: 'gpt-4o', messages: USER }));
    expect(exporter.getFinishedSpans()[0]?.attributes['gen_ai.provider.name']).toBe('mana-llm');
  });
});

describe('instrumentOpenTelemetry with calls it never sees end', () => {
  it('stop() ends the span of a call in flight, with the attempt a fallback event told about', async () => {
    const { llm, a, b, exporter, stop } = await setup();
    a.enqueue({ status: 503 });
    b.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => b.requests.length === 1, 'the second entry called');
    stop();
    const { root, children } = tree(exporter.getFinishedSpans());
    expect([root.name, ...children.map((c) => c.name)]).toEqual(['chat mana/x', 'attempt a/m1']);
    ac.abort();
    await rejection(call);
  });

  it('a stream stopped after a fallback records the failed attempt', async () => {
    const { llm, a, b, exporter } = await setup();
    a.enqueue({ status: 503 });
    b.enqueue({ streamThenStall: 3 });
    for await (const _ of llm.stream({ model: 'mana/x', messages: USER })) break;
    const { root, children } = tree(exporter.getFinishedSpans());
    expect(root.attributes['mana.cancelled']).toBe(true);
    expect(children.map((c) => [c.name, c.attributes['mana.attempt.reason']])).toEqual([
      ['attempt a/m1', 'http-error'],
    ]);
  });
});

describe('instrumentOpenTelemetry and well-known provider ids', () => {
  it("a direct model of google, groq, openai or anthropic gets the conventions' provider name", async () => {
    const { llm, exporter } = await setup();
    for (const p of ['google', 'groq', 'openai', 'anthropic'])
      await rejection(llm.chat({ model: `${p}/m`, messages: USER }));
    expect(exporter.getFinishedSpans().map((s) => s.attributes['gen_ai.provider.name'])).toEqual([
      'gcp.gemini',
      'groq',
      'openai',
      'anthropic',
    ]);
  });
});

describe('instrumentOpenTelemetry and sampling parameters', () => {
  it('top_p the request sets is gen_ai.request.top_p', async () => {
    const { llm, exporter } = await setup();
    await llm.chat({ model: 'mana/x', messages: USER, top_p: 0.9 });
    expect(tree(exporter.getFinishedSpans()).root.attributes['gen_ai.request.top_p']).toBe(0.9);
  });
});

describe('instrumentOpenTelemetry: when each entry is recorded', () => {
  /** An OpenAI upstream that holds every request until the test answers it with `status`. */
  async function held() {
    const waiting: ServerResponse[] = [];
    const up = await rawUpstream((_body, res) => void waiting.push(res));
    const answer = (status: number): void => {
      const res = waiting.shift() as ServerResponse;
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"down"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(openaiCodec.chat({ reply: 'late' }, 'm1')));
    };
    return { url: up.url, waiting, answer };
  }

  function tracedChain(chain: string[], providers: Record<string, string>) {
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/t': { chain } } },
        providers: Object.fromEntries(
          Object.entries(providers).map(([id, baseUrl]) => [
            id,
            { type: 'openai' as const, baseUrl, apiKey: KEY },
          ]),
        ),
        health: { probes: false },
      }),
    );
    return { llm, exporter: traced(llm).exporter };
  }

  it('a skipped entry is stamped when it was skipped, not when the call ended', async () => {
    const a = await held();
    const { llm, exporter } = tracedChain(['ghost/m', 'a/m1'], { a: a.url });
    const call = llm.chat({ model: 'mana/t', messages: USER });
    await waitFor(() => a.waiting.length === 1, 'the request to reach a');
    const between = performance.timeOrigin + performance.now();
    a.answer(200);
    await call;
    const { root } = tree(exporter.getFinishedSpans());
    const skip = root.events.find((e) => e.name === 'mana.skip');
    expect(ms(skip!.time)).toBeLessThanOrEqual(between);
    expect(ms(root.endTime)).toBeGreaterThan(between);
  });

  it('a hedge that fails first and the entry beside it failing later each end when they failed', async () => {
    const a = await held();
    const b = await upstream('openai', { status: 500 });
    const { llm, exporter } = tracedChain(['a/m1', 'b/m2'], { a: a.url, b: b.url });
    const told: string[] = [];
    llm.on('fallback', (e) => told.push(e.from));
    const call = rejection(llm.chat({ model: 'mana/t', messages: USER }, { hedgeAfterMs: 10 }));
    await waitFor(() => told.includes('b/m2'), 'the hedge on b to fail');
    const between = performance.timeOrigin + performance.now();
    a.answer(500);
    expect(await call).toBeInstanceOf(NoHealthyProviderError);
    const { children } = tree(exporter.getFinishedSpans());
    const [first, hedge] = children as [ReadableSpan, ReadableSpan];
    expect([first.name, hedge.name]).toEqual(['attempt a/m1', 'attempt b/m2']);
    expect(ms(hedge.endTime)).toBeLessThanOrEqual(between);
    expect(ms(first.endTime)).toBeGreaterThan(between);
  });
});

describe('instrumentOpenTelemetry and an abort reason carrying an HTTP status', () => {
  it("error.type is still the reason's own name when it carries an HTTP status", async () => {
    const { llm, a, exporter } = await setup();
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.requests.length === 1, 'the upstream to get the request');
    ac.abort(Object.assign(new Error('client went away'), { name: 'ClientGone', httpStatus: 499 }));
    await rejection(call);
    expect(tree(exporter.getFinishedSpans()).root.attributes['error.type']).toBe('ClientGone');
  });

  it("a reason with both a code and an httpStatus (not a mana-llm error) is the caller's too: its own name", async () => {
    const { llm, a, exporter } = await setup();
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    await waitFor(() => a.requests.length === 1, 'the upstream to get the request');
    const reason = Object.assign(new Error('client went away'), {
      name: 'ClientGone',
      code: 'GONE',
      httpStatus: 499,
    });
    ac.abort(reason);
    expect(await rejection(call)).toBe(reason);
    expect(tree(exporter.getFinishedSpans()).root.attributes['error.type']).toBe('ClientGone');
  });
});

describe("instrumentOpenTelemetry and an upstream's error caused by a plain Error", () => {
  it("error.type is the error's class, not its cause's name: only the caller's abort is named by its reason", async () => {
    // A custom adapter's own non-retryable PROVIDER_RESPONSE error, caused by a plain Error (no code, no httpStatus).
    const bad = new ProviderError(
      'PROVIDER_RESPONSE',
      'garbled',
      { provider: 'custom', model: 'm', cause: new TypeError('inner') },
      502,
      false,
    );
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: false }),
      chat: () => Promise.reject(bad),
      stream: () => {
        throw bad;
      },
      embed: () => Promise.reject(bad),
      probe: async () => ({ ok: true }),
      models: async () => [],
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/c': { chain: ['custom/m'] } } },
        providers: { custom: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const { exporter } = traced(llm);
    expect(await rejection(llm.chat({ model: 'custom/m', messages: USER }))).toBe(bad);
    expect(tree(exporter.getFinishedSpans()).root.attributes['error.type']).toBe('ProviderError');
  });
});

describe('instrumentOpenTelemetry and a tracer that throws', () => {
  const boom = (): never => {
    throw new Error('tracer broke');
  };
  // Every method of the span throws; so does startSpan itself in the second tracer.
  const throwingSpan = new Proxy({}, { get: () => boom });
  const tracers: [string, Tracer][] = [
    ['startSpan throws', { startSpan: boom, startActiveSpan: boom } as unknown as Tracer],
    [
      'every span method throws',
      { startSpan: () => throwingSpan, startActiveSpan: boom } as unknown as Tracer,
    ],
  ];
  it.each(tracers)('%s: chats, streams and failures go on as without it', async (_what, tracer) => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'ollama' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    instrumentOpenTelemetry(h.llm, { tracer });
    const a = h.up.a!;
    a.enqueue({ status: 503 });
    const res = await h.llm.chat({ model: 'mana/x', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hello!');
    expect((await collect(h.llm.stream({ model: 'mana/x', messages: USER }))).length).toBeGreaterThan(0);
    a.enqueue({ status: 400 });
    expect(await rejection(h.llm.chat({ model: 'mana/x', messages: USER }))).toMatchObject({
      code: 'PROVIDER_HTTP',
    });
  });
});

describe('instrumentOpenTelemetry and API keys', () => {
  it('no span name, attribute, event or status carries the key, even when the upstream echoes it', async () => {
    const key = 'sk-DISTINCTIVE-otel-key-0123456789';
    const h = await harness({
      upstreams: { a: 'openai', b: 'anthropic' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      providers: { a: { apiKey: key }, b: { apiKey: key } },
      options: { fallbackOnAuthError: true },
    });
    const { exporter } = traced(h.llm);
    const echo = {
      status: 401,
      body: JSON.stringify({ error: { message: `Incorrect API key provided: ${key}` } }),
    };
    h.up.a!.setDefault(echo);
    h.up.b!.setDefault(echo);
    await rejection(h.llm.chat({ model: 'mana/x', messages: USER }));
    await rejection(h.llm.chat({ model: 'a/m1', messages: USER }));
    await rejection(collect(h.llm.stream({ model: 'mana/x', messages: USER })));
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThanOrEqual(5);
    const seen = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status, s.links]));
    expect(seen).toContain('401');
    // The upstream's message reaches the spans (status message, exception event), its key redacted.
    expect(seen).toContain('Incorrect API key provided');
    expect(seen).not.toContain('DISTINCTIVE');
  });
});

describe('instrumentOpenTelemetry and a hostile model string', () => {
  it('span names cut it to 200 characters with control characters replaced; attributes carry it whole', async () => {
    const { llm, exporter } = await setup();
    const model = `a/${'x'.repeat(300)}\n\u001b[31m\r\t"\\`;
    await llm.chat({ model, messages: USER });
    const spans = exporter.getFinishedSpans();
    const { root, children } = tree(spans);
    for (const s of [root, ...children]) {
      expect([...s.name].every((c) => c >= ' ' && c !== '\u007f')).toBe(true);
      expect(s.name.length).toBeLessThanOrEqual('attempt '.length + 203);
    }
    expect(root.name.startsWith(`chat a/${'x'.repeat(150)}`)).toBe(true);
    expect(root.attributes['gen_ai.request.model']).toBe(model);
  });
});
