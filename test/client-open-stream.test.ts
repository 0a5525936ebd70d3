import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, UnknownAliasError } from '../src/index.js';
import {
  closeAll,
  collect,
  harness,
  KEY,
  refusedUrl,
  rejection,
  textOf,
  USER,
  waitFor,
} from './helpers/client.js';
import { hangingUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

describe('openStream', () => {
  it('resolves at the commit with routing and model; the held chunks come first, then the rest', async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    });
    h.up.a?.enqueue({ status: 500 });
    h.up.b?.enqueue({ reply: 'One two three', chunks: 3 });
    const s = await h.llm.openStream({ model: 'mana/x', messages: USER });
    expect(s.model).toBe('b/m2');
    expect(s.routing).toMatchObject({ requested: 'mana/x', alias: 'mana/x', resolved: 'b/m2' });
    expect(s.routing.attempts.map((a) => a.reason)).toEqual(['http-error', 'ok']);
    expect(h.events.count('resolved')).toBe(1);
    const chunks = await collect(s);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(textOf(chunks)).toBe('One two three');
    expect(h.events.count('response')).toBe(1);
  });

  it('rejects with the routing error before anything is handed out: unknown alias 404, nothing healthy 503', async () => {
    const h = await harness({
      upstreams: {},
      providers: { dead: { type: 'openai', baseUrl: await refusedUrl(), apiKey: KEY } },
      aliases: { 'mana/x': ['dead/m'] },
    });
    const unknown = await rejection(h.llm.openStream({ model: 'mana/nope', messages: USER }));
    expect(unknown).toBeInstanceOf(UnknownAliasError);
    expect((unknown as UnknownAliasError).httpStatus).toBe(404);
    const none = await rejection(h.llm.openStream({ model: 'mana/x', messages: USER }));
    expect(none).toBeInstanceOf(NoHealthyProviderError);
    expect((none as NoHealthyProviderError).httpStatus).toBe(503);
  });

  it.each([
    ['after its first next()', true],
    ['before its first next()', false],
  ])('returning the opened stream %s cancels the upstream request', async (_, readFirst) => {
    const hang = await hangingUpstream({ chunks: 1 });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const s = await h.llm.openStream({ model: 'mana/x', messages: USER });
    if (readFirst) expect((await s.next()).value).toMatchObject({ model: 'a/m1' });
    expect(await s.return()).toEqual({ done: true, value: undefined });
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(h.events.count('cancel')).toBe(1);
  });

  it('throw() before the first next() rejects with that error, cancels the upstream, and the stream is over', async () => {
    const hang = await hangingUpstream({ chunks: 1 });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const s = await h.llm.openStream({ model: 'mana/x', messages: USER });
    const mine = new Error('consumer gave up');
    expect(await rejection(s.throw(mine))).toBe(mine);
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(h.events.count('cancel')).toBe(1);
  });

  it('disposing the opened stream (await using) before its first next() cancels the upstream request', async () => {
    const hang = await hangingUpstream({ chunks: 1 });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const s = await h.llm.openStream({ model: 'mana/x', messages: USER });
    expect(await s[Symbol.asyncDispose]()).toBeUndefined();
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
    expect(await s.next()).toEqual({ done: true, value: undefined });
  });

  it('a clean stream without content resolves too, and ends at once', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    h.up.a?.enqueue({ reply: '', chunks: 1 });
    const s = await h.llm.openStream({ model: 'mana/x', messages: USER });
    expect(s.model).toBe('a/m1');
    expect(textOf(await collect(s))).toBe('');
  });
});

describe('llm.stream', () => {
  it('disposing the stream (await using) after its first chunk cancels the upstream request', async () => {
    const hang = await hangingUpstream({ chunks: 1 });
    const h = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const s = h.llm.stream({ model: 'mana/x', messages: USER }) as AsyncGenerator & AsyncDisposable;
    expect((await s.next()).value).toMatchObject({ model: 'a/m1' });
    expect(await s[Symbol.asyncDispose]()).toBeUndefined();
    await waitFor(() => hang.closedByClient === 1, 'upstream cancelled');
    expect(await s.next()).toEqual({ done: true, value: undefined });
    expect(h.events.count('cancel')).toBe(1);
  });
});
