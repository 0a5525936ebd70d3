import { afterEach, describe, expect, it } from 'vitest';
import {
  type Capabilities,
  type ChatChunk,
  type ProviderAdapter,
  ProviderRateLimitError,
  StreamInterruptedError,
} from '../src/index.js';
import { closeAll, coolingTargets, harness, rejection, USER } from './helpers/client.js';

afterEach(closeAll);

const ALL: Capabilities = { tools: true, vision: true, jsonSchema: true, embeddings: true };
const TOOLS = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];

/** A custom adapter whose chat fails with `fail()`; every other method is inert. */
function adapter(over: Partial<ProviderAdapter> = {}): ProviderAdapter {
  return {
    capabilities: () => ALL,
    chat: () => Promise.reject(new Error('unused')),
    stream: () => {
      throw new Error('unused');
    },
    embed: () => Promise.reject(new Error('unused')),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
    ...over,
  };
}

describe("a custom adapter's rate limit with a retry hint that is no duration", () => {
  for (const hint of [Number.NaN, -5_000, '30000']) {
    it(`counts as a failure and cools nothing (retryAfterMs ${String(hint)})`, async () => {
      const mine = adapter({
        chat: (r) =>
          Promise.reject(
            new ProviderRateLimitError('slow down', {
              provider: 'mine',
              model: r.model,
              status: 429,
              retryAfterMs: hint as number,
            }),
          ),
      });
      const { llm } = await harness({
        upstreams: { b: 'openai' },
        providers: { mine: { type: 'custom', adapter: mine } },
        aliases: { 'mana/x': ['mine/m', 'b/m'] },
      });
      const res = await llm.chat({ model: 'mana/x', messages: USER });
      expect(res.routing.resolved).toBe('b/m');
      const err = res.routing.attempts[0]?.error as ProviderRateLimitError;
      expect(err).toBeInstanceOf(ProviderRateLimitError);
      expect(err.retryAfterMs).toBeUndefined();
      expect(coolingTargets(llm)).toEqual([]);
      expect(llm.health().providers.mine?.consecutiveFailures).toBe(1);
    });
  }
});

describe("a custom adapter's capabilities() that throws or answers no object", () => {
  const broken: [string, () => Capabilities][] = [
    [
      'throws',
      () => {
        throw new TypeError('caps broke');
      },
    ],
    ['returns undefined', () => undefined as unknown as Capabilities],
    ['returns null', () => null as unknown as Capabilities],
    [
      'answers an object whose getter throws',
      () =>
        ({
          get tools(): boolean {
            throw new TypeError('caps getter broke');
          },
        }) as unknown as Capabilities,
    ],
  ];
  for (const [what, capabilities] of broken) {
    it(`${what}: a later entry's does not break the call served by the first`, async () => {
      const { llm, up } = await harness({
        upstreams: { a: 'openai' },
        providers: { mine: { type: 'custom', adapter: adapter({ capabilities }) } },
        aliases: { 'mana/x': ['a/m', 'mine/m'] },
      });
      up.a?.setDefault({ reply: 'from a' });
      const res = await llm.chat({ model: 'mana/x', messages: USER, tools: TOOLS });
      expect(res.routing.resolved).toBe('a/m');
    });

    it(`${what}: its own entry is skipped as lacking the capability`, async () => {
      const { llm } = await harness({
        upstreams: { b: 'openai' },
        providers: { mine: { type: 'custom', adapter: adapter({ capabilities }) } },
        aliases: { 'mana/x': ['mine/m', 'b/m'] },
      });
      const res = await llm.chat({ model: 'mana/x', messages: USER, tools: TOOLS });
      expect(res.routing.resolved).toBe('b/m');
      expect(res.routing.attempts[0]).toEqual({ target: 'mine/m', reason: 'capability' });
      const route = llm.resolve('mana/x', { model: 'mana/x', messages: USER, tools: TOOLS });
      expect(route.candidates[0]?.state).toBe('capability');
    });
  }

  it("that throws on a later entry does not keep a half-open provider's trial taken", async () => {
    let broke = false;
    const later = adapter({
      capabilities: () => {
        if (broke) throw new TypeError('caps broke');
        return ALL;
      },
    });
    const { llm, up, clock } = await harness({
      upstreams: { a: 'openai' },
      providers: { mine: { type: 'custom', adapter: later } },
      aliases: { 'mana/x': ['a/m', 'mine/m'] },
      options: { health: { failureThreshold: 1, cooldownMs: 1_000 } },
    });
    // Opens a's breaker.
    up.a?.setDefault({ status: 503 });
    await llm.chat({ model: 'mana/x', messages: USER, tools: TOOLS }).catch(() => undefined);
    expect(llm.health().providers.a?.state).toBe('open');
    clock.advance(1_001);
    up.a?.setDefault({ reply: 'back' });
    broke = true;
    // The half-open trial: whatever this call's fate, the next call must not find a's trial still taken.
    await llm.chat({ model: 'mana/x', messages: USER, tools: TOOLS }).catch(() => undefined);
    broke = false;
    const res = await llm.chat({ model: 'mana/x', messages: USER, tools: TOOLS });
    expect(res.routing.resolved).toBe('a/m');
    expect(llm.health().providers.a?.state).toBe('closed');
  });
});

describe("a custom adapter's close() that throws at once", () => {
  it('does not stop llm.close() from closing the rest (another adapter, the connections)', async () => {
    let closedOther = 0;
    const { llm, up } = await harness({
      upstreams: { a: 'openai' },
      providers: {
        bad: {
          type: 'custom',
          adapter: adapter({
            close: () => {
              throw new Error('close broke');
            },
          }),
        },
        good: {
          type: 'custom',
          adapter: adapter({
            close: async () => {
              closedOther++;
            },
          }),
        },
      },
      aliases: { 'mana/x': ['a/m'] },
    });
    up.a?.setDefault({ reply: 'hi' });
    await llm.chat({ model: 'mana/x', messages: USER });
    await expect(llm.close()).resolves.toBeUndefined();
    expect(closedOther).toBe(1);
  });
});

describe("a custom adapter's embeddings that do not hold one vector per input", () => {
  it('are a malformed reply: the next entry serves, the provider counts it', async () => {
    const mine = adapter({
      embed: async (r) => ({
        object: 'list',
        model: r.model,
        data: [{ object: 'embedding', index: 0, embedding: [1, 2] }],
        usage: { prompt_tokens: 1, total_tokens: 1 },
      }),
    });
    const { llm } = await harness({
      upstreams: { b: 'openai' },
      providers: { mine: { type: 'custom', adapter: mine } },
      aliases: { 'mana/x': ['mine/m', 'b/m'] },
    });
    const res = await llm.embed({ model: 'mana/x', input: ['one', 'two'] });
    expect(res.routing.resolved).toBe('b/m');
    expect(res.data).toHaveLength(2);
    expect(res.routing.attempts[0]?.reason).toBe('bad-response');
    expect(llm.health().providers.mine?.consecutiveFailures).toBe(1);
  });
});

describe("a custom adapter's stream that hands out something that is not a chunk after its first content", () => {
  const chunk = (content: string): ChatChunk => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'mine/m',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  });
  const bad: [string, Partial<ProviderAdapter>][] = [
    [
      'a null chunk',
      {
        async *stream() {
          yield chunk('Hel');
          yield null as unknown as ChatChunk;
        },
      },
    ],
    [
      'a chunk without choices',
      {
        async *stream() {
          yield chunk('Hel');
          yield {} as ChatChunk;
        },
      },
    ],
    [
      'a batch that is not an array',
      {
        async *streamBatches() {
          yield [chunk('Hel')];
          yield 'lo' as unknown as ChatChunk[];
        },
      },
    ],
  ];
  for (const [what, over] of bad) {
    it(`${what}: the consumer gets no such value, and the interruption counts against the provider`, async () => {
      const { llm } = await harness({
        upstreams: {},
        providers: { mine: { type: 'custom', adapter: adapter(over) } },
        aliases: { 'mana/x': ['mine/m'] },
      });
      const got: unknown[] = [];
      const err = await rejection(
        (async () => {
          for await (const c of llm.stream({ model: 'mana/x', messages: USER })) got.push(c);
        })(),
      );
      expect(err).toBeInstanceOf(StreamInterruptedError);
      expect((err as StreamInterruptedError).partial.content).toBe('Hel');
      expect(got).toEqual([chunk('Hel')]);
      expect(llm.health().providers.mine?.consecutiveFailures).toBe(1);
    });
  }
});

describe("a custom adapter's stream that hands out something that is not a chunk", () => {
  const chunk = (content: string): ChatChunk => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'mine/m',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  });
  for (const before of [true, false]) {
    it(`${before ? 'before' : 'after'} its first content: the adapter's stream is closed (its finally runs)`, async () => {
      let closed = 0;
      const mine = adapter({
        async *stream() {
          try {
            if (!before) yield chunk('Hel');
            yield 'lo' as unknown as ChatChunk;
            yield chunk('never');
          } finally {
            closed++;
          }
        },
      });
      const { llm, up } = await harness({
        upstreams: { b: 'openai' },
        providers: { mine: { type: 'custom', adapter: mine } },
        aliases: { 'mana/x': ['mine/m', 'b/m'] },
      });
      up.b?.setDefault({ reply: 'From b.' });
      const got: ChatChunk[] = [];
      const read = (async () => {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) got.push(c);
      })();
      if (before) {
        await read;
        expect(got.every((c) => c.model === 'b/m')).toBe(true);
      } else expect(await rejection(read)).toBeInstanceOf(StreamInterruptedError);
      expect(closed).toBe(1);
    });
  }
});

describe("a custom adapter's frozen, shared rate-limit error", () => {
  it('with a hint over limits.maxRetryAfterMs still cools the target (capped) and falls back', async () => {
    const slowDown = Object.freeze(
      new ProviderRateLimitError('slow down', {
        provider: 'mine',
        model: 'm',
        status: 429,
        retryAfterMs: 7_200_000,
      }),
    );
    const mine = adapter({ chat: () => Promise.reject(slowDown) });
    const { llm, clock } = await harness({
      upstreams: { b: 'openai' },
      providers: { mine: { type: 'custom', adapter: mine } },
      aliases: { 'mana/x': ['mine/m', 'b/m'] },
      options: { limits: { maxRetryAfterMs: 60_000 } },
    });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.resolved).toBe('b/m');
    expect(res.routing.attempts[0]?.reason).toBe('rate-limited');
    expect(coolingTargets(llm)).toEqual([{ target: 'mine/m', until: clock.now() + 60_000 }]);
  });
});

describe("a custom adapter's hand-written stream whose return() is not a promise", () => {
  const chunk: ChatChunk = {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'mine/m',
    choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }],
  };
  const endings: [string, () => IteratorResult<ChatChunk[]>][] = [
    ['answers a plain result', () => ({ done: true, value: undefined })],
    [
      'throws at once',
      () => {
        throw new Error('return broke');
      },
    ],
  ];
  for (const [what, end] of endings) {
    it(`${what}: a consumer that stops early is not thrown at, and the provider's slot is freed`, async () => {
      const mine = adapter({
        streamBatches: () => ({
          [Symbol.asyncIterator]: () => ({
            next: () => Promise.resolve({ done: false, value: [chunk] }),
            return: end as unknown as () => Promise<IteratorResult<ChatChunk[]>>,
          }),
        }),
      });
      const { llm } = await harness({
        upstreams: {},
        providers: { mine: { type: 'custom', adapter: mine, maxConcurrent: 1 } },
        aliases: { 'mana/x': ['mine/m'] },
      });
      for (let i = 0; i < 2; i++) {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) {
          expect(c.choices[0]?.delta.content).toBe('Hi');
          break;
        }
      }
    });
  }
});

describe("a custom adapter that reads its context's signal only after the call was aborted", () => {
  it('gets a signal that is already aborted, with the reason', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let read: (signal: AbortSignal) => void = () => undefined;
    const seen = new Promise<AbortSignal>((resolve) => {
      read = resolve;
    });
    const mine = adapter({
      chat: async (_r, ctx) => {
        await gate;
        read(ctx.signal);
        return new Promise<never>(() => undefined);
      },
    });
    const { llm } = await harness({
      upstreams: {},
      providers: { mine: { type: 'custom', adapter: mine } },
      aliases: { 'mana/x': ['mine/m'] },
    });
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
    ac.abort(reason);
    expect(await rejection(call)).toBe(reason);
    release();
    const signal = await seen;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });
});

describe("a custom adapter that listens to its context's signal from the start", () => {
  it.each(['the caller aborts', 'its attempt times out'])(
    'is told to stop (an abort event with the reason) when %s',
    async (how) => {
      let stopped: unknown = 'not told';
      const mine = adapter({
        chat: (_r, ctx) => {
          // The signal's abort event fires before the call settles.
          ctx.signal.addEventListener('abort', () => {
            stopped = ctx.signal.reason;
          });
          return new Promise<never>(() => undefined);
        },
      });
      const { llm, clock } = await harness({
        upstreams: {},
        providers: { mine: { type: 'custom', adapter: mine, timeoutMs: 1_000 } },
        aliases: { 'mana/x': ['mine/m'] },
      });
      const ac = new AbortController();
      const reason = new Error('caller gave up');
      const call = rejection(llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal }));
      await Promise.resolve();
      if (how === 'the caller aborts') ac.abort(reason);
      else await clock.advanceAsync(1_000);
      const err = await call;
      // A timeout is the cause of the call's NoHealthyProviderError.
      expect(stopped).toBe(how === 'the caller aborts' ? reason : (err as Error).cause);
    },
  );
});
