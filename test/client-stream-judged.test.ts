import { afterEach, describe, expect, it } from 'vitest';
import { StreamInterruptedError } from '../src/index.js';
import { closeAll, collect, consume, harness, rejection, USER } from './helpers/client.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
    options: { health: { failureThreshold: 2, probes: false } },
  });
  h.up.b?.setDefault({ reply: 'Answer from b.', chunks: 3 });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

async function interrupted(llm: Awaited<ReturnType<typeof setup>>['llm']) {
  const s = consume(llm.stream(REQ));
  const err = await rejection(s.done);
  expect(err).toBeInstanceOf(StreamInterruptedError);
  expect((err as StreamInterruptedError).resolved).toBe('a/m1');
}

describe('a stream is judged by how it ends', () => {
  it('streams that break after their commit open the breaker after failureThreshold in a row; the next goes to b', async () => {
    const { llm, a, b } = await setup();
    a.setDefault({ streamThenReset: 2 });
    await interrupted(llm);
    // The commit of the second stream does not reset the count: its interruption is the second failure in a row.
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    await interrupted(llm);
    expect(llm.health().providers.a).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    const chunks = await collect(llm.stream(REQ));
    expect(chunks.every((c) => c.model === 'b/m2')).toBe(true);
    expect(a.count()).toBe(2);
    expect(b.count()).toBe(1);
  });

  it('a stream that ends cleanly resets the count', async () => {
    const { llm, a } = await setup();
    a.enqueue({ streamThenReset: 2 });
    await interrupted(llm);
    a.setDefault({ reply: 'fine', chunks: 2 });
    await collect(llm.stream(REQ));
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('a half-open trial that ends cleanly with no content is a success as it opens: breaker closed, count reset', async () => {
    const { llm, clock, a } = await setup();
    a.enqueue({ status: 500 }, { status: 500 });
    await collect(llm.stream(REQ));
    await collect(llm.stream(REQ));
    expect(llm.health().providers.a).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    await clock.advanceAsync(60_000);
    a.setDefault({ reply: '' });
    const stream = await llm.openStream(REQ);
    expect(stream.model).toBe('a/m1');
    // Judged before its end is read: nothing after the end can break it.
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    await collect(stream);
    // So one failure later the breaker is still closed (the two before the trial no longer count).
    a.enqueue({ status: 500 });
    await collect(llm.stream(REQ));
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });

  it("the caller's break after a commit is neither a success nor a failure", async () => {
    const { llm, a } = await setup();
    a.enqueue({ streamThenReset: 2 });
    await interrupted(llm);
    a.setDefault({ reply: 'one two three four', chunks: 4 });
    for await (const c of llm.stream(REQ)) {
      if (c.choices[0]?.delta.content) break;
    }
    expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });
});
