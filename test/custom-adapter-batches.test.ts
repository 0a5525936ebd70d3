import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatChunk,
  createManaLLM,
  type ProviderAdapter,
  ProviderHTTPError,
  StreamInterruptedError,
} from '../src/index.js';
import { closeAll, rejection, track } from './helpers/client.js';

afterEach(closeAll);

const USER = [{ role: 'user' as const, content: 'Hi' }];

function chunk(
  provider: string,
  delta: ChatChunk['choices'][number]['delta'],
  finish: 'stop' | null = null,
): ChatChunk {
  return {
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: `${provider}/m`,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

/** The reads of one answer: role and first word together, an empty read, then the rest and the finish. */
function reads(provider: string): ChatChunk[][] {
  return [
    [chunk(provider, { role: 'assistant' }), chunk(provider, { content: 'One' })],
    [],
    [chunk(provider, { content: ' two' }), chunk(provider, { content: ' three' })],
    [chunk(provider, {}, 'stop')],
  ];
}

/** A custom adapter with `streamBatches`; `stream()` counts its calls and is never what routing should use. */
function batchAdapter(script: (ChatChunk[] | Error)[]) {
  const seen = { streamCalls: 0, batchCalls: 0, returned: 0 };
  const adapter: ProviderAdapter = {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: () => Promise.reject(new Error('not used')),
    async *stream() {
      seen.streamCalls++;
      for (const r of script) {
        if (r instanceof Error) throw r;
        yield* r;
      }
    },
    streamBatches() {
      seen.batchCalls++;
      let i = 0;
      return {
        [Symbol.asyncIterator]: () => ({
          next: async (): Promise<IteratorResult<ChatChunk[]>> => {
            const r = script[i++];
            if (r === undefined) return { done: true, value: undefined };
            if (r instanceof Error) throw r;
            return { done: false, value: r };
          },
          return: async (): Promise<IteratorResult<ChatChunk[]>> => {
            seen.returned++;
            return { done: true, value: undefined };
          },
        }),
      };
    },
    embed: () => Promise.reject(new Error('not used')),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve(['m']),
  };
  return { adapter, seen };
}

function client(adapters: Record<string, ProviderAdapter>) {
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: Object.keys(adapters).map((p) => `${p}/m`) } } },
      providers: Object.fromEntries(
        Object.entries(adapters).map(([id, adapter]) => [id, { type: 'custom', adapter }]),
      ),
      health: { probes: false },
    }),
  );
}

async function collectAll(s: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of s) out.push(c);
  return out;
}

const text = (chunks: ChatChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

describe('a custom adapter with streamBatches', () => {
  it('llm.stream() reads its batches, not stream(): the same chunks in order, empty reads skipped', async () => {
    const a = batchAdapter(reads('a'));
    const llm = client({ a: a.adapter });
    const out: ChatChunk[] = [];
    for await (const c of llm.stream({ model: 'mana/x', messages: USER })) out.push(c);
    expect(out).toEqual(reads('a').flat());
    expect(text(out)).toBe('One two three');
    expect(a.seen).toMatchObject({ batchCalls: 1, streamCalls: 0 });
  });

  it('the chunks after the first content chunk in the same read are handed out too', async () => {
    const a = batchAdapter([
      [chunk('a', { content: 'One' }), chunk('a', { content: ' two' })],
      [chunk('a', {}, 'stop')],
    ]);
    const llm = client({ a: a.adapter });
    expect(text(await collectAll(llm.stream({ model: 'mana/x', messages: USER })))).toBe('One two');
  });

  it('a failure before the first content chunk falls back to the next entry', async () => {
    const a = batchAdapter([
      [chunk('a', { role: 'assistant' })],
      new ProviderHTTPError('a: 503', { provider: 'a', model: 'm', status: 503 }),
    ]);
    const b = batchAdapter(reads('b'));
    const llm = client({ a: a.adapter, b: b.adapter });
    const opened = await llm.openStream({ model: 'mana/x', messages: USER });
    const out: ChatChunk[] = [];
    for await (const c of opened) out.push(c);
    expect(opened.model).toBe('b/m');
    expect(text(out)).toBe('One two three');
    expect(out.every((c) => c.model === 'b/m')).toBe(true);
    expect(a.seen.batchCalls).toBe(1);
  });

  it('a failure after the commit ends the stream with StreamInterruptedError holding what was handed out', async () => {
    const [first, , second] = reads('a');
    const a = batchAdapter([first as ChatChunk[], second as ChatChunk[], new Error('connection reset')]);
    const llm = client({ a: a.adapter });
    const out: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) out.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial?.content).toBe('One two three');
    expect(text(out)).toBe('One two three');
  });

  it('a read whose content chunk is followed by one without content commits: a failure after it is not a fallback', async () => {
    const a = batchAdapter([[chunk('a', { content: 'One' }), chunk('a', {})], new Error('connection reset')]);
    const b = batchAdapter(reads('b'));
    const llm = client({ a: a.adapter, b: b.adapter });
    const out: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) out.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(text(out)).toBe('One');
    expect(b.seen.batchCalls).toBe(0);
  });

  it('breaking out after the first chunk of a batch returns the batch iterator (the upstream is cancelled)', async () => {
    const a = batchAdapter(reads('a'));
    const llm = client({ a: a.adapter });
    for await (const c of llm.stream({ model: 'mana/x', messages: USER }))
      if (c.choices[0]?.delta.content) break;
    expect(a.seen.returned).toBe(1);
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });
});

describe("a custom adapter's chunk with `tool_calls: null` before its first content", () => {
  it('is read as no tool calls: the stream is served by that adapter, nothing counts against it', async () => {
    const nullCalls = {
      role: 'assistant',
      tool_calls: null,
    } as unknown as ChatChunk['choices'][number]['delta'];
    const a = batchAdapter([[chunk('a', nullCalls)], ...reads('a').slice(1)]);
    const b = batchAdapter(reads('b'));
    const llm = client({ a: a.adapter, b: b.adapter });
    const opened = await llm.openStream({ model: 'mana/x', messages: USER });
    expect(text(await collectAll(opened))).toBe(' two three');
    expect(opened.model).toBe('a/m');
    expect(b.seen.batchCalls).toBe(0);
    expect(llm.health().providers.a?.consecutiveFailures).toBe(0);
  });
});
