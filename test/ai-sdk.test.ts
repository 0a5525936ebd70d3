import { getEventListeners } from 'node:events';
import {
  type LanguageModelV3Prompt,
  type LanguageModelV3ToolChoice,
  type LanguageModelV3ToolResultOutput,
  type LanguageModelV3ToolResultPart,
  UnsupportedFunctionalityError,
} from '@ai-sdk/provider';
import {
  APICallError,
  embed,
  embedMany,
  generateObject,
  generateText,
  jsonSchema,
  NoSuchModelError,
  stepCountIs,
  streamObject,
  streamText,
  tool,
} from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaProvider } from '../src/ai-sdk/index.js';
import { type ChatChunk, createManaLLM, type FinishReason, type ProviderAdapter } from '../src/index.js';
import type { MockProtocol } from '../src/testing/index.js';
import { closeAll, collect, harness, KEY, rejection, track, USER, waitFor } from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const PROTOCOLS: MockProtocol[] = ['openai', 'ollama', 'google', 'anthropic'];

/** One upstream per protocol (a: openai, b: ollama, c: google, d: anthropic) and an alias for each and for a chain. */
async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'ollama', c: 'google', d: 'anthropic' },
    aliases: {
      'mana/openai': ['a/m1'],
      'mana/ollama': ['b/m2'],
      'mana/google': ['c/m3'],
      'mana/anthropic': ['d/m4'],
      'mana/chain': ['a/m1', 'b/m2', 'c/m3', 'd/m4'],
      'mana/embed': ['a/e1', 'b/e2'],
    },
  });
  return { ...h, mana: createManaProvider(h.llm), a: h.up.a!, b: h.up.b!, c: h.up.c!, d: h.up.d! };
}

const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  }),
  execute: async ({ city }) => ({ city, sky: 'clear' }),
});

describe('mana-llm/ai-sdk with the real ai package', () => {
  it.each(PROTOCOLS)('generateText and streamText through an alias served by %s', async (protocol) => {
    const { mana } = await setup();
    const model = mana(`mana/${protocol}`);
    expect(model.specificationVersion).toBe('v3');
    const res = await generateText({ model, prompt: 'Hi', temperature: 0, maxOutputTokens: 20 });
    expect(res.text).toBe('Hello!');
    expect(res.finishReason).toBe('stop');
    expect(res.usage).toMatchObject({ inputTokens: 5, outputTokens: 7, totalTokens: 12 });
    expect(res.providerMetadata?.mana).toMatchObject({
      requested: `mana/${protocol}`,
      alias: `mana/${protocol}`,
    });
    const streamed = streamText({ model, prompt: 'Hi' });
    const pieces: string[] = [];
    for await (const t of streamed.textStream) pieces.push(t);
    expect(pieces.join('')).toBe('Hello!');
    expect(await streamed.finishReason).toBe('stop');
    expect((await streamed.usage).inputTokens).toBe(5);
  });

  it('a fallback mid-chain: the answer of the third entry, the routing record in providerMetadata.mana', async () => {
    const { mana, a, b, c } = await setup();
    a.enqueue({ status: 500 });
    b.enqueue({ reset: true });
    c.enqueue({ reply: 'from gemini' });
    const res = await generateText({ model: mana('mana/chain'), prompt: 'Hi' });
    expect(res.text).toBe('from gemini');
    expect(res.response.modelId).toBe('c/m3');
    expect(res.providerMetadata?.mana).toEqual({
      requested: 'mana/chain',
      alias: 'mana/chain',
      resolved: 'c/m3',
      attempts: [
        { target: 'a/m1', reason: 'http-error', status: 500, durationMs: 0, error: expect.any(String) },
        { target: 'b/m2', reason: 'connection', durationMs: 0, error: expect.any(String) },
        { target: 'c/m3', reason: 'ok', durationMs: 0 },
      ],
    });
    // A stream falls back the same way before its first chunk, and names its route at the end.
    a.enqueue({ status: 503 });
    const streamed = streamText({ model: mana('mana/chain'), prompt: 'Hi' });
    expect(await streamed.text).toBe('Hello!');
    expect((await streamed.providerMetadata)?.mana).toMatchObject({
      resolved: 'b/m2',
      attempts: [
        expect.objectContaining({ target: 'a/m1', status: 503 }),
        expect.objectContaining({ reason: 'ok' }),
      ],
    });
  });

  it.each(['openai', 'anthropic'] as const)(
    'a tool loop over two turns (%s), with toolChoice',
    async (protocol) => {
      const { mana, up } = await setup();
      const u = protocol === 'openai' ? up.a! : up.d!;
      u.enqueue({ toolCall: { id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' } });
      u.enqueue({ reply: 'Clear skies in Paris.' });
      const res = await generateText({
        model: mana(`mana/${protocol}`),
        prompt: 'Weather in Paris?',
        tools: { weather },
        toolChoice: 'auto',
        stopWhen: stepCountIs(3),
      });
      expect(res.steps).toHaveLength(2);
      expect(res.steps[0]?.finishReason).toBe('tool-calls');
      expect(res.steps[0]?.toolCalls.map((t) => [t.toolName, t.input])).toEqual([
        ['weather', { city: 'Paris' }],
      ]);
      expect(res.steps[0]?.toolResults.map((t) => t.output)).toEqual([{ city: 'Paris', sky: 'clear' }]);
      expect(res.text).toBe('Clear skies in Paris.');
      // The second turn sent the call and its result back in the provider's own format.
      const second = JSON.stringify(u.requests.at(-1)?.body);
      expect(second).toContain('Paris');
      expect(second).toContain('clear');
      // toolChoice reaches the upstream.
      u.enqueue({ toolCall: { name: 'weather', arguments: '{"city":"Rome"}' } });
      const forced = await generateText({
        model: mana(`mana/${protocol}`),
        prompt: 'Weather?',
        tools: { weather },
        toolChoice: { type: 'tool', toolName: 'weather' },
      });
      expect(forced.toolCalls[0]?.input).toEqual({ city: 'Rome' });
      expect((u.requests.at(-1)?.body as { tool_choice?: unknown } | undefined)?.tool_choice).toEqual(
        protocol === 'openai'
          ? { type: 'function', function: { name: 'weather' } }
          : { type: 'tool', name: 'weather' },
      );
    },
  );

  it('streamText runs the same tool loop over two turns', async () => {
    const { mana, a } = await setup();
    a.enqueue({ toolCall: { id: 'call_9', name: 'weather', arguments: '{"city":"Oslo"}' } });
    a.enqueue({ reply: 'Oslo is clear.' });
    const streamed = streamText({
      model: mana('mana/openai'),
      prompt: 'Weather in Oslo?',
      tools: { weather },
      stopWhen: stepCountIs(3),
    });
    const types = new Set<string>();
    for await (const part of streamed.fullStream) types.add(part.type);
    expect(await streamed.text).toBe('Oslo is clear.');
    expect([...types]).toEqual(
      expect.arrayContaining(['tool-input-start', 'tool-call', 'tool-result', 'text-delta']),
    );
    const steps = await streamed.steps;
    expect(steps[0]?.toolCalls[0]).toMatchObject({ toolCallId: 'call_9', input: { city: 'Oslo' } });
    const body = a.requests.at(-1)?.body as { messages: { role: string; tool_call_id?: string }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(body.messages[2]?.tool_call_id).toBe('call_9');
  });

  it.each(['openai', 'google'] as const)(
    'generateObject and streamObject send the JSON schema (%s)',
    async (p) => {
      const { mana, up } = await setup();
      const u = p === 'openai' ? up.a! : up.c!;
      const schema = jsonSchema<{ name: string; age: number }>({
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'number' } },
        required: ['name', 'age'],
        additionalProperties: false,
      });
      u.enqueue({ reply: '{"name":"Ada","age":36}' });
      const res = await generateObject({
        model: mana(`mana/${p}`),
        schema,
        schemaName: 'person',
        prompt: 'Ada?',
      });
      expect(res.object).toEqual({ name: 'Ada', age: 36 });
      const sent = JSON.stringify(u.requests.at(-1)?.body);
      expect(sent).toContain('"age"');
      if (p === 'openai') expect(sent).toContain('"json_schema"');
      u.enqueue({ reply: '{"name":"Grace","age":85}', chunks: 5 });
      const streamed = streamObject({ model: mana(`mana/${p}`), schema, prompt: 'Grace?' });
      const partials: unknown[] = [];
      for await (const part of streamed.partialObjectStream) partials.push(part);
      expect(await streamed.object).toEqual({ name: 'Grace', age: 85 });
      expect(partials.length).toBeGreaterThan(1);
    },
  );

  it('embed and embedMany through an alias that falls back', async () => {
    const { mana, a } = await setup();
    a.setDefault({ dimensions: 4 });
    const one = await embed({ model: mana.embeddingModel('mana/embed'), value: 'hello' });
    expect(one.embedding).toHaveLength(4);
    expect(one.usage.tokens).toBe(1);
    a.enqueue({ status: 500 });
    const many = await embedMany({ model: mana.textEmbeddingModel('mana/embed'), values: ['a', 'b', 'c'] });
    expect(many.embeddings).toHaveLength(3);
    expect(many.providerMetadata?.mana).toMatchObject({ resolved: 'b/e2' });
  });

  it('per-call headers an embedding cannot send are a warning, as for a chat, not dropped silently', async () => {
    const { mana, a } = await setup();
    a.setDefault({ dimensions: 4 });
    const model = mana.embeddingModel('mana/embed');
    const plain = await embed({ model, value: 'hello' });
    expect(plain.warnings).toEqual([]);
    const withHeaders = await embed({ model, value: 'hello', headers: { 'X-Tenant': 'a' } });
    expect(withHeaders.warnings).toEqual([
      expect.objectContaining({ type: 'unsupported', feature: 'headers' }),
    ]);
  });

  it("errors are the AI SDK's own: NoSuchModelError, APICallError with isRetryable and status", async () => {
    const { mana, llm, a, b, c, d } = await setup();
    expect(() => mana('mana/nope')).toThrow(NoSuchModelError);
    expect(() => mana.embeddingModel('mana/nope')).toThrow(NoSuchModelError);
    expect(() => mana.imageModel('x')).toThrow(NoSuchModelError);
    for (const u of [a, b, c, d]) u.enqueue({ status: 500 });
    const outage = await rejection(generateText({ model: mana('mana/chain'), prompt: 'Hi', maxRetries: 0 }));
    expect(APICallError.isInstance(outage)).toBe(true);
    expect(outage).toMatchObject({ isRetryable: true, statusCode: 503 });
    expect((outage as APICallError).cause).toMatchObject({ code: 'NO_HEALTHY_PROVIDER' });
    a.enqueue({ status: 400, body: '{"error":{"message":"bad"}}' });
    const before = a.count('chat');
    const mine = await rejection(generateText({ model: mana('mana/openai'), prompt: 'Hi' }));
    expect(mine).toMatchObject({ isRetryable: false, statusCode: 400 });
    expect((mine as APICallError).message).toBe(((mine as APICallError).cause as Error).message);
    // The request as sent and mana-llm's key-free error JSON ride along for logging.
    expect(mine).toMatchObject({
      requestBodyValues: { model: 'mana/openai' },
      data: { code: 'PROVIDER_HTTP' },
    });
    // Not retried by the AI SDK: one request.
    expect(a.count('chat')).toBe(before + 1);
    // A refused key: statusCode is the upstream's 401, not the error's httpStatus 502.
    a.enqueue({ status: 401, body: '{"error":{"message":"bad key"}}' });
    const auth = await rejection(generateText({ model: mana('mana/openai'), prompt: 'Hi', maxRetries: 0 }));
    expect(auth).toMatchObject({ isRetryable: false, statusCode: 401, data: { code: 'PROVIDER_AUTH' } });
    // A closed client: not retryable.
    await llm.close();
    const closed = await rejection(generateText({ model: mana('mana/openai'), prompt: 'Hi', maxRetries: 0 }));
    expect(closed).toMatchObject({ isRetryable: false, statusCode: 503 });
  });

  it('an abort signal ends generateText and a running streamText', async () => {
    const { mana, a } = await setup();
    a.enqueue({ hang: true });
    const ac = new AbortController();
    const pending = rejection(
      generateText({ model: mana('mana/openai'), prompt: 'Hi', abortSignal: ac.signal }),
    );
    await waitFor(() => a.count('chat') === 1, 'request at a');
    ac.abort();
    expect((await pending) as Error).toMatchObject({ name: 'AbortError' });
    a.enqueue({ streamThenStall: 2 });
    const ac2 = new AbortController();
    const streamed = streamText({ model: mana('mana/openai'), prompt: 'Hi', abortSignal: ac2.signal });
    const seen: string[] = [];
    for await (const part of streamed.fullStream) {
      seen.push(part.type);
      if (part.type === 'text-delta') ac2.abort();
    }
    expect(seen).toContain('text-delta');
    expect(seen.at(-1)).toBe('abort');
  });

  it('a long-lived abort signal shared by many streamText calls keeps nothing per call, and still aborts', async () => {
    const { mana, a } = await setup();
    const ac = new AbortController();
    // Node keeps every signal AbortSignal.any() made from this one in a set of its own that it never shrinks
    // (Node 20/22): the caller's signal grew by one entry per streamed call, a leak in a long-running server.
    const kept = () => {
      const key = Object.getOwnPropertySymbols(ac.signal).find((s) => s.description === 'kDependantSignals');
      return key ? ((ac.signal as unknown as Record<symbol, Set<unknown>>)[key]?.size ?? 0) : 0;
    };
    for (let i = 0; i < 50; i++) {
      const res = streamText({ model: mana('mana/openai'), prompt: 'Hi', abortSignal: ac.signal });
      expect(await res.text).toBe('Hello!');
    }
    expect(kept()).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    a.enqueue({ streamThenStall: 2 });
    const seen: string[] = [];
    for await (const part of streamText({ model: mana('mana/openai'), prompt: 'Hi', abortSignal: ac.signal })
      .fullStream) {
      seen.push(part.type);
      if (part.type === 'text-delta') ac.abort();
    }
    expect(seen.at(-1)).toBe('abort');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('doStream calls in flight on one shared abort signal add one listener to it, not one each', async () => {
    const { mana, a } = await setup();
    a.setDefault({ streamThenStall: 1 });
    const ac = new AbortController();
    const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Hi' }] }];
    // doStream directly: the AI SDK's streamText adds a listener of its own per call.
    const opened = await Promise.all(
      Array.from({ length: 16 }, () => mana('mana/openai').doStream({ prompt, abortSignal: ac.signal })),
    );
    // Past 10 listeners Node prints MaxListenersExceededWarning in every process.
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const ends = opened.map(({ stream }) => rejection(stream.pipeTo(new WritableStream())));
    ac.abort();
    for (const err of await Promise.all(ends)) expect(err).toMatchObject({ name: 'AbortError' });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('doStream with a signal that has already aborted rejects with its reason and sends nothing', async () => {
    const { mana, a } = await setup();
    const reason = new Error('gave up before the call');
    const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Hi' }] }];
    const err = await rejection(
      mana('mana/openai').doStream({ prompt, abortSignal: AbortSignal.abort(reason) }),
    );
    expect(err).toBe(reason);
    expect(a.requests.length).toBe(0);
  });

  it("a doStream that rejects leaves no listener on the caller's signal; embed follows its abort signal", async () => {
    const { mana, a } = await setup();
    const ac = new AbortController();
    a.enqueue({ status: 400, body: '{"error":{"message":"bad"}}' });
    const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Hi' }] }];
    const err = await rejection(mana('mana/openai').doStream({ prompt, abortSignal: ac.signal }));
    expect(err).toMatchObject({ statusCode: 400 });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    a.setDefault({ dimensions: 4 });
    const aborted = await rejection(
      embed({ model: mana.embeddingModel('mana/embed'), value: 'x', abortSignal: AbortSignal.abort() }),
    );
    expect(aborted).toMatchObject({ name: 'AbortError' });
    const wrong = await rejection(
      embed({
        model: mana.embeddingModel('mana/embed'),
        value: 'x',
        providerOptions: { mana: { timeoutMs: '5' } },
      }),
    );
    expect((wrong as APICallError).cause).toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('streamText through toUIMessageStreamResponse()', async () => {
    const { mana, a } = await setup();
    a.enqueue({ status: 502 });
    const response = streamText({ model: mana('mana/chain'), prompt: 'Hi' }).toUIMessageStreamResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const body = await response.text();
    const events = body
      .split('\n\n')
      .filter((f) => f.startsWith('data: ') && f !== 'data: [DONE]')
      .map((f) => JSON.parse(f.slice(6)) as { type: string; delta?: string });
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['start', 'text-start', 'text-delta', 'finish']),
    );
    expect(
      events
        .filter((e) => e.type === 'text-delta')
        .map((e) => e.delta)
        .join(''),
    ).toBe('Hello!');
    expect(body.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('reasoning and text, streamed and not, from an upstream that reports reasoning_content', async () => {
    const frame = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'r1', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const up = await rawUpstream((body, res) => {
      if (JSON.parse(body).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          frame({ role: 'assistant' }) +
            frame({ reasoning_content: 'think ' }) +
            frame({ reasoning_content: 'hard' }) +
            frame({ content: '42' }) +
            frame({}, 'stop') +
            'data: [DONE]\n\n',
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c2',
          object: 'chat.completion',
          created: 1,
          model: 'r1',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: '42', reasoning_content: 'think hard' },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 },
        }),
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/reasoning': { chain: ['r/r1'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const mana = createManaProvider(llm);
    const res = await generateText({ model: mana('mana/reasoning'), prompt: 'Q?' });
    expect(res.reasoningText).toBe('think hard');
    expect(res.text).toBe('42');
    const streamed = streamText({ model: mana('mana/reasoning'), prompt: 'Q?' });
    const parts: string[] = [];
    for await (const p of streamed.fullStream) parts.push(p.type);
    expect(await streamed.reasoningText).toBe('think hard');
    expect(await streamed.text).toBe('42');
    expect(parts.indexOf('reasoning-end')).toBeLessThan(parts.indexOf('text-start'));
  });

  it('cached or reasoning tokens an upstream reports beyond their total are not split off: no negative counts', async () => {
    const details = [
      { cached: 9, reasoning: 8 }, // more than the prompt's 5, the completion's 7
      { cached: 3, reasoning: -1 }, // a reasoning count that is not a count (the cached one is checked upstream)
      { cached: 3, reasoning: 1.5 },
    ];
    let n = 0;
    const up = await rawUpstream((_raw, res) => {
      const d = details[n++ % details.length];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          created: 1,
          model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: {
            prompt_tokens: 5,
            completion_tokens: 7,
            total_tokens: 12,
            prompt_tokens_details: { cached_tokens: d?.cached },
            completion_tokens_details: { reasoning_tokens: d?.reasoning },
          },
        }),
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['u/m'] } } },
        providers: { u: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const mana = createManaProvider(llm);
    for (const d of details) {
      const { usage } = await generateText({ model: mana('mana/x'), prompt: 'Q?' });
      expect(usage).toMatchObject({ inputTokens: 5, outputTokens: 7 });
      const cacheRead = d.cached > 5 ? undefined : d.cached;
      expect(usage.inputTokenDetails).toMatchObject({
        noCacheTokens: 5 - (cacheRead ?? 0),
        cacheReadTokens: cacheRead,
      });
      expect(usage.outputTokenDetails).toMatchObject({ textTokens: 7, reasoningTokens: undefined });
    }
  });

  it("a Gemini tool loop sends the model's thought signature back with its call on the next turn", async () => {
    const bodies: { contents: { parts: Record<string, unknown>[] }[] }[] = [];
    const gemini = await rawUpstream((raw, res) => {
      const body = JSON.parse(raw) as (typeof bodies)[number];
      bodies.push(body);
      const first = bodies.length === 1;
      const parts = first
        ? [{ functionCall: { name: 'weather', args: { city: 'Lima' } }, thoughtSignature: 'sig-123' }]
        : [{ text: 'Sunny in Lima.' }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
          usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
        }),
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/g': { chain: ['g/gemini-3'] } } },
        providers: { g: { type: 'google', baseUrl: gemini.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const res = await generateText({
      model: createManaProvider(llm)('mana/g'),
      prompt: 'Weather in Lima?',
      tools: { weather },
      stopWhen: stepCountIs(3),
    });
    expect(res.text).toBe('Sunny in Lima.');
    expect(res.steps[0]?.toolCalls[0]?.providerMetadata?.mana).toEqual({
      extraContent: { google: { thought_signature: 'sig-123' } },
    });
    const replayed = bodies[1]?.contents.flatMap((c) => c.parts).find((p) => 'functionCall' in p);
    expect(replayed).toMatchObject({ functionCall: { name: 'weather' }, thoughtSignature: 'sig-123' });
  });

  for (const later of [undefined, null]) {
    it(`a streamed tool call keeps the thought signature of its first delta when later deltas carry ${String(later)}`, async () => {
      const frame = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const signature = { google: { thought_signature: 'sig-9' } };
      const up = await rawUpstream((_body, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(
          frame({ role: 'assistant' }) +
            frame({
              tool_calls: [
                {
                  index: 0,
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'weather', arguments: '{"city":' },
                  extra_content: signature,
                },
              ],
            }) +
            frame({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' }, extra_content: later }] }) +
            frame({}, 'tool_calls') +
            'data: [DONE]\n\n',
        );
      });
      const llm = track(
        createManaLLM({
          aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
          providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
          health: { probes: false },
        }),
      );
      // llm.stream() hands the signature over on the delta that carried it.
      const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
      const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(deltas.map((t) => t.extra_content)).toEqual([signature, later]);
      const streamed = streamText({
        model: createManaProvider(llm)('mana/x'),
        prompt: 'Weather?',
        tools: { weather },
      });
      const calls = await streamed.toolCalls;
      expect(calls[0]?.input).toEqual({ city: 'Oslo' });
      expect(calls[0]?.providerMetadata?.mana).toEqual({ extraContent: signature });
    });
  }

  it('a stream interrupted in the middle of a tool call hands over no tool call, as if it were complete', async () => {
    const frame = (delta: object) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Arguments that happen to parse, then the upstream drops the connection: no finish reason, no [DONE].
      res.end(
        frame({ role: 'assistant' }) +
          frame({
            tool_calls: [
              {
                index: 0,
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":' },
              },
            ],
          }) +
          frame({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const mana = createManaProvider(llm);
    let executed = 0;
    const counted = tool({ ...weather, execute: async ({ city }) => ({ city, sky: String(++executed) }) });
    const streamed = streamText({ model: mana('mana/x'), prompt: 'Weather?', tools: { weather: counted } });
    const parts: string[] = [];
    let broke: unknown;
    for await (const p of streamed.fullStream) {
      parts.push(p.type);
      if (p.type === 'error') broke = p.error;
    }
    expect(parts).toContain('error');
    // The error part carries the AI SDK's own error, mana-llm's as its cause.
    expect(APICallError.isInstance(broke)).toBe(true);
    expect((broke as APICallError).cause).toMatchObject({ code: expect.any(String) });
    expect(parts).not.toContain('tool-call');
    expect(executed).toBe(0);
    expect(await streamed.finishReason).toBe('error');
  });

  it('cancelling the stream parts closes an upstream that has gone silent, not only after its next chunk', async () => {
    const up = await hangingUpstream({ chunks: 2 });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const { stream } = await createManaProvider(llm)('mana/x').doStream({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
    for await (const part of stream) if (part.type === 'text-delta') break;
    await waitFor(() => up.closedByClient === 1, 'the upstream connection closed', 1500);
  });

  it.each(['response-metadata', 'text-start', 'text-delta'] as const)(
    'cancelling the parts at %s, as the last chunks are already in, throws nothing unhandled',
    async (at) => {
      const frame = (delta: object, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 2, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const up = await rawUpstream((_body, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`${frame({ content: 'Hi' })}${frame({}, 'stop')}data: [DONE]\n\n`);
      });
      const llm = track(
        createManaLLM({
          aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
          providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
          health: { probes: false },
        }),
      );
      const unhandled: unknown[] = [];
      const onUnhandled = (r: unknown) => void unhandled.push(r);
      process.on('unhandledRejection', onUnhandled);
      try {
        const { stream } = await createManaProvider(llm)('mana/x').doStream({
          prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
        });
        const reader = stream.getReader();
        // The upstream's answer ended with its last chunk: the parts writer finishes as the consumer cancels.
        while ((await reader.read()).value?.type !== at);
        await reader.cancel();
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).toEqual([]);
    },
  );

  it('providerOptions.mana of the wrong type is an invalid request, not silently ignored', async () => {
    const { mana, a } = await setup();
    const before = a.count('chat');
    for (const mistake of [{ timeoutMs: '5000' }, { cache: 'yes' }]) {
      const err = await rejection(
        generateText({ model: mana('mana/openai'), prompt: 'Hi', providerOptions: { mana: mistake } }),
      );
      expect(err).toMatchObject({ isRetryable: false, statusCode: 400 });
      expect((err as APICallError).cause).toMatchObject({ code: 'INVALID_REQUEST' });
    }
    expect(a.count('chat')).toBe(before);
  });

  it("an upstream's unknown finish reason named like an Object method is 'other', not that method", async () => {
    const up = await rawUpstream((body, res) => {
      const stream = JSON.parse(body).stream === true;
      res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
      const choice = stream
        ? { index: 0, delta: { content: 'Hi' }, finish_reason: 'toString' }
        : { index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'constructor' };
      const reply = { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [choice] };
      res.end(stream ? `data: ${JSON.stringify(reply)}\n\ndata: [DONE]\n\n` : JSON.stringify(reply));
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/odd': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const mana = createManaProvider(llm);
    const res = await generateText({ model: mana('mana/odd'), prompt: 'Q?' });
    expect(res.text).toBe('Hi');
    expect(res.finishReason).toBe('other');
    const streamed = streamText({ model: mana('mana/odd'), prompt: 'Q?' });
    expect(await streamed.text).toBe('Hi');
    expect(await streamed.finishReason).toBe('other');
  });

  it("a prompt part's own providerOptions are not sent upstream as a field of the content part", async () => {
    const { mana, a } = await setup();
    await generateText({
      model: mana('mana/openai'),
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'text',
              text: 'What is this?',
              providerOptions: { anthropic: { cacheControl: { type: 'ephemeral' } } },
            },
            { type: 'image', image: new URL('https://example.com/a.png') },
          ],
        },
      ],
    });
    const body = a.requests.at(-1)?.body as { messages: { content: unknown }[] };
    expect(body.messages[0]?.content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
    ]);
  });

  it('doStream parts in order: blocks opened and closed, tool calls handed over whole at the end', async () => {
    const frame = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 2, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        frame({ role: 'assistant', reasoning_content: 'Think' }) +
          frame({ content: 'Hi' }) +
          frame({ reasoning_content: 'More' }) +
          frame({
            tool_calls: [{ index: 0, id: 'call_a', function: { name: 'weather', arguments: '{"city":' } }],
          }) +
          frame({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }) +
          frame({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'now', arguments: '' } }] }) +
          frame({}, 'tool_calls') +
          'data: [DONE]\n\n',
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const { stream } = await createManaProvider(llm)('mana/x').doStream({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      headers: { 'X-Tenant': 'a' },
    });
    const parts: unknown[] = [];
    for await (const part of stream) parts.push(part);
    expect(parts).toEqual([
      {
        type: 'stream-start',
        warnings: [expect.objectContaining({ type: 'unsupported', feature: 'headers' })],
      },
      { type: 'response-metadata', id: 'c1', modelId: 'r/m', timestamp: new Date(2000) },
      { type: 'reasoning-start', id: 'reasoning-0' },
      { type: 'reasoning-delta', id: 'reasoning-0', delta: 'Think' },
      { type: 'reasoning-end', id: 'reasoning-0' },
      { type: 'text-start', id: 'text-1' },
      { type: 'text-delta', id: 'text-1', delta: 'Hi' },
      { type: 'text-end', id: 'text-1' },
      { type: 'reasoning-start', id: 'reasoning-2' },
      { type: 'reasoning-delta', id: 'reasoning-2', delta: 'More' },
      { type: 'tool-input-start', id: 'call_a', toolName: 'weather' },
      { type: 'tool-input-delta', id: 'call_a', delta: '{"city":' },
      { type: 'tool-input-delta', id: 'call_a', delta: '"Oslo"}' },
      { type: 'tool-input-start', id: 'call_b', toolName: 'now' },
      { type: 'reasoning-end', id: 'reasoning-2' },
      { type: 'tool-input-end', id: 'call_a' },
      { type: 'tool-call', toolCallId: 'call_a', toolName: 'weather', input: '{"city":"Oslo"}' },
      { type: 'tool-input-end', id: 'call_b' },
      // No arguments at all: an empty object, which the tool's schema can parse.
      { type: 'tool-call', toolCallId: 'call_b', toolName: 'now', input: '{}' },
      expect.objectContaining({ type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' } }),
    ]);
  });

  it("the response's id and the request as sent, for a generated and a streamed answer", async () => {
    const { mana } = await setup();
    const model = mana('mana/openai');
    const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Hi' }] }];
    const res = await model.doGenerate({ prompt, maxOutputTokens: 9 });
    expect(res.response?.id).toBe('chatcmpl-mock');
    expect(res.request?.body).toMatchObject({ model: 'mana/openai', max_tokens: 9 });
    const streamed = await model.doStream({ prompt, maxOutputTokens: 9 });
    expect(streamed.request?.body).toMatchObject({
      model: 'mana/openai',
      max_tokens: 9,
      stream_options: { include_usage: true },
    });
    for await (const _ of streamed.stream);
  });

  it('a plain answer is one text part: no empty reasoning part beside it', async () => {
    const { mana } = await setup();
    const res = await mana('mana/openai').doGenerate({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
    expect(res.content).toEqual([{ type: 'text', text: 'Hello!' }]);
  });

  it('a finish reason and usage are kept when later chunks say null or carry none', async () => {
    const frame = (choices: object[], more: object = {}) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices, ...more })}\n\n`;
    const up = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        frame([{ index: 0, delta: { content: 'Hi' }, finish_reason: 'length' }]) +
          frame([{ index: 0, delta: {}, finish_reason: null }], {
            usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 },
          }) +
          frame([{ index: 0, delta: { content: '' }, finish_reason: null }]) +
          'data: [DONE]\n\n',
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const streamed = streamText({ model: createManaProvider(llm)('mana/x'), prompt: 'Hi' });
    expect(await streamed.text).toBe('Hi');
    expect(await streamed.finishReason).toBe('length');
    expect((await streamed.usage).inputTokens).toBe(2);
  });

  it('a custom adapter\'s streamed tool calls without ids (or with "") get ids unique across turns', async () => {
    const chunk = (delta: object, finish: FinishReason | null = null): ChatChunk => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'mine/m',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const mine: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      async *stream() {
        yield chunk({ tool_calls: [{ index: 0, id: '', function: { name: 'a', arguments: '{}' } }] });
        yield chunk({ tool_calls: [{ index: 1, function: { name: 'b', arguments: '{}' } }] });
        yield chunk({}, 'tool_calls');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter: mine } },
        health: { probes: false },
      }),
    );
    const ids: string[] = [];
    // Two turns of a tool loop: the next turn's calls must not reuse the ids of the first's (the next prompt
    // carries both, and the tool results are matched to their calls by id).
    for (const _turn of [1, 2]) {
      const { stream } = await createManaProvider(llm)('mana/x').doStream({
        prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      });
      for await (const part of stream) if (part.type === 'tool-call') ids.push(part.toolCallId);
    }
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(ids.every((id) => id !== '')).toBe(true);
  });

  it("an OpenAI refusal is the answer's text, not an empty success", async () => {
    const refusal = "I'm sorry, I can't help with that.";
    const up = await rawUpstream((body, res) => {
      const stream = JSON.parse(body).stream === true;
      res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
      if (!stream) {
        const message = { role: 'assistant', content: null, refusal };
        const choice = { index: 0, message, finish_reason: 'stop' };
        return res.end(
          JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [choice] }),
        );
      }
      const frame = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.end(
        frame({ role: 'assistant', content: null, refusal: "I'm sorry, " }, null) +
          frame({ refusal: "I can't help with that." }, null) +
          frame({}, 'stop') +
          'data: [DONE]\n\n',
      );
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/r': { chain: ['r/m'] } } },
        providers: { r: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const mana = createManaProvider(llm);
    const generated = await generateText({ model: mana('mana/r'), prompt: 'Q?' });
    expect(generated.text).toBe(refusal);
    // `created` is in seconds: the response's timestamp is 1000 ms after the epoch.
    expect(generated.response.timestamp).toEqual(new Date(1000));
    expect(await streamText({ model: mana('mana/r'), prompt: 'Q?' }).text).toBe(refusal);
  });
});

describe('a cached answer through the AI SDK', () => {
  it('says so in providerMetadata.mana.cached', async () => {
    const h = await harness({
      upstreams: { a: 'openai' },
      aliases: { 'mana/c': { chain: ['a/m1'], cache: true } },
      options: { cache: { store: 'memory', ttlMs: 60_000 } },
    });
    const mana = createManaProvider(h.llm);
    const first = await generateText({ model: mana('mana/c'), prompt: 'Hi' });
    expect(first.providerMetadata?.mana?.cached).toBeUndefined();
    const second = await generateText({ model: mana('mana/c'), prompt: 'Hi' });
    expect(second.providerMetadata?.mana).toMatchObject({ cached: true, resolved: 'a/m1' });
    expect(second.text).toBe(first.text);
    expect(h.up.a?.count('chat')).toBe(1);
  });
});

describe('AI SDK JSON output', () => {
  it('a schema without a name goes out as json_schema named "response"', async () => {
    const { mana, a } = await setup();
    a.enqueue({ reply: '{"city":"Paris"}' });
    const schema = jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    });
    const res = await generateObject({ model: mana('mana/openai'), prompt: 'City?', schema });
    expect(res.object).toEqual({ city: 'Paris' });
    const body = a.requests.at(-1)?.body as { response_format?: { json_schema?: { name?: unknown } } };
    expect(body.response_format?.json_schema?.name).toBe('response');
  });

  it('no stop sequences (an empty list) sends no stop', async () => {
    const { mana, a } = await setup();
    await generateText({ model: mana('mana/openai'), prompt: 'Hi', stopSequences: [] });
    expect(a.requests.at(-1)?.body).not.toHaveProperty('stop');
  });
});

describe('every AI SDK prompt part and call option, as the upstream receives it', () => {
  it('texts joined, tool calls and results in every form, what is not sent skipped', async () => {
    const { mana, a } = await setup();
    const model = mana('mana/openai');
    const call = (name: string, input: unknown, more: object = {}) => ({
      type: 'tool-call' as const,
      toolCallId: name,
      toolName: 'f',
      input,
      ...more,
    });
    const result = (id: string, output: LanguageModelV3ToolResultOutput): LanguageModelV3ToolResultPart => ({
      type: 'tool-result',
      toolCallId: id,
      toolName: 'f',
      output,
    });
    await model.doGenerate({
      prompt: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'c' },
            { type: 'text', text: 'd' },
            call('t1', '{"x":1}', { providerOptions: { mana: { extraContent: 'not an object' } } }),
            call('t2', undefined),
            call('t3', { y: 2 }, { providerExecuted: true }),
          ],
        },
        {
          role: 'tool',
          content: [
            { type: 'tool-approval-response', approvalId: 'p', approved: true },
            result('t1', { type: 'error-json', value: { e: 1 } }),
            result('t2', { type: 'execution-denied', reason: 'no' }),
          ],
        },
      ],
      frequencyPenalty: 0.1,
      presencePenalty: 0.2,
      responseFormat: { type: 'json', schema: { type: 'object' }, name: 'n', description: 'D' },
      tools: [
        { type: 'function', name: 'f', description: 'F', inputSchema: { type: 'object' }, strict: true },
      ],
      headers: { 'User-Agent': 'mine' },
    });
    const body = a.requests.at(-1)?.body as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: 'user', content: 'ab' },
      {
        role: 'assistant',
        content: 'cd',
        tool_calls: [
          { id: 't1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
          { id: 't2', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 't1', content: '{"e":1}' },
      { role: 'tool', tool_call_id: 't2', content: 'no' },
    ]);
    expect(body).toMatchObject({
      frequency_penalty: 0.1,
      presence_penalty: 0.2,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'n', description: 'D', schema: { type: 'object' } },
      },
      tools: [
        {
          type: 'function',
          function: { name: 'f', description: 'F', parameters: { type: 'object' }, strict: true },
        },
      ],
    });
    // The user agent in any case is not worth a warning.
    const again = await model.doGenerate({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }],
      headers: { 'User-Agent': 'mine' },
    });
    expect(again.warnings).toEqual([]);
  });

  it('files in an assistant message and media tool results are refused before any request', async () => {
    const { mana, a } = await setup();
    const model = mana('mana/openai');
    const before = a.count('chat');
    const file = { type: 'file', mediaType: 'image/png', data: 'AQID' } as const;
    await expect(model.doGenerate({ prompt: [{ role: 'assistant', content: [file] }] })).rejects.toThrow(
      UnsupportedFunctionalityError,
    );
    const media: LanguageModelV3ToolResultPart = {
      type: 'tool-result',
      toolCallId: 't',
      toolName: 'f',
      output: { type: 'content', value: [{ type: 'image-data', data: 'AQID', mediaType: 'image/png' }] },
    };
    await expect(model.doGenerate({ prompt: [{ role: 'tool', content: [media] }] })).rejects.toThrow(
      UnsupportedFunctionalityError,
    );
    expect(a.count('chat')).toBe(before);
  });

  it('sampling options, JSON without a schema and every tool choice, as the upstream receives them', async () => {
    const { mana, a } = await setup();
    const model = mana('mana/openai');
    const prompt: LanguageModelV3Prompt = [
      { role: 'system', content: 'S' },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
    ];
    const f = { type: 'function' as const, name: 'f', inputSchema: { type: 'object' } };
    const search = {
      type: 'provider' as const,
      id: 'openai.web_search' as const,
      name: 'web_search',
      args: {},
    };
    const res = await model.doGenerate({
      prompt,
      temperature: 0.3,
      topP: 0.9,
      topK: 5,
      seed: 7,
      stopSequences: ['X'],
      responseFormat: { type: 'json' },
      tools: [f, search],
      toolChoice: { type: 'required' },
    });
    const body = () => a.requests.at(-1)?.body as Record<string, unknown>;
    expect(body()).toMatchObject({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Hi' },
      ],
      temperature: 0.3,
      top_p: 0.9,
      seed: 7,
      stop: ['X'],
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
    });
    expect((body().tools as unknown[]).length).toBe(1);
    expect(res.warnings).toEqual([
      { type: 'unsupported', feature: 'topK' },
      { type: 'unsupported', feature: 'provider-defined tool openai.web_search' },
    ]);
    const choices: [LanguageModelV3ToolChoice, unknown][] = [
      [{ type: 'none' }, 'none'],
      [{ type: 'auto' }, 'auto'],
      [
        { type: 'tool', toolName: 'f' },
        { type: 'function', function: { name: 'f' } },
      ],
    ];
    for (const [toolChoice, sent] of choices) {
      await model.doGenerate({ prompt, tools: [f], toolChoice });
      expect(body().tool_choice).toEqual(sent);
    }
    // Only provider-defined tools: neither tools nor a choice among them goes out.
    await model.doGenerate({ prompt, tools: [search], toolChoice: { type: 'required' } });
    expect(body()).not.toHaveProperty('tools');
    expect(body()).not.toHaveProperty('tool_choice');
  });

  it('an http image URL goes to mana-llm as it is: the AI SDK does not download it first', async () => {
    const { mana, a } = await setup();
    const image = await rawUpstream((_body, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([1, 2, 3]));
    });
    const url = `${image.url}/cat.png`;
    const res = await generateText({
      model: mana('mana/openai'),
      messages: [{ role: 'user', content: [{ type: 'image', image: new URL(url), mediaType: 'image/png' }] }],
    });
    expect(res.text).toBe('Hello!');
    expect(image.received).toBe(0);
    expect(a.requests.at(-1)?.body).toMatchObject({
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
    });
  });

  it("embedMany's vectors in input order when an adapter answers out of order; usage is the prompt tokens", async () => {
    const mine: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => Promise.reject(new Error('unused')) as never,
      embed: async (req) => ({
        object: 'list',
        data: req.input.map((_, i) => ({ object: 'embedding' as const, index: i, embedding: [i] })).reverse(),
        model: req.model,
        usage: { prompt_tokens: 3, total_tokens: 5 },
      }),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/e': { chain: ['mine/e'] } } },
        providers: { mine: { type: 'custom', adapter: mine } },
        health: { probes: false },
      }),
    );
    const res = await embedMany({
      model: createManaProvider(llm).embeddingModel('mana/e'),
      values: ['a', 'b', 'c'],
    });
    expect(res.embeddings).toEqual([[0], [1], [2]]);
    expect(res.usage.tokens).toBe(3);
  });
});
