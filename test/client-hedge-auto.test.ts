// afterMs: 'auto' (from the latency estimate) and the client's hedging options.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM } from '../src/index.js';
import { closeAll, USER, waitFor } from './helpers/client.js';
import { heldUpstream, hedgeSetup as setup } from './helpers/hedge.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

describe("afterMs: 'auto'", () => {
  it('does not hedge a target with no latency sample, then hedges after its high estimate (mean + 3 deviations)', async () => {
    const a = await heldUpstream();
    const { llm, clock, up, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 'auto',
    });
    const first = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    await clock.advanceAsync(2000);
    expect(up.b!.count()).toBe(0);
    a.answer('after 2 s');
    expect((await first).model).toBe('a/m');
    // One sample of 2000 ms: mean 2000, deviation 1000, high estimate 5000.
    expect(llm.health().targets).toEqual([
      expect.objectContaining({
        target: 'a/m',
        latency: expect.objectContaining({ chat: expect.objectContaining({ ms: 2000 }) }),
      }),
    ]);
    const second = llm.chat(REQ);
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(4999);
    expect(up.b!.count()).toBe(0);
    await clock.advanceAsync(1);
    expect((await second).model).toBe('b/m');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ from: 'a/m', to: 'b/m', afterMs: 5000 })]);
  });

  it('never hedges sooner than hedging.autoMinMs', async () => {
    const a = await heldUpstream();
    const { llm, clock, events } = await setup({
      raw: { a },
      mocks: ['b'],
      chain: ['a', 'b'],
      hedge: 'auto',
      options: { hedging: { autoMinMs: 250 } },
    });
    const first = llm.chat(REQ);
    await waitFor(() => a.received === 1, 'request at a');
    a.answer('at once');
    await first;
    const second = llm.chat(REQ);
    await waitFor(() => a.received === 2, 'second request at a');
    await clock.advanceAsync(250);
    expect((await second).model).toBe('b/m');
    expect(events.of('hedge')).toEqual([expect.objectContaining({ afterMs: 250 })]);
  });
});

describe('hedging options', () => {
  it('are validated with their paths, an unknown key with a suggestion', () => {
    let err: unknown;
    try {
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
        hedging: { budgetRatio: 2, budgetMax: 0, autoMinMs: -1, budgetMx: 3 } as never,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual(
      expect.arrayContaining([
        { path: 'hedging.budgetRatio', message: 'must be <= 1' },
        { path: 'hedging.budgetMax', message: 'must be >= 1' },
        { path: 'hedging.autoMinMs', message: 'must be >= 0' },
        { path: 'hedging.budgetMx', message: expect.stringMatching(/budgetMax/) },
      ]),
    );
  });
});
