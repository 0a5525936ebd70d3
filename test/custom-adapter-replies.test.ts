import { afterEach, describe, expect, it } from 'vitest';
import type { Capabilities, ChatCompletion, Embeddings, ProviderAdapter } from '../src/index.js';
import { closeAll, harness, USER } from './helpers/client.js';

afterEach(closeAll);

const ALL: Capabilities = { tools: true, vision: true, jsonSchema: true, embeddings: true };

/** A custom adapter answering `chat` and `embed` with the given values; every other method is inert. */
function adapter(chat: unknown, embed?: unknown): ProviderAdapter {
  return {
    capabilities: () => ALL,
    chat: async () => structuredClone(chat) as ChatCompletion,
    stream: () => {
      throw new Error('unused');
    },
    embed: async () => structuredClone(embed) as Embeddings,
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
}

const answer = (choices: unknown, more: Record<string, unknown> = {}) => ({
  id: 'x',
  object: 'chat.completion',
  created: 1,
  model: 'mine/m',
  choices,
  ...more,
});
const good = { index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' };

async function setup(mine: ProviderAdapter) {
  const h = await harness({
    upstreams: { b: 'openai' },
    providers: { mine: { type: 'custom', adapter: mine } },
    aliases: { 'mana/x': ['mine/m', 'b/m'] },
  });
  h.up.b?.setDefault({ reply: 'from b' });
  return h;
}

describe("a custom adapter's chat answer without object: 'chat.completion'", () => {
  it("reports its completion tokens in the response event's usage", async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };
    const { object: _, ...noObject } = answer([good], { usage });
    const { llm, events } = await setup(adapter(noObject));
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(events.of('response')[0]?.usage).toEqual(usage);
  });
});
