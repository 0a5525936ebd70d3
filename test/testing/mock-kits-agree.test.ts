// The two mocks of mana-llm/testing agree: a partial-stream behaviour given to a call that does not stream (chat,
// embed) fails it as the cut stream would — a reset as a connection error, a stall as a timeout, a clean early end
// as a bad response — never as a normal (empty) answer.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AttemptReason,
  createManaLLM,
  type ManaLLM,
  NoHealthyProviderError,
  ProviderConnectionError,
  type ProviderError,
  ProviderResponseError,
  ProviderTimeoutError,
} from '../../src/index.js';
import { createMockProvider, type MockBehavior, type MockFailure } from '../../src/testing/index.js';
import { client, closeAll, ioTurns, mock, PROTOCOLS, settle, TYPE, waitFor } from '../reliability/support.js';

afterEach(closeAll);

type ErrorClass = abstract new (...args: never[]) => ProviderError;

const ATTEMPT_MS = 5_000;

/** Each upstream behaviour, the provider step that scripts the same failure, and what the caller sees. */
const CASES: { b: MockBehavior; fail: MockFailure; reason: AttemptReason; error: ErrorClass }[] = [
  { b: { streamThenReset: 2 }, fail: 'connection', reason: 'connection', error: ProviderConnectionError },
  { b: { streamThenStall: 2 }, fail: 'timeout', reason: 'timeout', error: ProviderTimeoutError },
  { b: { streamThenEnd: 2 }, fail: 'bad-response', reason: 'bad-response', error: ProviderResponseError },
];

/** How a call of one entry failed: the attempt's reason and the error behind it. */
async function failureOf(llm: ManaLLM, op: 'chat' | 'embed', advance: () => Promise<void>) {
  const call: Promise<unknown> =
    op === 'chat'
      ? llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] })
      : llm.embed({ model: 'mana/x', input: ['a'] });
  const settled = settle(call);
  await advance();
  const { value, error } = await settled;
  expect(value).toBeUndefined();
  expect(error).toBeInstanceOf(NoHealthyProviderError);
  const attempts = (error as NoHealthyProviderError).attempts;
  expect(attempts).toHaveLength(1);
  return { reason: attempts[0]?.reason, cause: (error as NoHealthyProviderError).cause };
}

describe.each(PROTOCOLS)(
  'startMockUpstream ($protocol): partial-stream behaviour, call not streamed',
  (p) => {
    for (const c of CASES) {
      for (const op of ['chat', 'embed'] as const) {
        if (op === 'embed' && !p.embeddings) continue;
        it(`${Object.keys(c.b)[0]} fails a ${op} call with reason ${c.reason}`, async () => {
          const up = await mock(p.protocol);
          up.enqueue(c.b);
          const { llm, clock } = client(
            { a: { type: TYPE[p.protocol], baseUrl: up.url, apiKey: 'sk-kit-key', timeoutMs: ATTEMPT_MS } },
            { 'mana/x': [`a/${p.model}`] },
          );
          const got = await failureOf(llm, op, async () => {
            await waitFor(() => up.count(op) === 1, `the ${op} request`);
            await ioTurns();
            await clock.advanceAsync(ATTEMPT_MS);
          });
          expect(got.reason).toBe(c.reason);
          expect(got.cause).toBeInstanceOf(c.error);
          expect(up.count()).toBe(1);
        });
      }
    }
  },
);

describe('createMockProvider: the same failure scripted as a streamThenFail step', () => {
  for (const c of CASES) {
    for (const op of ['chat', 'embed'] as const) {
      it(`streamThenFail with fail ${c.fail} fails a ${op} call with reason ${c.reason}`, async () => {
        const adapter = createMockProvider();
        adapter.enqueue({ streamThenFail: 2, fail: c.fail });
        const llm = createManaLLM({
          aliases: { aliases: { 'mana/x': { chain: ['mock/m'] } } },
          providers: { mock: { type: 'custom', adapter } },
          health: { probes: false },
        });
        try {
          const got = await failureOf(llm, op, async () => {});
          expect(got.reason).toBe(c.reason);
          expect(got.cause).toBeInstanceOf(c.error);
        } finally {
          await llm.close();
        }
      });
    }
  }
});
