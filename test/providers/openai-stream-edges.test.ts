import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, collect, USER } from '../helpers/client.js';
import { answeringWith } from '../helpers/raw-upstream.js';

// OpenAI-compatible stream edges, read through the public API over real local HTTP.

afterEach(closeAll);

const sse = (...frames: unknown[]) =>
  frames.map((f) => `data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`).join('');
const frame = (choices: unknown[]) => ({ id: 'c1', created: 1, model: 'x', choices });
const call = (name: string) => ({ index: 0, type: 'function', function: { name, arguments: '{}' } });

describe('OpenAI-compatible: n = 2, each choice calling a tool at index 0 without an id', () => {
  it("every choice's call gets an id, not only choice 0's", async () => {
    const llm = await answeringWith(
      'openai',
      sse(
        frame([{ index: 0, delta: { tool_calls: [call('a')] }, finish_reason: null }]),
        frame([{ index: 1, delta: { tool_calls: [call('b')] }, finish_reason: null }]),
        frame([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
        frame([{ index: 1, delta: {}, finish_reason: 'tool_calls' }]),
        '[DONE]',
      ),
      'text/event-stream',
    );
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    const calls = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    expect(calls.map((c) => c.function?.name)).toEqual(['a', 'b']);
    for (const c of calls) expect(c.id).toMatch(/^call_./);
    expect(calls[0]?.id).not.toBe(calls[1]?.id);
  });
});

describe('OpenAI-compatible: OpenRouter error frame after the finish reason, carrying the only usage', () => {
  const usage = { prompt_tokens: 43, completion_tokens: 10, total_tokens: 53 };
  const body = sse(
    frame([{ index: 0, delta: { content: 'Hi' }, finish_reason: 'length' }]),
    {
      ...frame([{ index: 0, delta: { content: '' }, finish_reason: null }]),
      error: { code: 400, message: 'Token limit reached' },
      usage,
    },
    '[DONE]',
  );

  it('the stream completes with the usage when the caller asked for it', async () => {
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(
      llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi');
    expect(chunks.at(-1)?.usage).toEqual(usage);
    expect(chunks.at(-1)?.choices).toEqual([]);
  });

  it('without include_usage no usage chunk is added', async () => {
    const llm = await answeringWith('openai', body, 'text/event-stream');
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
  });
});
