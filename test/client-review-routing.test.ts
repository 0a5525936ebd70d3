import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError } from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, KEY, rejection, track, USER, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** An OpenAI-compatible upstream holding every request until the test answers it. */
async function holding() {
  const held: ServerResponse[] = [];
  const up = await rawUpstream((_body, res) => void held.push(res));
  return { url: up.url, held, received: () => up.received };
}

describe('NoHealthyProviderError.retryAfterMs after a slow 429', () => {
  it('is when the target stops cooling, counted from the 429, not from the start of the attempt', async () => {
    const up = await holding();
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        clock,
        health: { probes: false },
      }),
    );
    const call = llm.chat({ model: 'mana/x', messages: USER });
    await waitFor(() => up.held.length === 1, 'the request at the upstream');
    // The upstream takes 4 s to say "retry after 10 s".
    clock.advance(4_000);
    const res = up.held.shift() as ServerResponse;
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '10' });
    res.end('{"error":{"message":"slow down"}}');
    const err = (await rejection(call)) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const until = llm.health().targets.find((t) => t.target === 'a/m')?.until;
    expect(until).toBe(clock.now() + 10_000);
    // Retrying after retryAfterMs must find the target usable again.
    expect(err.retryAfterMs).toBe(10_000);
  });
});

describe('the half-open trial', () => {
  it('stays the only call let through while it runs, even when a call that started before the breaker opened ends without a verdict', async () => {
    const up = await holding();
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        clock,
        health: { probes: false, failureThreshold: 1, cooldownMs: 1_000, maxConcurrentAfterFailure: 10 },
      }),
    );
    const req = { model: 'a/m', messages: USER };
    // X waits at a while a's breaker opens (another call's 500): it is not late yet, so it goes on waiting.
    const ac = new AbortController();
    const x = llm.chat(req, { signal: ac.signal });
    x.catch(() => undefined);
    await waitFor(() => up.held.length === 1, 'X at the upstream');
    const y = llm.chat(req);
    await waitFor(() => up.held.length === 2, 'Y at the upstream');
    const yRes = up.held.pop() as ServerResponse;
    yRes.writeHead(500, { 'content-type': 'application/json' });
    yRes.end('{"error":{"message":"boom"}}');
    await rejection(y);
    expect(llm.health().providers.a?.state).toBe('open');
    // The cool-down runs out: the next call is the trial.
    clock.advance(1_000);
    const trial = llm.chat(req);
    trial.catch(() => undefined);
    await waitFor(() => up.held.length === 2, 'the trial at the upstream');
    // X's caller gives up: that says nothing about a, and must not end someone else's trial.
    ac.abort(new Error('caller gave up'));
    expect(((await rejection(x)) as Error).message).toBe('caller gave up');
    // While the trial runs, other calls skip a without calling it.
    const next = llm.chat(req);
    next.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(up.received()).toBe(3);
    const other = (await rejection(next)) as NoHealthyProviderError;
    expect(other).toBeInstanceOf(NoHealthyProviderError);
    expect(other.attempts).toEqual([expect.objectContaining({ target: 'a/m', reason: 'unhealthy' })]);
  });
});

describe('a hedged call stopped while both attempts run', () => {
  for (const how of ['abort', 'close'] as const) {
    it(`by ${how === 'abort' ? "the caller's abort" : 'close()'}: rejects once, both requests are cancelled, no health is touched`, async () => {
      const { hangingUpstream } = await import('./helpers/raw-upstream.js');
      const { hedgeSetup } = await import('./helpers/hedge.js');
      const a = await hangingUpstream();
      const b = await hangingUpstream();
      const { llm, clock, events } = await hedgeSetup({
        raw: { a, b },
        chain: ['a', 'b'],
        hedge: 300,
        options: { health: { failureThreshold: 1 } },
      });
      const ac = new AbortController();
      const call = llm.chat({ model: 'mana/x', messages: USER }, { signal: ac.signal });
      await waitFor(() => a.received === 1, 'request at a');
      await clock.advanceAsync(300);
      await waitFor(() => b.received === 1, 'the hedge at b');
      const reason = new Error('caller gave up');
      if (how === 'abort') ac.abort(reason);
      else void llm.close();
      const err = await rejection(call);
      if (how === 'abort') expect(err).toBe(reason);
      else expect((err as { code?: string }).code).toBe('CLOSED');
      await waitFor(() => a.closedByClient === 1 && b.closedByClient === 1, 'both sockets closed');
      if (how === 'abort') {
        expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
        expect(llm.health().providers.b).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
        // Both providers are usable at once: no slot was left taken.
        const again = llm.chat({ model: 'mana/x', messages: USER }, { hedgeAfterMs: 0 });
        again.catch(() => undefined);
        await waitFor(() => a.received === 2, 'a called again');
      }
      expect(events.count('failure')).toBe(1);
      expect(events.count('fallback') + events.count('health') + events.count('response')).toBe(0);
    });
  }
});

describe('event payloads and what the caller gets do not share their attempts list', () => {
  it('a listener reordering `attempts` in place changes neither routing.attempts nor NoHealthyProviderError.attempts', async () => {
    const { harness } = await import('./helpers/client.js');
    const { llm, up } = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { failureThreshold: 5 } },
    });
    // A logging listener that sorts what it was given, by target, descending.
    const sortDesc = (e: { attempts?: readonly { target: string }[] }) =>
      void (e.attempts as { target: string }[] | undefined)?.sort((x, y) => y.target.localeCompare(x.target));
    llm.on('response', sortDesc);
    llm.on('failure', sortDesc);
    up.a!.enqueue({ status: 500 });
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.routing.attempts.map((a) => a.target)).toEqual(['a/m1', 'b/m2']);
    up.a!.enqueue({ status: 500 });
    up.b!.enqueue({ status: 500 });
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err.attempts.map((a) => a.target)).toEqual(['a/m1', 'b/m2']);
  });
});

describe("a custom adapter's answers", () => {
  const answer = (model: string) => ({
    id: 'c1',
    object: 'chat.completion' as const,
    created: 1,
    model,
    choices: [
      { index: 0, message: { role: 'assistant' as const, content: 'hi' }, finish_reason: 'stop' as const },
    ],
  });
  const adapterOf = (chat: () => unknown, embed: () => unknown = () => undefined) =>
    ({
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: async () => chat(),
      stream: async function* () {},
      embed: async () => embed(),
      probe: async () => ({ ok: true }),
      models: async () => [],
    }) as unknown as import('../src/index.js').ProviderAdapter;
  const good = adapterOf(
    () => answer('good/m'),
    () => ({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: [1, 2, 3] }],
      model: 'good/m',
      usage: { prompt_tokens: 1, total_tokens: 1 },
    }),
  );
  const client = (mine: import('../src/index.js').ProviderAdapter) =>
    track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m', 'good/m'] } } },
        providers: { mine: { type: 'custom', adapter: mine }, good: { type: 'custom', adapter: good } },
        health: { probes: false, failureThreshold: 10 },
      }),
    );
  const REQ = { model: 'mana/x', messages: USER };

  it('a frozen answer is served as it is (with its own routing)', async () => {
    const frozen = Object.freeze(answer('mine/m'));
    const llm = client(adapterOf(() => frozen));
    const res = await llm.chat(REQ);
    expect(res.model).toBe('mine/m');
    expect(res.routing.resolved).toBe('mine/m');
  });

  it('one answer object handed to two calls: the first caller keeps its own routing', async () => {
    const shared = answer('mine/m');
    const llm = client(adapterOf(() => shared));
    const first = await llm.chat(REQ);
    await llm.chat({ model: 'mine/m', messages: USER });
    expect(first.routing.requested).toBe('mana/x');
  });

  it('an answer that is not a completion is a malformed reply: it falls through and counts against the provider', async () => {
    for (const bad of [undefined, null, 42, { object: 'chat.completion' }]) {
      const llm = client(
        adapterOf(
          () => bad,
          () => bad,
        ),
      );
      const res = await llm.chat(REQ);
      expect(res.model).toBe('good/m');
      expect(res.routing.attempts[0]).toMatchObject({ target: 'mine/m', reason: 'bad-response' });
      const emb = await llm.embed({ model: 'mana/x', input: 'x' });
      expect(emb.routing.resolved).toBe('good/m');
      expect(llm.health().providers.mine?.consecutiveFailures).toBe(2);
    }
  });
});

describe('a custom stream that ignores its signal', () => {
  it('is let go (its iterator returned) once it answers after its attempt timed out and the call moved on', async () => {
    const clock = createFakeClock();
    let release!: () => void;
    const late = new Promise<void>((r) => {
      release = r;
    });
    let finished = false;
    const chunk = (model: string, delta: Record<string, unknown>, finish: string | null = null) => ({
      id: 'c',
      object: 'chat.completion.chunk' as const,
      created: 1,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const mk = (name: string, deaf: boolean) =>
      ({
        capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
        chat: async () => {
          throw new Error('unused');
        },
        stream: async function* () {
          try {
            yield chunk(name, { role: 'assistant' });
            if (deaf) await late; // never looks at its signal
            yield chunk(name, { content: 'hi' });
            yield chunk(name, {}, 'stop');
          } finally {
            if (deaf) finished = true;
          }
        },
        embed: async () => {
          throw new Error('unused');
        },
        probe: async () => ({ ok: true }),
        models: async () => [],
      }) as unknown as import('../src/index.js').ProviderAdapter;
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['deaf/m', 'good/m'] } } },
        providers: {
          deaf: { type: 'custom', adapter: mk('deaf/m', true) },
          good: { type: 'custom', adapter: mk('good/m', false) },
        },
        clock,
        health: { probes: false },
        timeouts: { firstChunkMs: 1_000 },
      }),
    );
    const out: string[] = [];
    const done = (async () => {
      for await (const c of llm.stream({ model: 'mana/x', messages: USER })) out.push(c.model);
    })();
    await clock.advanceAsync(1_000);
    await done;
    expect(out.every((m) => m === 'good/m')).toBe(true);
    // The deaf stream finally answers: nobody wants it, so its iterator must be returned, not left open.
    release();
    await waitFor(() => finished, "the deaf stream's iterator returned");
  });
});

describe('llm.off', () => {
  it('with a listener that is not subscribed (or already removed) removes nothing else', async () => {
    const { harness } = await import('./helpers/client.js');
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const seen: string[] = [];
    const kept = () => void seen.push('kept');
    const gone = () => void seen.push('gone');
    llm.on('response', kept);
    llm.on('response', gone);
    llm.off('response', gone);
    // A second clean-up of the same listener, and one of a listener never added.
    llm.off('response', gone);
    llm.off('response', () => undefined);
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(seen).toEqual(['kept']);
  });
});

describe('llm.models() with malformed options', () => {
  it('rejects with InvalidRequestError before any I/O, as every other call does', async () => {
    const { harness } = await import('./helpers/client.js');
    const { InvalidRequestError } = await import('../src/index.js');
    const { llm, up } = await harness({ upstreams: { a: 'openai' } });
    for (const [opts, path] of [
      [{ signal: 'stop' }, 'signal'],
      [{ signal: {} }, 'signal'],
      [null, 'options'],
    ] as const) {
      const err = (await rejection(llm.models(opts as never))) as InstanceType<typeof InvalidRequestError>;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues).toEqual([expect.objectContaining({ path })]);
    }
    expect(up.a!.count()).toBe(0);
  });
});

describe('llm.models() with a custom adapter whose list is malformed', () => {
  it('names that provider in errors and still lists the others, as for any provider that fails', async () => {
    const { harness } = await import('./helpers/client.js');
    for (const list of [undefined, { names: ['x'] }, [Symbol('x')]]) {
      const fail = () => Promise.reject(new Error('unused'));
      const adapter = {
        capabilities: () => ({ tools: false, vision: false, jsonSchema: false, embeddings: false }),
        chat: fail,
        stream: () => {
          throw new Error('unused');
        },
        embed: fail,
        probe: () => Promise.resolve({ ok: true }),
        models: () => Promise.resolve(list as never),
      };
      const { llm } = await harness({
        upstreams: { a: 'openai' },
        providers: { mine: { type: 'custom', adapter } },
      });
      const res = await llm.models();
      expect(res.data.length).toBeGreaterThan(0);
      expect(res.data.every((m) => m.owned_by === 'a')).toBe(true);
      expect(res.errors).toEqual([{ provider: 'mine', error: expect.stringContaining('model list') }]);
    }
  });
});
