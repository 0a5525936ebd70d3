import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidRequestError,
  ManaLLMError,
  type ManaLLMEventName,
  NoHealthyProviderError,
  ProviderConnectionError,
  ProviderHTTPError,
  ProviderTimeoutError,
} from '../src/index.js';
import {
  closeAll,
  collect,
  consume,
  type HarnessOptions,
  harness,
  rejection,
  USER,
  waitFor,
} from './helpers/client.js';

afterEach(closeAll);
afterEach(() => {
  vi.restoreAllMocks();
});

async function setup(options: HarnessOptions = {}) {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'], 'mana/ghost': ['ghost/m', 'b/m2'] },
    options,
  });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('event payloads', () => {
  it('an alias chat that falls back: request, fallback, resolved, response', async () => {
    const { llm, a, events } = await setup();
    a.enqueue({ status: 500 });
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(events.all.map((e) => e.name)).toEqual(['request', 'fallback', 'resolved', 'response']);
    const id = events.of('request')[0]?.id;
    expect(typeof id).toBe('string');
    expect(events.of('request')).toEqual([{ id, kind: 'chat', requested: 'mana/x', alias: 'mana/x' }]);
    expect(events.of('fallback')).toEqual([
      {
        id,
        kind: 'chat',
        from: 'a/m1',
        to: 'b/m2',
        reason: 'http-error',
        error: expect.any(ProviderHTTPError),
        durationMs: 0,
        status: 500,
      },
    ]);
    expect(events.of('resolved')).toEqual([{ id, kind: 'chat', alias: 'mana/x', target: 'b/m2' }]);
    expect(events.of('response')).toEqual([
      {
        id,
        kind: 'chat',
        requested: 'mana/x',
        resolved: 'b/m2',
        durationMs: 0,
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        attempts: [
          {
            target: 'a/m1',
            reason: 'http-error',
            status: 500,
            durationMs: 0,
            error: expect.any(ProviderHTTPError),
          },
          { target: 'b/m2', reason: 'ok', durationMs: 0 },
        ],
      },
    ]);
  });

  it('a direct model: no alias, no resolved event', async () => {
    const { llm, events } = await setup();
    await llm.chat({ model: 'b/m2', messages: USER });
    expect(events.all.map((e) => e.name)).toEqual(['request', 'response']);
    expect(events.of('request')[0]).toEqual({ id: expect.any(String), kind: 'chat', requested: 'b/m2' });
    expect(events.of('response')[0]).toMatchObject({ requested: 'b/m2', resolved: 'b/m2' });
  });

  it('every call gets its own id', async () => {
    const { llm, events } = await setup();
    await llm.chat({ model: 'mana/x', messages: USER });
    await llm.chat({ model: 'mana/x', messages: USER });
    const ids = events.of('request').map((r) => r.id);
    expect(new Set(ids).size).toBe(2);
    expect(events.of('response').map((r) => r.id)).toEqual(ids);
  });

  it('skipped entries emit fallback without an error; the last failure points to null', async () => {
    const { llm, b, events } = await setup();
    b.enqueue({ reset: true });
    const err = await rejection(llm.chat({ model: 'mana/ghost', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const id = events.of('request')[0]?.id;
    expect(events.of('fallback')).toEqual([
      { id, kind: 'chat', from: 'ghost/m', to: 'b/m2', reason: 'unconfigured' },
      {
        id,
        kind: 'chat',
        from: 'b/m2',
        to: null,
        reason: 'connection',
        error: expect.any(ProviderConnectionError),
        durationMs: expect.any(Number),
      },
    ]);
    expect(events.of('failure')).toEqual([
      {
        id,
        kind: 'chat',
        requested: 'mana/ghost',
        error: err,
        durationMs: expect.any(Number),
        attempts: (err as NoHealthyProviderError).attempts,
      },
    ]);
    expect(events.of('response')).toEqual([]);
    expect(events.of('resolved')).toEqual([]);
  });

  it('a stream emits response at its end with firstChunkMs and usage', async () => {
    const { llm, clock, a, events } = await setup({ timeouts: { firstChunkMs: 5000 } });
    a.enqueue({ stallAfterHeaders: true });
    const s = consume(
      llm.stream({ model: 'mana/x', messages: USER, stream_options: { include_usage: true } }),
    );
    await waitFor(() => a.count('stream') === 1, 'stream request at a');
    await clock.advanceAsync(5000);
    await s.done;
    expect(events.all.map((e) => e.name)).toEqual(['request', 'fallback', 'resolved', 'response']);
    const id = events.of('request')[0]?.id;
    expect(events.of('request')[0]).toEqual({ id, kind: 'stream', requested: 'mana/x', alias: 'mana/x' });
    expect(events.of('fallback')[0]).toMatchObject({
      kind: 'stream',
      reason: 'timeout',
      error: expect.any(ProviderTimeoutError),
    });
    expect(events.of('resolved')[0]).toEqual({ id, kind: 'stream', alias: 'mana/x', target: 'b/m2' });
    expect(events.of('response')).toEqual([
      {
        id,
        kind: 'stream',
        requested: 'mana/x',
        resolved: 'b/m2',
        durationMs: 5000,
        firstChunkMs: 5000,
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        attempts: [
          { target: 'a/m1', reason: 'timeout', durationMs: 5000, error: expect.any(ProviderTimeoutError) },
          { target: 'b/m2', reason: 'ok', durationMs: 0 },
        ],
      },
    ]);
  });

  it('request carries the sampling settings the caller gave, and only those', async () => {
    const { llm, events } = await setup();
    await llm.chat({ model: 'mana/x', messages: USER, temperature: 0.2, max_tokens: 64 });
    await llm.chat({ model: 'mana/x', messages: USER, top_p: 0.5 });
    await llm.embed({ model: 'mana/x', input: 'a' });
    // A setting of 0 is a setting.
    await llm.chat({ model: 'mana/x', messages: USER, temperature: 0 });
    expect(events.of('request').map((r) => r.params)).toEqual([
      { temperature: 0.2, max_tokens: 64 },
      { top_p: 0.5 },
      undefined,
      { temperature: 0 },
    ]);
    expect('params' in (events.of('request')[2] ?? {})).toBe(false);
  });

  it('a failure the caller caused after a fallback lists what was tried', async () => {
    const { llm, a, b, events } = await setup();
    a.enqueue({ status: 503 });
    b.enqueue({ status: 400, body: '{"error":{"message":"bad"}}' });
    await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(events.of('failure')[0]?.attempts).toEqual([
      expect.objectContaining({ target: 'a/m1', reason: 'http-error', status: 503 }),
      expect.objectContaining({ target: 'b/m2', status: 400 }),
    ]);
  });

  it('a committed stream its consumer stops ends with cancel (neither response nor failure)', async () => {
    const { llm, a, events } = await setup();
    a.enqueue({ streamThenStall: 2 });
    for await (const c of llm.stream({ model: 'mana/x', messages: USER })) {
      if (c.choices[0]?.delta.content) break;
    }
    const id = events.of('request')[0]?.id;
    expect(events.of('cancel')).toEqual([
      { id, kind: 'stream', requested: 'mana/x', resolved: 'a/m1', durationMs: 0, firstChunkMs: 0 },
    ]);
    expect(events.count('response') + events.count('failure')).toBe(0);
    // A stream read to its end is not cancelled by a later return().
    const s = llm.stream({ model: 'mana/x', messages: USER });
    for await (const _ of s);
    await s.return();
    expect(events.count('cancel')).toBe(1);
    expect(events.count('response')).toBe(1);
  });

  it('embeddings report kind embed with their token usage', async () => {
    const { llm, events } = await setup();
    await llm.embed({ model: 'mana/x', input: ['a', 'b'] });
    expect(events.of('request')[0]).toMatchObject({ kind: 'embed', requested: 'mana/x', alias: 'mana/x' });
    expect(events.of('resolved')[0]).toMatchObject({ kind: 'embed', target: 'a/m1' });
    expect(events.of('response')[0]).toMatchObject({
      kind: 'embed',
      resolved: 'a/m1',
      usage: { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 },
    });
  });

  it('a call refused before its walk because a getter in its request threw still ends with its failure event', async () => {
    const { llm, a, events } = await setup();
    const hostile = {
      model: 'mana/x',
      get messages(): never {
        throw new Error('hostile getter');
      },
    };
    const err = await rejection(llm.chat(hostile as never));
    // The caller's mistake as docs/limits.md says (it rejected with the thrown Error itself before).
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).message).toContain('cannot be read: hostile getter');
    expect(events.all.map((e) => e.name)).toEqual(['request', 'failure']);
    const id = events.of('request')[0]?.id;
    expect(events.of('failure')[0]).toMatchObject({ id, kind: 'chat', requested: 'mana/x', durationMs: 0 });
    expect(events.of('failure')[0]?.error.message).toContain('hostile getter');
    expect(a.requests).toHaveLength(0);
  });
});

describe('listeners', () => {
  it('a throwing listener never breaks a call; it is reported with process.emitWarning', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm, a } = await setup();
    const names: ManaLLMEventName[] = ['request', 'resolved', 'fallback', 'response', 'failure', 'health'];
    for (const name of names) {
      llm.on(name, () => {
        throw new Error(`listener for ${name} broke`);
      });
    }
    a.setDefault({ status: 500 });
    expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('b/m2');
    expect((await collect(llm.stream({ model: 'mana/x', messages: USER }))).length).toBeGreaterThan(0);
    expect(llm.health().providers.a?.state).toBe('open');
    await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    const messages = warn.mock.calls.map((c) => String(c[0]));
    for (const name of names)
      expect(messages.some((m) => m.includes(`listener for ${name} broke`))).toBe(true);
    for (const call of warn.mock.calls) expect(call[1]).toEqual({ code: 'MANA_LLM_LISTENER' });
  });

  it("a listener's thrown message is cleaned in its warning: no forged line, no bidi override, no key", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    llm.on('request', () => {
      throw new Error('hostile listener\n(node:1) forged warning \u202e sk-proj-SECRETSECRET');
    });
    await llm.chat({ model: 'mana/x', messages: USER });
    const messages = warn.mock.calls.map((c) => String(c[0]));
    warn.mockRestore();
    const mine = messages.filter((m) => m.includes('hostile listener'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).not.toMatch(/[\n\u202e]|SECRETSECRET/);
  });

  it("a listener's thrown message with runs of white space still shows 200 characters once folded", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    llm.on('request', () => {
      throw new Error(`spaced ${'w     '.repeat(1_000)}`);
    });
    await llm.chat({ model: 'mana/x', messages: USER });
    const mine = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('spaced'));
    warn.mockRestore();
    expect(mine[0]?.slice(mine[0].indexOf('spaced'))).toBe(`${`spaced ${'w '.repeat(100)}`.slice(0, 200)}…`);
  });

  it('a listener that throws a value with no text form (Object.create(null)) is reported as such', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    llm.on('request', () => {
      throw Object.create(null);
    });
    expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('a/m1');
    const messages = warn.mock.calls.map((c) => String(c[0]));
    warn.mockRestore();
    expect(messages).toContainEqual(
      expect.stringMatching(/\(request, .*threw: \(a value with no text form\)$/),
    );
  });

  it("a listener's thrown message is cut to 200 characters in its warning", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    llm.on('request', () => {
      throw new Error(`long listener ${'word '.repeat(2_000)}`);
    });
    await llm.chat({ model: 'mana/x', messages: USER });
    const mine = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('long listener'));
    warn.mockRestore();
    expect(mine).toHaveLength(1);
    const thrown = (mine[0] ?? '').slice((mine[0] ?? '').indexOf('long listener'));
    expect(thrown).toHaveLength(201);
    expect(thrown.endsWith('…')).toBe(true);
  });

  it('a listener that throws on every event is reported once, not once per event', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    const broken = () => {
      throw new Error('broken listener');
    };
    llm.on('request', broken);
    llm.on('response', broken);
    llm.on('request', async () => {
      throw new Error('async listener');
    });
    for (let i = 0; i < 20; i++) await llm.chat({ model: 'mana/x', messages: USER });
    await new Promise((r) => setImmediate(r));
    const messages = warn.mock.calls.map((c) => String(c[0]));
    warn.mockRestore();
    expect(messages.filter((m) => m.includes('broken listener'))).toHaveLength(1);
    expect(messages.filter((m) => m.includes('async listener'))).toHaveLength(1);
  });

  it('a listener added to several events is reported under the event it threw on', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { llm } = await setup();
    const picky = (payload: object) => {
      if ('resolved' in payload) throw new Error('picky listener');
    };
    llm.on('request', picky);
    llm.on('response', picky);
    await llm.chat({ model: 'mana/x', messages: USER });
    const messages = warn.mock.calls.map((c) => String(c[0]));
    warn.mockRestore();
    expect(messages.filter((m) => m.includes('picky listener'))).toEqual([
      expect.stringContaining('an event listener (response,'),
    ]);
    // Removed from one event, it still hears the other.
    llm.off('response', picky);
    const heard: string[] = [];
    llm.on('request', () => void heard.push('request'));
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(heard).toEqual(['request']);
  });

  it('once fires a single time and off unsubscribes', async () => {
    const { llm } = await setup();
    const once = vi.fn();
    const on = vi.fn();
    llm.once('request', once);
    llm.on('response', on);
    await llm.chat({ model: 'mana/x', messages: USER });
    llm.off('response', on);
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(once).toHaveBeenCalledTimes(1);
    expect(on).toHaveBeenCalledTimes(1);
  });
});

describe('off() with a listener that was never added', () => {
  it('removes nothing: the listeners that were added still hear every event', async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const heard: string[] = [];
    llm.on('request', (e) => void heard.push(e.requested));
    llm.off('request', () => undefined);
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(heard).toEqual(['mana/x']);
  });
});

describe('off() with an event name and no listener', () => {
  it("removes that event's listeners only: the other events' are still heard", async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const heard: string[] = [];
    llm.on('request', () => void heard.push('request'));
    llm.on('response', () => void heard.push('response'));
    llm.off('request');
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(heard).toEqual(['response']);
  });
});

describe('off() with a listener added twice', () => {
  it('removes it entirely, as eventemitter3 does: it hears nothing more', async () => {
    const { llm } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m'] } });
    const heard = vi.fn();
    llm.on('request', heard);
    llm.on('request', heard);
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(heard).toHaveBeenCalledTimes(2);
    llm.off('request', heard);
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(heard).toHaveBeenCalledTimes(2);
  });
});

// docs/events.md's presence rules: a field the table marks absent is no key at all (not a key set to undefined:
// `'error' in e`, Object.keys and log serialisers would see it). Vitest's toEqual ignores undefined keys.
describe('event payloads carry exactly the documented keys', () => {
  const keys = (payload: unknown) => Object.keys(payload as object).sort();
  const NO_USAGE = JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'm2',
    choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  });

  it.each([
    [
      'a skipped entry (unconfigured): no error, durationMs or status',
      async (h: Awaited<ReturnType<typeof setup>>) => {
        h.b.enqueue({ reset: true });
        await rejection(h.llm.chat({ model: 'mana/ghost', messages: USER }));
        return h.events.of('fallback').map(keys);
      },
      [
        ['from', 'id', 'kind', 'reason', 'to'],
        ['durationMs', 'error', 'from', 'id', 'kind', 'reason', 'to'],
      ],
    ],
    [
      'an unknown alias: request without alias or params, failure without attempts',
      async (h: Awaited<ReturnType<typeof setup>>) => {
        await rejection(h.llm.chat({ model: 'mana/nope', messages: USER }));
        return [...h.events.of('request').map(keys), ...h.events.of('failure').map(keys)];
      },
      [
        ['id', 'kind', 'requested'],
        ['durationMs', 'error', 'id', 'kind', 'requested'],
      ],
    ],
    [
      'a served chat whose provider reported no usage: response without usage or firstChunkMs',
      async (h: Awaited<ReturnType<typeof setup>>) => {
        h.b.enqueue({ status: 200, body: NO_USAGE, headers: { 'content-type': 'application/json' } });
        await h.llm.chat({ model: 'b/m2', messages: USER });
        return h.events.of('response').map(keys);
      },
      [['attempts', 'durationMs', 'id', 'kind', 'requested', 'resolved']],
    ],
  ])('%s', async (_, run, expected) => {
    const h = await setup();
    expect(await run(h)).toEqual(expected);
  });

  it("an unknown alias fails in 0 ms; a caller's abort rejects with its reason, the event with a ManaLLMError and the time taken", async () => {
    const h = await setup();
    await rejection(h.llm.chat({ model: 'mana/nope', messages: USER }));
    expect(h.events.of('failure')[0]?.durationMs).toBe(0);
    h.a.enqueue({ hang: true });
    const ac = new AbortController();
    const call = rejection(h.llm.chat({ model: 'a/m1', messages: USER }, { signal: ac.signal }));
    await waitFor(() => h.a.count('chat') === 1, 'chat request at a');
    await h.clock.advanceAsync(250);
    const reason = new Error('user left');
    ac.abort(reason);
    expect(await call).toBe(reason);
    const failure = h.events.of('failure')[1];
    expect(failure?.error).toBeInstanceOf(ManaLLMError);
    expect(failure?.error.cause).toBe(reason);
    expect(failure?.durationMs).toBe(250);
  });
});

describe('health, probe and reload payloads carry exactly the documented keys', () => {
  const keys = (payload: unknown) => Object.keys(payload as object).sort();

  it('health: reason and unhealthyUntil when it opens, neither when it closes; probe: no error when ok', async () => {
    const h = await setup({ health: { failureThreshold: 1, cooldownMs: 1000 } });
    h.a.enqueue({ reset: true });
    await h.llm.chat({ model: 'mana/x', messages: USER });
    await h.clock.advanceAsync(1000);
    await h.llm.chat({ model: 'a/m1', messages: USER });
    expect(h.events.of('health').map(keys)).toEqual([
      ['consecutiveFailures', 'healthy', 'provider', 'reason', 'state', 'unhealthyUntil'],
      ['consecutiveFailures', 'healthy', 'provider', 'state'],
    ]);
    const probing = await setup({ health: { probes: true } });
    await probing.clock.advanceAsync(0);
    await waitFor(() => probing.events.count('probe') === 2, 'two probes');
    expect(probing.events.of('probe').map(keys)).toEqual([
      ['durationMs', 'ok', 'provider'],
      ['durationMs', 'ok', 'provider'],
    ]);
  });

  it('reload: aliases and no error on success', async () => {
    const h = await setup();
    await h.llm.reload();
    expect(h.events.of('reload').map(keys)).toEqual([['aliases', 'ok']]);
  });
});
