import { afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError, NoHealthyProviderError } from '../../src/index.js';
import { closeAll, collect, harness, rejection, USER } from '../helpers/client.js';

afterEach(closeAll);

describe('a direct provider/model string', () => {
  it('splits at the first slash: the rest, slashes and tag included, is the model (chat and stream)', async () => {
    const { llm, up } = await harness({ upstreams: { a: 'openai' } });
    const model = 'a/org/sub/model:7b';
    const res = await llm.chat({ model, messages: USER });
    expect(res.model).toBe(model);
    const chunks = await collect(llm.stream({ model, messages: USER }));
    expect(chunks.every((c) => c.model === model)).toBe(true);
    expect(up.a?.requests.map((r) => (r.body as { model: string }).model)).toEqual([
      'org/sub/model:7b',
      'org/sub/model:7b',
    ]);
    expect(llm.resolve(model).candidates).toMatchObject([
      { target: model, provider: 'a', model: 'org/sub/model:7b', state: 'ready' },
    ]);
  });

  it('naming a provider that is not configured is skipped without any I/O (chat and stream)', async () => {
    const { llm, up, events } = await harness({ upstreams: { a: 'openai' } });
    for (const call of [
      () => llm.chat({ model: 'ghost/a/m', messages: USER }),
      () => collect(llm.stream({ model: 'ghost/a/m', messages: USER })),
    ]) {
      const err = (await rejection(call())) as NoHealthyProviderError;
      expect(err).toBeInstanceOf(NoHealthyProviderError);
      expect(err.attempts).toEqual([{ target: 'ghost/a/m', reason: 'unconfigured' }]);
    }
    expect(up.a?.count()).toBe(0);
    expect(events.of('fallback')).toMatchObject([
      { from: 'ghost/a/m', to: null, reason: 'unconfigured' },
      { from: 'ghost/a/m', to: null, reason: 'unconfigured' },
    ]);
    expect(llm.resolve('ghost/a/m').candidates).toMatchObject([
      { target: 'ghost/a/m', provider: 'ghost', model: 'a/m', state: 'unconfigured' },
    ]);
  });

  it('a bare name goes to defaultProvider with its surrounding blanks cut; a blank one is refused', async () => {
    const { llm, up } = await harness({ upstreams: { a: 'openai' }, options: { defaultProvider: 'a' } });
    const res = await llm.chat({ model: '  m1 ', messages: USER });
    expect(res.model).toBe('a/m1');
    expect(up.a?.requests.map((r) => (r.body as { model: string }).model)).toEqual(['m1']);
    expect(llm.resolve(' m1 ').candidates).toMatchObject([{ target: 'a/m1', model: 'm1' }]);
    const err = await rejection(llm.chat({ model: '   ', messages: USER }));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(up.a?.count()).toBe(1);
  });
});

describe('a model that is no string', () => {
  it('is refused as the caller’s error; its request and failure events report requested as ""', async () => {
    const { llm, up, events } = await harness({ upstreams: { a: 'openai' } });
    const bad = { model: 123, messages: USER } as unknown as Parameters<typeof llm.chat>[0];
    expect(await rejection(llm.chat(bad))).toBeInstanceOf(InvalidRequestError);
    expect(events.of('request')).toMatchObject([{ requested: '' }]);
    expect(events.of('failure')).toMatchObject([{ requested: '' }]);
    expect(up.a?.count()).toBe(0);
  });
});
