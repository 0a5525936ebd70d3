import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError } from '../../src/index.js';
import { client, closeAll, mock, settle, waitFor } from './support.js';

afterEach(closeAll);

const REQ = { model: 'a/m', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('a half-open trial whose breaker re-opened under it', () => {
  it('does not end the next trial when its caller aborts: the provider keeps one trial at a time', async () => {
    const a = await mock('openai');
    // X hangs, Y and Z fail (the breaker opens), the trials A and B hang; anything after them would be answered.
    a.enqueue({ hang: true }, { status: 503 }, { status: 503 }, { hang: true }, { hang: true });
    const { llm, clock } = client(
      { a: { type: 'openai', baseUrl: a.url } },
      { 'mana/x': ['a/m'] },
      { health: { cooldownMs: 1_000 } },
    );
    const x = settle(llm.chat(REQ, { timeoutMs: 2_000 }));
    await waitFor(() => a.count('chat') === 1, 'X sent');
    await settle(llm.chat(REQ));
    await settle(llm.chat(REQ));
    expect(llm.health().providers.a?.state).toBe('open');
    await clock.advanceAsync(1_000);
    // A is the half-open trial; X times out meanwhile, which re-opens the breaker (A's trial is over).
    const abortA = new AbortController();
    const trialA = settle(llm.chat(REQ, { timeoutMs: 30_000, signal: abortA.signal }));
    await waitFor(() => a.count('chat') === 4, 'A sent');
    await clock.advanceAsync(1_000);
    expect((await x).error).toBeInstanceOf(NoHealthyProviderError);
    expect(llm.health().providers.a?.state).toBe('open');
    // Half-open again: B is the new trial.
    await clock.advanceAsync(1_000);
    const trialB = settle(llm.chat(REQ, { timeoutMs: 30_000 }));
    await waitFor(() => a.count('chat') === 5, 'B sent');
    const calledBefore = a.count('chat');
    abortA.abort(new Error('A gave up'));
    expect((await trialA).error).toMatchObject({ message: 'A gave up' });
    // B's trial still runs: the next call skips the provider.
    const d = await settle(llm.chat(REQ, { timeoutMs: 30_000 }));
    expect(d.error).toBeInstanceOf(NoHealthyProviderError);
    expect((d.error as NoHealthyProviderError).attempts.map((t) => t.reason)).toEqual(['unhealthy']);
    expect(a.count('chat')).toBe(calledBefore);
    void trialB;
  });
});
