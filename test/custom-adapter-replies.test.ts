import { afterEach, describe, expect, it } from 'vitest';
import {
  type Capabilities,
  type ChatCompletion,
  type Embeddings,
  type ProviderAdapter,
  ProviderHTTPError,
  StreamInterruptedError,
} from '../src/index.js';
import { closeAll, harness, rejection, USER } from './helpers/client.js';

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

describe("a custom adapter's chat answer whose choices callers cannot take", () => {
  const bad: [string, unknown][] = [
    ['a null choice', [null]],
    ['a choice without a message', [{ index: 0, finish_reason: 'stop' }]],
    ['a message that is a text', [{ index: 0, message: 'hi', finish_reason: 'stop' }]],
    [
      'content that is a number',
      [{ index: 0, message: { role: 'assistant', content: 5 }, finish_reason: 'stop' }],
    ],
    [
      'a tool call that is a number',
      [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [5] },
          finish_reason: 'tool_calls',
        },
      ],
    ],
    ['no choice at all', []],
  ];
  for (const [what, choices] of bad) {
    it(`${what}: is a malformed reply, the next entry serves, the provider counts it`, async () => {
      const { llm } = await setup(adapter(answer(choices)));
      const res = await llm.chat({ model: 'mana/x', messages: USER });
      expect(res.routing.resolved).toBe('b/m');
      expect(res.choices[0]?.message.content).toBe('from b');
      expect(res.routing.attempts[0]?.reason).toBe('bad-response');
      expect(llm.health().providers.mine?.consecutiveFailures).toBe(1);
    });
  }

  it('a good answer is served', async () => {
    const { llm } = await setup(adapter(answer([good])));
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.resolved).toBe('mine/m');
    expect(res.choices[0]?.message.content).toBe('hi');
  });
});

describe("a custom adapter's chat answer whose usage holds no counts", () => {
  for (const usage of [
    { prompt_tokens: 'lots', completion_tokens: 1, total_tokens: 2 },
    { prompt_tokens: -1, completion_tokens: 1, total_tokens: 0 },
  ]) {
    it(`is read as reporting none (${JSON.stringify(usage.prompt_tokens)}), in the answer and the response event`, async () => {
      const { llm, events } = await setup(adapter(answer([good], { usage })));
      const res = await llm.chat({ model: 'mana/x', messages: USER });
      expect(res.routing.resolved).toBe('mine/m');
      expect(res.usage).toBeUndefined();
      expect(events.of('response')[0]?.usage).toBeUndefined();
    });
  }
});

describe("a custom adapter's chat answer without object: 'chat.completion'", () => {
  it("reports its completion tokens in the response event's usage", async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };
    const { object: _, ...noObject } = answer([good], { usage });
    const { llm, events } = await setup(adapter(noObject));
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(events.of('response')[0]?.usage).toEqual(usage);
  });
});

describe("a custom adapter's embeddings whose vectors or indexes are malformed", () => {
  const item = (index: unknown, embedding: unknown) => ({ object: 'embedding', index, embedding });
  const bad: [string, unknown[]][] = [
    ['a text in a vector', [item(0, [1, 'two']), item(1, [3, 4])]],
    ['NaN in a vector', [item(0, [1, Number.NaN]), item(1, [3, 4])]],
    ['a repeated index', [item(0, [1, 2]), item(0, [3, 4])]],
    ['an index out of range', [item(0, [1, 2]), item(5, [3, 4])]],
    ['an index that is a text', [item('1', [1, 2]), item('0', [3, 4])]],
    ['an index one past the last input', [item(0, [1, 2]), item(2, [3, 4])]],
    ['three vectors for two inputs', [item(0, [1, 2]), item(1, [3, 4]), item(2, [5, 6])]],
    ['one vector for two inputs', [item(0, [1, 2])]],
  ];
  for (const [what, data] of bad) {
    it(`${what}: is a malformed reply, the next entry serves, the provider counts it`, async () => {
      const { llm } = await setup(
        adapter(null, {
          object: 'list',
          model: 'mine/m',
          data,
          usage: { prompt_tokens: 2, total_tokens: 2 },
        }),
      );
      const res = await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
      expect(res.routing.resolved).toBe('b/m');
      expect(res.routing.attempts[0]?.reason).toBe('bad-response');
      expect(llm.health().providers.mine?.consecutiveFailures).toBe(1);
    });
  }

  it('items in another order are served in input order, as a built-in adapter hands them out', async () => {
    const data = [item(1, [3, 4]), item(0, [1, 2])];
    const { llm } = await setup(adapter(null, { object: 'list', model: 'mine/m', data }));
    const res = await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
    expect(res.routing.resolved).toBe('mine/m');
    // A caller pairing data[i] with input[i] gets input i's vector.
    expect(res.data.map((d) => [d.index, d.embedding])).toEqual([
      [0, [1, 2]],
      [1, [3, 4]],
    ]);
  });

  it('items without an index are taken at their position and given it', async () => {
    const data = [
      { object: 'embedding', embedding: [1, 2] },
      { object: 'embedding', embedding: [3, 4] },
    ];
    const { llm } = await setup(adapter(null, { object: 'list', model: 'mine/m', data }));
    const res = await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
  });

  it("reports its own total_tokens in the response event's usage, not the prompt tokens again", async () => {
    const data = [item(0, [1, 2]), item(1, [3, 4])];
    const usage = { prompt_tokens: 2, total_tokens: 3 };
    const { llm, events } = await setup(adapter(null, { object: 'list', model: 'mine/m', data, usage }));
    await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
    expect(events.of('response')[0]?.usage).toEqual({
      prompt_tokens: 2,
      completion_tokens: 0,
      total_tokens: 3,
    });
  });
});

describe("a custom adapter's embed given one input as a string", () => {
  it('gets it as a list of one, and its one vector serves the call', async () => {
    const seen: unknown[] = [];
    const mine = adapter(null, {
      object: 'list',
      model: 'mine/m',
      data: [{ object: 'embedding', index: 0, embedding: [1, 2] }],
    });
    const embed = mine.embed;
    mine.embed = (req, ctx) => {
      seen.push(req.input);
      return embed(req, ctx);
    };
    const { llm } = await setup(mine);
    const res = await llm.embed({ model: 'mana/x', input: 'hello world' });
    expect(seen).toEqual([['hello world']]);
    expect(res.routing.resolved).toBe('mine/m');
    expect(res.data).toEqual([{ object: 'embedding', index: 0, embedding: [1, 2] }]);
  });
});

describe("a custom adapter's own ProviderError with a huge message holding a key and control characters", () => {
  const KEYLIKE = 'sk-proj-ABCDEFGH12345678';
  const huge = () =>
    new ProviderHTTPError(`upstream said \u001b[31m ${KEYLIKE}\r\n${'x'.repeat(2_000_000)}`, {
      provider: 'mine',
      model: 'm',
      status: 503,
    });
  const clean = (m: string) => {
    expect(m.length).toBeLessThan(1_000);
    expect(m).not.toContain(KEYLIKE);
    expect(m).not.toContain('\u001b');
    expect(m).not.toContain('\r');
  };

  it('reaches routing.attempts cut, redacted and cleaned, and still falls back as its class says', async () => {
    const mine: ProviderAdapter = { ...adapter(null), chat: () => Promise.reject(huge()) };
    const { llm } = await setup(mine);
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.resolved).toBe('b/m');
    const err = res.routing.attempts[0]?.error as ProviderHTTPError;
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err.status).toBe(503);
    clean(err.message);
  });

  it("reaches a StreamInterruptedError's message cut, redacted and cleaned", async () => {
    const mine: ProviderAdapter = {
      ...adapter(null),
      async *stream() {
        yield {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'mine/m',
          choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }],
        };
        throw huge();
      },
    };
    const { llm } = await setup(mine);
    const err = await rejection(
      (async () => {
        for await (const _ of llm.stream({ model: 'mana/x', messages: USER })) {
        }
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    clean((err as StreamInterruptedError).message);
    clean(((err as StreamInterruptedError).cause as Error).message);
  });
});

describe("a custom adapter's model list", () => {
  it('holding anything but names: that provider is in errors, the others are listed', async () => {
    const { llm } = await setup({ ...adapter(undefined), models: async () => ['m1', 42] as never });
    const list = await llm.models();
    expect(list.errors).toEqual([
      { provider: 'mine', error: expect.stringContaining('not a list of names') },
    ]);
    expect(list.data.some((m) => m.owned_by === 'mine')).toBe(false);
    expect(list.data.some((m) => m.owned_by === 'b')).toBe(true);
  });
});

describe("a custom adapter's chat answer that is one frozen object it hands out every time", () => {
  it('serves each call a copy with its own routing', async () => {
    const shared = Object.freeze(answer([good])) as unknown as ChatCompletion;
    const { llm } = await setup({ ...adapter(null), chat: async () => shared });
    const first = await llm.chat({ model: 'mana/x', messages: USER });
    const second = await llm.chat({ model: 'mine/m', messages: USER });
    expect(first.routing).toMatchObject({ requested: 'mana/x', alias: 'mana/x', resolved: 'mine/m' });
    expect(second.routing).toMatchObject({ requested: 'mine/m', resolved: 'mine/m' });
    expect(first.choices[0]?.message.content).toBe('hi');
  });
});
