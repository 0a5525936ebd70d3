// AI SDK edges the main file never sent: text tool results, an assistant turn of tool calls only, a malformed
// model id, a skipped chain entry in providerMetadata.
import { generateText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaProvider } from '../src/ai-sdk/index.js';
import { InvalidRequestError } from '../src/index.js';
import { closeAll, harness } from './helpers/client.js';

afterEach(closeAll);

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai' },
    aliases: { 'mana/openai': ['a/m1'], 'mana/ghost': ['ghost/m', 'a/m1'] },
  });
  return { ...h, mana: createManaProvider(h.llm), a: h.up.a! };
}

describe('AI SDK provider edges', () => {
  it('sends text and error-text tool results as they are, and a turn of tool calls only with content null', async () => {
    const { mana, a } = await setup();
    await mana('mana/openai').doGenerate({
      prompt: [
        { role: 'user', content: [{ type: 'text', text: 'q' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool-call', toolCallId: 't1', toolName: 'f', input: '{}' },
            { type: 'tool-call', toolCallId: 't2', toolName: 'f', input: '{}' },
          ],
        },
        {
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              toolCallId: 't1',
              toolName: 'f',
              output: { type: 'text', value: 'sunny' },
            },
            {
              type: 'tool-result',
              toolCallId: 't2',
              toolName: 'f',
              output: { type: 'error-text', value: 'boom' },
            },
          ],
        },
      ],
    });
    const body = a.requests.at(-1)?.body as { messages: unknown[] };
    expect(body.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 't2', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 't1', content: 'sunny' },
      { role: 'tool', tool_call_id: 't2', content: 'boom' },
    ]);
  });

  it('a malformed model id throws the InvalidRequestError itself, not NoSuchModelError', async () => {
    const { mana } = await setup();
    expect(() => mana('ollama/')).toThrow(InvalidRequestError);
    expect(() => mana.embeddingModel('')).toThrow(InvalidRequestError);
  });

  it('lists a skipped chain entry in providerMetadata with its target and reason only', async () => {
    const { mana } = await setup();
    const res = await generateText({ model: mana('mana/ghost'), prompt: 'Hi' });
    expect(res.providerMetadata?.mana?.attempts).toEqual([
      { target: 'ghost/m', reason: 'unconfigured' },
      { target: 'a/m1', reason: 'ok', durationMs: 0 },
    ]);
  });
});
