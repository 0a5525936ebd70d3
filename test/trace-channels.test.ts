import { tracingChannel } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, NoHealthyProviderError, UnknownAliasError } from '../src/index.js';
import type { ManaTraceMessage } from '../src/trace-channels.js';
import { closeAll, harness, KEY, rejection, track, USER, upstream } from './helpers/client.js';

afterEach(closeAll);

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

/** Subscribes to one tracing channel; every publication is recorded with a snapshot of the message. */
function listen(name: string) {
  const seen: { phase: Phase; msg: ManaTraceMessage; snap: Record<string, unknown> }[] = [];
  const ch = tracingChannel<unknown, ManaTraceMessage & object>(name);
  const on = (phase: Phase) => (msg: ManaTraceMessage) => void seen.push({ phase, msg, snap: { ...msg } });
  const handlers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  };
  ch.subscribe(handlers);
  unsubscribe.push(() => ch.unsubscribe(handlers));
  return { seen, phases: () => seen.map((s) => s.phase) };
}

const unsubscribe: (() => void)[] = [];
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u();
});

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'ollama' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
  });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('node:diagnostics_channel tracing channels', () => {
  it('mana-llm:chat: start with the request, asyncEnd with the routing, a fallback included', async () => {
    const { llm, a } = await setup();
    const chat = listen('mana-llm:chat');
    a.enqueue({ status: 502 });
    const request = { model: 'mana/x', messages: USER, temperature: 0.3 };
    const res = await llm.chat(request);
    expect(chat.phases()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const [start, , , end] = chat.seen;
    expect(start?.snap).toMatchObject({ kind: 'chat', request });
    const msg = end?.msg as ManaTraceMessage;
    expect(msg).toMatchObject({
      id: expect.any(String),
      requested: 'mana/x',
      alias: 'mana/x',
      resolved: 'b/m2',
    });
    expect(msg.attempts?.map((x) => [x.target, x.reason, x.status])).toEqual([
      ['a/m1', 'http-error', 502],
      ['b/m2', 'ok', undefined],
    ]);
    expect(msg.usage).toEqual(res.usage);
    expect(msg.result).toBe(res);
  });

  it('mana-llm:chat: a failed call publishes error with what was tried', async () => {
    const { llm, a, b } = await setup();
    const chat = listen('mana-llm:chat');
    a.enqueue({ status: 500 });
    b.enqueue({ status: 500 });
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(chat.phases()).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(chat.seen[2]?.msg.error).toBe(err);
    expect(chat.seen[2]?.msg.attempts).toHaveLength(2);
  });

  it('mana-llm:stream: start at the walk, asyncEnd at the end with the first-chunk time and usage', async () => {
    const { llm } = await setup();
    const stream = listen('mana-llm:stream');
    const chunks = llm.stream({ model: 'mana/x', messages: USER, stream_options: { include_usage: true } });
    expect(stream.phases()).toEqual([]);
    for await (const _ of chunks);
    expect(stream.phases()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(stream.seen[0]?.snap).toMatchObject({ kind: 'stream', requested: 'mana/x', alias: 'mana/x' });
    expect(stream.seen[3]?.msg).toMatchObject({
      resolved: 'a/m1',
      firstChunkMs: 0,
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
    });
    expect(stream.seen[3]?.msg.cancelled).toBeUndefined();
  });

  it("mana-llm:stream: asyncEnd carries the served entry and usage with no 'response' listener too", async () => {
    const a = await upstream('openai');
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m1'] } } },
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    const stream = listen('mana-llm:stream');
    const chunks = llm.stream({ model: 'mana/x', messages: USER, stream_options: { include_usage: true } });
    for await (const _ of chunks);
    expect(stream.phases()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(stream.seen[3]?.msg).toMatchObject({
      resolved: 'a/m1',
      usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
    });
  });

  it('mana-llm:stream: a stream the consumer stops ends as cancelled; an unknown alias as an error', async () => {
    const { llm, a } = await setup();
    const stream = listen('mana-llm:stream');
    a.enqueue({ streamThenStall: 2 });
    for await (const _ of llm.stream({ model: 'mana/x', messages: USER })) break;
    expect(stream.phases()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(stream.seen[3]?.msg).toMatchObject({ resolved: 'a/m1', cancelled: true });
    stream.seen.length = 0;
    const err = await rejection(llm.stream({ model: 'mana/nope', messages: USER }).next());
    expect(err).toBeInstanceOf(UnknownAliasError);
    expect(stream.phases()).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(stream.seen[2]?.msg).toMatchObject({ requested: 'mana/nope', error: err });
  });

  it('mana-llm:embed carries embeddings calls; other channels stay silent', async () => {
    const { llm } = await setup();
    const embed = listen('mana-llm:embed');
    const chat = listen('mana-llm:chat');
    const res = await llm.embed({ model: 'mana/x', input: ['a'] });
    expect(embed.phases()).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(embed.seen[3]?.msg).toMatchObject({ kind: 'embed', resolved: 'a/m1', result: res });
    expect(chat.seen).toEqual([]);
  });
});
