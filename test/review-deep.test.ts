import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { generateText, streamText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaProvider } from '../src/ai-sdk/index.js';
import { type ChatMessage, type NoHealthyProviderError, ProviderResponseError } from '../src/index.js';
import { instrumentOpenTelemetry } from '../src/otel/index.js';
import { closeAll, harness, KEY, rejection, waitFor } from './helpers/client.js';
import { serveHttp } from './helpers/http.js';
import { answeringWith, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

// 10,000 levels: a few tens of KB, well within the reply bound; JSON.parse reads it, JSON.stringify throws a RangeError.
const DEEP = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
const USER: ChatMessage[] = [{ role: 'user', content: 'Hi' }];

/** A client whose provider `a` (OpenAI-compatible) answers every request 200 with `body` as `contentType`. */
async function openaiAnswering(body: string, contentType = 'application/json') {
  const raw = await rawUpstream(
    (_, res) => void res.writeHead(200, { 'content-type': contentType }).end(body),
  );
  const h = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
  });
  return h.llm;
}

describe('mana-llm/http: an upstream reply passing on a field nested deeper than JSON.stringify can walk', () => {
  it('a chat answer is an OpenAI-style error answer, not a reset connection', async () => {
    const llm = await openaiAnswering(
      `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"x":${DEEP}}`,
    );
    const served = await serveHttp(llm);
    const res = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a/m', messages: USER }),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'internal_error' } });
  });

  it('a stream chunk: an error frame, then [DONE]', async () => {
    const llm = await openaiAnswering(
      `data: {"choices":[{"index":0,"delta":{"content":"hi"},"x":${DEEP}}]}\n\ndata: [DONE]\n\n`,
      'text/event-stream',
    );
    const served = await serveHttp(llm);
    const res = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a/m', messages: USER, stream: true }),
    });
    expect(res.status).toBe(200);
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(frames.at(-2)!.slice(6))).toMatchObject({ error: { code: 'internal_error' } });
  });
});

describe('AI SDK bridge: usage passing on a field nested deeper than JSON.stringify can walk', () => {
  it('generateText still answers', async () => {
    const llm = await openaiAnswering(
      `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"x":${DEEP}}}`,
    );
    const { text, usage } = await generateText({ model: createManaProvider(llm)('a/m'), prompt: 'Hi' });
    expect(text).toBe('hi');
    expect(usage.inputTokens).toBe(1);
  });

  it('streamText still answers', async () => {
    const llm = await openaiAnswering(
      `data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"x":${DEEP}}}\n\ndata: [DONE]\n\n`,
      'text/event-stream',
    );
    const r = streamText({ model: createManaProvider(llm)('a/m'), prompt: 'Hi' });
    expect(await r.text).toBe('hi');
    expect((await r.usage).inputTokens).toBe(1);
  });
});

describe('tool call arguments nested deeper than JSON.stringify can walk', () => {
  it.each([
    [
      'openai',
      `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":${DEEP}}}]},"finish_reason":"tool_calls"}]}`,
      '/v1/chat/completions: malformed tool call',
    ],
    [
      'anthropic',
      `{"type":"message","role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":${DEEP}}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}`,
      'tool call arguments nested too deep to write as JSON',
    ],
  ] as const)('%s: a malformed reply that says so, charged to the provider', async (type, body, says) => {
    const llm = await answeringWith(type, body, 'application/json');
    const err = (await rejection(llm.chat({ model: 'a/m', messages: USER }))) as NoHealthyProviderError;
    expect(err.attempts[0]?.reason).toBe('bad-response');
    expect(err.cause).toBeInstanceOf(ProviderResponseError);
    expect((err.cause as Error).message).toContain(says);
  });
});

describe("a direct model's control characters and the caller's abort reason stay out of traces and events", () => {
  it('span names are cleaned (attributes keep the model whole, as events do)', async () => {
    const h = await harness({ upstreams: { a: 'openai' } });
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    instrumentOpenTelemetry(h.llm, { tracer: provider.getTracer('test') });
    const model = 'a/m1\u202e\nforged: line';
    await h.llm.chat({ model, messages: USER });
    const names = exporter.getFinishedSpans().map((s) => s.name);
    expect(names.sort()).toEqual(['attempt a/m1 forged: line', 'chat a/m1 forged: line']);
  });

  it("the failure event's message for a caller's abort reason is cleaned", async () => {
    const raw = await rawUpstream(() => {});
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    });
    const messages: string[] = [];
    h.llm.on('failure', (e) => messages.push(e.error.message));
    const ac = new AbortController();
    const call = h.llm.chat({ model: 'a/m', messages: USER }, { signal: ac.signal });
    await waitFor(() => raw.received === 1, 'request');
    ac.abort(`stop\n\u202eforged ${KEY}`);
    await rejection(call);
    expect(messages).toHaveLength(1);
    expect(messages[0]).not.toMatch(/[\n\u202e]/);
    expect(messages[0]).not.toContain(KEY);
  });
});
