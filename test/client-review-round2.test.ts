import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createManaLLM,
  InvalidRequestError,
  NoHealthyProviderError,
  type ProviderAdapter,
} from '../src/index.js';
import { closeAll, KEY, rejection, track, USER, waitFor } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

/** An OpenAI-compatible upstream holding every request until the test answers it. */
async function holding() {
  const held: ServerResponse[] = [];
  const up = await rawUpstream((_body, res) => void held.push(res));
  return { url: up.url, held, received: () => up.received };
}

function client(url: string) {
  return track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: { a: { type: 'openai', baseUrl: url, apiKey: KEY } },
      health: { probes: false },
    }),
  );
}

describe('a caller abort reason with no string form', () => {
  it('is rethrown as is, with a failure listener attached', async () => {
    const up = await holding();
    const llm = client(up.url);
    const failures: unknown[] = [];
    llm.on('failure', (e) => void failures.push(e));
    for (const reason of [Object.create(null), Object.assign(new Error('x'), { message: Symbol('s') })]) {
      const ac = new AbortController();
      const call = llm.chat({ model: 'a/m', messages: USER }, { signal: ac.signal });
      await waitFor(() => up.held.length > 0, 'the request at the upstream');
      up.held.length = 0;
      ac.abort(reason);
      expect(await rejection(call)).toBe(reason);
    }
    expect(failures).toHaveLength(2);
  });
});

describe('a listener that throws a value with no string form', () => {
  it('does not reach the call', async () => {
    const up = await holding();
    const llm = client(up.url);
    llm.on('request', () => {
      throw Object.create(null);
    });
    const call = llm.chat({ model: 'a/m', messages: USER });
    await waitFor(() => up.held.length === 1, 'the request at the upstream');
    const res = up.held.shift() as ServerResponse;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      }),
    );
    expect((await call).choices[0]?.message.content).toBe('hi');
  });
});

describe('a custom adapter that throws a value with no string form', () => {
  it('fails its attempt as bad-response, and models() reports it', async () => {
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(Object.create(null)),
      stream: () => {
        throw Object.create(null);
      },
      embed: () => Promise.reject(Object.create(null)),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.reject(Object.create(null)),
    };
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['mine/m'] } } },
        providers: { mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts[0]?.reason).toBe('bad-response');
    const models = await llm.models();
    expect(models.errors).toEqual([{ provider: 'mine', error: '(a value with no text form)' }]);
  });
});

describe('a huge model string with no provider', () => {
  it('is cut to 200 characters in the InvalidRequestError message', async () => {
    const up = await holding();
    const llm = client(up.url);
    const model = `m${'x'.repeat(100_000)}`;
    const err = (await rejection(llm.chat({ model, messages: USER }))) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain('names no provider');
    expect(err.message.length).toBeLessThan(400);
  });
});
