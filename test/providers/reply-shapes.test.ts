import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, ProviderResponseError } from '../../src/index.js';
import { closeAll, rejection, USER } from '../helpers/client.js';
import { answeringWith } from '../helpers/raw-upstream.js';

// Replies of a shape no provider documents, read through the public API over real local HTTP: each is a
// ProviderResponseError naming what was wrong, never a TypeError from deep inside a mapper.

afterEach(closeAll);

const json = 'application/json';

async function responseError(
  type: 'openai' | 'anthropic' | 'google' | 'ollama',
  body: string,
): Promise<Error> {
  const llm = await answeringWith(type, body, json);
  const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
  const cause = err instanceof NoHealthyProviderError ? err.cause : err;
  expect(cause).toBeInstanceOf(ProviderResponseError);
  return cause as Error;
}

describe('a JSON reply that is not an object', () => {
  it.each([
    ['anthropic', 'reply is not an object'],
    ['google', 'reply is not a JSON object'],
    ['ollama', 'reply is not a JSON object'],
  ] as const)('%s: a ProviderResponseError (%s)', async (type, message) => {
    expect((await responseError(type, '[1, 2]')).message).toContain(message);
  });
});

describe('Anthropic: a tool_use block without its name', () => {
  it('is a ProviderResponseError, not a tool call named undefined', async () => {
    const reply = {
      id: 'msg_1',
      type: 'message',
      content: [{ type: 'tool_use', id: 'toolu_1', input: {} }],
      stop_reason: 'tool_use',
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    expect((await responseError('anthropic', JSON.stringify(reply))).message).toContain(
      'tool_use block without id or name',
    );
  });
});

describe('Mistral content parts of other shapes', () => {
  it('a thinking string is reasoning; parts of other types and non-string texts are left out', async () => {
    const body = JSON.stringify({
      id: 'x',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Hmm. ' },
              { type: 'thinking', thinking: 5 },
              {
                type: 'thinking',
                thinking: [
                  { type: 'text', text: 7 },
                  { type: 'text', text: 'Yes.' },
                ],
              },
              null,
              { type: 'image_url', image_url: { url: 'data:,' } },
              { type: 'text', text: 7 },
              { type: 'text', text: 'Four.' },
            ],
          },
          finish_reason: 'stop',
        },
      ],
    });
    const llm = await answeringWith('openai', body, json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Four.',
      reasoning_content: 'Hmm. Yes.',
    });
  });
});

describe('a reply nested deeper than the JSON reader can walk', () => {
  it('is a ProviderResponseError (its cause the RangeError), not a crash', async () => {
    // An escape makes the reply be read with a reviver (to drop `__proto__` keys), which recurses per level.
    const depth = 200_000;
    const body = `${'['.repeat(depth)}"\\u0041"${']'.repeat(depth)}`;
    const err = await responseError('openai', body);
    expect(err.message).toContain('unparseable JSON reply');
    expect(err.cause).toBeInstanceOf(RangeError);
  });
});

describe('Gemini: a candidate missing a part of its shape', () => {
  it('without content: an empty answer with its finish reason', async () => {
    const reply = { candidates: [{ finishReason: 'STOP' }] };
    const llm = await answeringWith('google', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('');
    expect(res.choices[0]?.finish_reason).toBe('stop');
  });

  it('without a finish reason: the answer with finish_reason null', async () => {
    const reply = { candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] } }] };
    const llm = await answeringWith('google', JSON.stringify(reply), json);
    const res = await llm.chat({ model: 'a/m', messages: USER });
    expect(res.choices[0]?.message.content).toBe('Hi');
    expect(res.choices[0]?.finish_reason).toBeNull();
  });
});

describe('Ollama: a tool call that is not an object', () => {
  it('is a ProviderResponseError, as a call without a function name is', async () => {
    const reply = { model: 'm', message: { role: 'assistant', content: '', tool_calls: [5] }, done: true };
    expect((await responseError('ollama', JSON.stringify(reply))).message).toContain(
      'tool call without a function name',
    );
  });
});

describe('Ollama: a model list reply that is not an object', () => {
  it("is that provider's error in models(), not a crash", async () => {
    const llm = await answeringWith('ollama', '[1, 2]', json);
    const list = await llm.models();
    expect(list.errors).toEqual([
      { provider: 'a', error: expect.stringContaining('model list is not a list') },
    ]);
  });
});
