import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, collect, USER } from './helpers/client.js';
import { answeringWith } from './helpers/raw-upstream.js';

// Upstream fields of the wrong type or value (a gateway's or a server's bug), read through the public API over real
// local HTTP: each adapter reads them by the same rule.

afterEach(closeAll);

const json = 'application/json';
const sseOf = (...frames: object[]) => frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('');

/** Gemini and Anthropic replies (whole and streamed) calling `weather` with `args` as they send them. */
function toolReplies(args: unknown) {
  const gemini = {
    candidates: [
      {
        content: { role: 'model', parts: [{ functionCall: { name: 'weather', args } }] },
        finishReason: 'STOP',
      },
    ],
  };
  const claude = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: args }],
    stop_reason: 'tool_use',
    usage: { input_tokens: 1, output_tokens: 1 },
  };
  return { gemini, claude };
}

describe('tool-call arguments sent as a text or a non-object value', () => {
  // The OpenAI-compatible adapter's rule (client-wire-quirks.test.ts): a string is the arguments' text, any other
  // value its JSON text; Ollama's adapter reads its calls the same way.
  it.each([
    ['a JSON text', '{"city":"Paris"}', '{"city":"Paris"}'],
    ['a text that is not JSON', 'Paris', 'Paris'],
    ['a number', 5, '5'],
    ['a list', [1, 2], '[1,2]'],
    ['null', null, '{}'],
  ])('%s reaches the caller as Ollama and OpenAI-compatible ones do', async (_, args, text) => {
    const { gemini, claude } = toolReplies(args);
    const ollama = {
      model: 'm',
      created_at: '2026-01-01T00:00:00Z',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'weather', arguments: args } }],
      },
      done: true,
      done_reason: 'stop',
    };
    for (const [type, body] of [
      ['google', gemini],
      ['anthropic', claude],
      ['ollama', ollama],
    ] as const) {
      const llm = await answeringWith(type, JSON.stringify(body), json);
      const res = await llm.chat({ model: 'a/m', messages: USER });
      expect([type, res.choices[0]?.message.tool_calls?.[0]?.function.arguments]).toEqual([type, text]);
    }
    const streamed = await answeringWith('google', sseOf(gemini), 'text/event-stream');
    const chunks = await collect(streamed.stream({ model: 'a/m', messages: USER }));
    expect(
      chunks.find((c) => c.choices[0]?.delta.tool_calls)?.choices[0]?.delta.tool_calls?.[0]?.function
        ?.arguments,
    ).toBe(text);
  });
});
