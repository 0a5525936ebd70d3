import { afterEach, describe, expect, it } from 'vitest';
import {
  type AttemptReason,
  type ManaLLM,
  type ManaLLMEvents,
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderConnectionError,
  type ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
} from '../../src/index.js';
import type { MockBehavior, MockProtocol, MockUpstream } from '../../src/testing/index.js';
import { coolingTargets } from '../helpers/client.js';
import {
  type ClosingUpstream,
  client,
  closeAll,
  closingUpstream,
  consume,
  type EventLog,
  ioTurns,
  mock,
  PROTOCOLS,
  refusedUrl,
  settle,
  TYPE,
  textOf,
  unresolvableUrl,
  waitFor,
} from './support.js';

afterEach(closeAll);

type Op = 'chat' | 'stream' | 'embed';
type ErrorClass = abstract new (...args: never[]) => ProviderError;

/** How the faulty first entry misbehaves. */
type Fault = { b: MockBehavior } | 'refused' | 'dns';

/** What the fallback table promises for the call, and for the first entry's provider health. */
type Outcome =
  /** The first entry serves; nothing counts against anyone; the second is never contacted. */
  | { served: 'a' }
  /** Falls through to the second entry with this attempt reason; `health` is what happens to provider `a`. */
  | { served: 'b'; reason: AttemptReason; error: ErrorClass; health: 'failure' | 'cool' | 'none' }
  /** The stream had committed to `a`: it ends with StreamInterruptedError (cause `error`); `b` is never contacted. */
  | { interrupted: ErrorClass }
  /** The caller's error propagates; health untouched; `b` never contacted. */
  | { propagates: ErrorClass; reason?: AttemptReason; status?: number };

interface Row {
  name: string;
  fault: Fault;
  ops: readonly Op[];
  outcome: Outcome;
  /** Fake-clock ms to advance once the request reached the upstream (timeouts). */
  advance?: number;
}

const ALL: readonly Op[] = ['chat', 'stream', 'embed'];
const CHAT: readonly Op[] = ['chat', 'stream'];
const STREAM: readonly Op[] = ['stream'];
const ATTEMPT_MS = 5_000;
const RETRY_AFTER_S = 7;

const conn = {
  served: 'b',
  reason: 'connection',
  error: ProviderConnectionError,
  health: 'failure',
} as const;
const timeout = { served: 'b', reason: 'timeout', error: ProviderTimeoutError, health: 'failure' } as const;

const httpError = { served: 'b', reason: 'http-error', error: ProviderHTTPError, health: 'failure' } as const;

/** Every HTTP status at a boundary of the table, before any byte of a reply (chat and stream alike). */
function STATUS_ROWS(): Row[] {
  const row = (status: number, outcome: Outcome): Row => ({
    name: `HTTP ${status}`,
    fault: { b: { status } },
    ops: CHAT,
    outcome,
  });
  const caller = (status: number): Outcome => ({
    propagates: ProviderHTTPError,
    reason: 'caller-error',
    status,
  });
  const auth = (status: number): Outcome => ({ propagates: ProviderAuthError, reason: 'auth', status });
  return [
    row(400, caller(400)),
    row(401, auth(401)),
    row(403, auth(403)),
    row(404, { served: 'b', reason: 'model-not-found', error: ProviderHTTPError, health: 'none' }),
    row(408, httpError),
    row(409, caller(409)),
    row(413, caller(413)),
    row(422, caller(422)),
    ...[500, 501, 502, 504, 529].map((s) => row(s, httpError)),
  ];
}

/** The fallback table of docs/fallback.md, one row per fault. */
const ROWS: readonly Row[] = [
  { name: 'connection refused', fault: 'refused', ops: ALL, outcome: conn },
  { name: 'DNS failure (.invalid host)', fault: 'dns', ops: ALL, outcome: conn },
  { name: 'reset before headers', fault: { b: { reset: true } }, ops: ALL, outcome: conn },
  {
    name: 'hang before headers',
    fault: { b: { hang: true } },
    ops: ALL,
    outcome: timeout,
    advance: ATTEMPT_MS,
  },
  {
    name: 'headers, then stall',
    fault: { b: { stallAfterHeaders: true } },
    ops: ALL,
    outcome: timeout,
    advance: ATTEMPT_MS,
  },
  {
    name: 'stall mid-stream (idle)',
    fault: { b: { streamThenStall: 2 } },
    ops: STREAM,
    outcome: { interrupted: ProviderTimeoutError },
    advance: ATTEMPT_MS,
  },
  {
    name: 'socket destroyed mid-stream',
    fault: { b: { streamThenReset: 2 } },
    ops: STREAM,
    outcome: { interrupted: ProviderConnectionError },
  },
  {
    name: 'stream ends without finish reason or end marker',
    fault: { b: { streamThenEnd: 2 } },
    ops: STREAM,
    outcome: { interrupted: ProviderResponseError },
  },
  {
    name: 'truncated JSON / malformed SSE-NDJSON',
    fault: { b: { malformed: true } },
    ops: ALL,
    outcome: { served: 'b', reason: 'bad-response', error: ProviderResponseError, health: 'failure' },
  },
  {
    name: 'in-band server error in a 200',
    fault: { b: { inBandError: 'server' } },
    ops: ALL,
    outcome: { served: 'b', reason: 'http-error', error: ProviderHTTPError, health: 'failure' },
  },
  {
    name: 'in-band error frame after the first content chunk',
    fault: { b: { inBandError: 'server', after: 2 } },
    ops: STREAM,
    outcome: { interrupted: ProviderHTTPError },
  },
  {
    name: 'in-band auth error in a 200',
    fault: { b: { inBandError: 'auth' } },
    ops: ALL,
    outcome: { propagates: ProviderAuthError },
  },
  {
    name: 'HTTP 503',
    fault: { b: { status: 503 } },
    ops: ALL,
    outcome: { served: 'b', reason: 'http-error', error: ProviderHTTPError, health: 'failure' },
  },
  {
    name: 'HTTP 429 with Retry-After',
    fault: { b: { status: 429, headers: { 'retry-after': String(RETRY_AFTER_S) } } },
    ops: ALL,
    outcome: { served: 'b', reason: 'rate-limited', error: ProviderRateLimitError, health: 'cool' },
  },
  {
    name: 'HTTP 429 without Retry-After',
    fault: { b: { status: 429 } },
    ops: ALL,
    outcome: { served: 'b', reason: 'rate-limited', error: ProviderRateLimitError, health: 'failure' },
  },
  ...STATUS_ROWS(),
  {
    name: 'slow byte-by-byte delivery',
    fault: { b: { slow: 'Slow, but complete.' } },
    ops: CHAT,
    outcome: { served: 'a' },
  },
];

const REPLY_A = 'Slow, but complete.';
const REPLY_B = 'from b';

interface Setup {
  llm: ManaLLM;
  clock: ReturnType<typeof client>['clock'];
  events: EventLog;
  a: MockUpstream | undefined;
  b: MockUpstream;
  target: string;
}

async function setup(protocol: MockProtocol, model: string, fault: Fault): Promise<Setup> {
  const a = typeof fault === 'object' ? await mock(protocol) : undefined;
  if (a && typeof fault === 'object') a.enqueue(fault.b);
  const b = await mock('openai');
  b.setDefault({ reply: REPLY_B });
  const aUrl = a ? a.url : fault === 'dns' ? unresolvableUrl(protocol) : await refusedUrl(protocol);
  const { llm, clock, events } = client(
    {
      a: { type: TYPE[protocol], baseUrl: aUrl, apiKey: 'sk-fault-matrix-key', timeoutMs: ATTEMPT_MS },
      b: { type: 'openai', baseUrl: b.url, apiKey: 'sk-fault-matrix-key' },
    },
    { 'mana/x': [`a/${model}`, 'b/m2'] },
    { timeouts: { totalMs: 30_000, firstChunkMs: ATTEMPT_MS, idleMs: ATTEMPT_MS } },
  );
  return { llm, clock, events, a, b, target: `a/${model}` };
}

interface Result {
  model?: string;
  text?: string;
  error?: unknown;
  /** Stream only: what the consumer received before the end. */
  chunks?: { model: string; text: string }[];
}

const REQ = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };

/** Starts `op`, moves the fake clock when the row needs it, and returns how the call ended. */
async function run(s: Setup, op: Op, row: Row): Promise<Result> {
  const clockDriven = async (committed: () => boolean) => {
    if (row.advance === undefined) return;
    await waitFor(() => (s.a?.count(op) ?? 0) === 1, `the request at a (${op})`);
    await waitFor(committed, 'the upstream to stall');
    await ioTurns();
    await s.clock.advanceAsync(row.advance);
  };
  if (op === 'stream') {
    const c = consume(s.llm.stream(REQ));
    const stallsMidStream = 'interrupted' in row.outcome;
    await clockDriven(() => !stallsMidStream || textOf(c.chunks).length > 0);
    const { chunks, error } = await c.done;
    const parts = chunks.map((x) => ({ model: x.model, text: x.choices[0]?.delta.content ?? '' }));
    return error === undefined
      ? { model: chunks[0]?.model ?? '', text: textOf(chunks), chunks: parts }
      : { error, chunks: parts };
  }
  const call =
    op === 'chat'
      ? s.llm.chat(REQ).then((r) => ({ model: r.model, text: r.choices[0]?.message.content ?? '' }))
      : s.llm.embed({ model: 'mana/x', input: ['a', 'b'] }).then((r) => ({ model: r.model, text: '' }));
  const settled = settle(call);
  await clockDriven(() => true);
  const r = await settled;
  return r.error === undefined ? (r.value as Result) : { error: r.error };
}

function expectHealth(llm: ManaLLM, provider: string, failures: number): void {
  const p = llm.health().providers[provider];
  expect(p).toMatchObject({ healthy: true, state: 'closed', consecutiveFailures: failures });
  if (failures > 0) expect(p?.lastError).toEqual(expect.any(String));
}

describe.each(PROTOCOLS)('fault matrix through the client: $protocol first, healthy openai second', (p) => {
  for (const row of ROWS) {
    for (const op of row.ops) {
      if (op === 'embed' && !p.embeddings) continue;
      it(`${row.name} — ${op}`, async () => {
        const s = await setup(p.protocol, p.model, row.fault);
        const t0 = s.clock.now();
        const r = await run(s, op, row);
        const o = row.outcome;
        const fallbacks = s.events.all.filter((e) => e.name === 'fallback');
        // No entry is ever tried twice in one call; no breaker flips on a single failure (threshold 2).
        if (s.a) expect(s.a.count(op)).toBe(1);
        expect(s.events.count('health')).toBe(0);
        expectHealth(s.llm, 'b', 0);

        if ('served' in o && o.served === 'a') {
          expect(r.error).toBeUndefined();
          expect(r.model).toBe(s.target);
          if (op !== 'embed') expect(r.text).toBe(REPLY_A);
          expect(s.b.count()).toBe(0);
          expect(fallbacks).toEqual([]);
          expectHealth(s.llm, 'a', 0);
          expect(coolingTargets(s.llm)).toEqual([]);
        } else if ('served' in o) {
          expect(r.error).toBeUndefined();
          expect(r.model).toBe('b/m2');
          if (op !== 'embed') expect(r.text).toBe(REPLY_B);
          // The consumer of a stream never sees a byte of the failed entry.
          if (r.chunks) expect(r.chunks.every((c) => c.model === 'b/m2')).toBe(true);
          expect(s.b.count(op)).toBe(1);
          expect(s.b.count()).toBe(1);
          expect(fallbacks).toHaveLength(1);
          const f = fallbacks[0]?.payload as ManaLLMEvents['fallback'];
          expect(f).toMatchObject({ from: s.target, to: 'b/m2', reason: o.reason });
          expect(f.error).toBeInstanceOf(o.error);
          if (row.fault === 'dns')
            expect((f.error?.cause as { code?: string } | undefined)?.code).toMatch(
              /^(ENOTFOUND|EAI_AGAIN)$/,
            );
          if (o.health === 'failure') {
            expectHealth(s.llm, 'a', 1);
            expect(coolingTargets(s.llm)).toEqual([]);
          } else if (o.health === 'none') {
            expectHealth(s.llm, 'a', 0);
            expect(coolingTargets(s.llm)).toEqual([]);
          } else {
            expectHealth(s.llm, 'a', 0);
            expect(coolingTargets(s.llm)).toEqual([{ target: s.target, until: t0 + RETRY_AFTER_S * 1000 }]);
          }
        } else if ('interrupted' in o) {
          const err = r.error as StreamInterruptedError;
          expect(err).toBeInstanceOf(StreamInterruptedError);
          expect(err.resolved).toBe(s.target);
          expect(err.cause).toBeInstanceOf(o.interrupted);
          // What arrived is exactly what the error reports as partial, all of it from the first entry.
          const received = (r.chunks ?? []).map((c) => c.text).join('');
          expect(received.length).toBeGreaterThan(0);
          expect(err.partial.content).toBe(received);
          expect(r.chunks?.every((c) => c.model === s.target)).toBe(true);
          expect(s.b.count()).toBe(0);
          expect(fallbacks).toEqual([]);
          expect(s.events.count('failure')).toBe(1);
          expectHealth(s.llm, 'a', 1);
        } else {
          expect(r.error).toBeInstanceOf(o.propagates);
          if (o.status !== undefined) expect((r.error as ProviderError).status).toBe(o.status);
          if (o.reason !== undefined) {
            const failed = s.events.all.find((e) => e.name === 'failure')
              ?.payload as ManaLLMEvents['failure'];
            expect(failed.attempts?.map((a) => [a.target, a.reason])).toEqual([[s.target, o.reason]]);
          }
          expect(s.b.count()).toBe(0);
          expect(fallbacks).toEqual([]);
          expect(s.events.count('failure')).toBe(1);
          expectHealth(s.llm, 'a', 0);
          expect(coolingTargets(s.llm)).toEqual([]);
        }
      });
    }
  }
});

describe.each(PROTOCOLS)('bursts and connection churn: $protocol', (p) => {
  const chat = (llm: ManaLLM) => llm.chat(REQ);

  it('a 5xx burst opens the breaker after failureThreshold calls; the rest skip it until the cool-down', async () => {
    const s = await setup(p.protocol, p.model, { b: { status: 503 } });
    s.a?.setDefault({ status: 503 });
    for (let i = 0; i < 4; i++) expect((await chat(s.llm)).model).toBe('b/m2');
    expect(s.a?.count('chat')).toBe(2);
    const h = s.llm.health().providers.a;
    expect(h).toMatchObject({ healthy: false, state: 'open', consecutiveFailures: 2, lastError: 'HTTP 503' });
    const flips = s.events.all.filter((e) => e.name === 'health').map((e) => e.payload);
    expect(flips).toEqual([expect.objectContaining({ provider: 'a', healthy: false, state: 'open' })]);
    // After the cool-down the next call is the trial; a recovered upstream closes the breaker.
    s.a?.setDefault({ reply: 'back' });
    await s.clock.advanceAsync(60_000);
    const res = await chat(s.llm);
    expect(res.model).toBe(s.target);
    expect(s.llm.health().providers.a).toMatchObject({
      healthy: true,
      state: 'closed',
      consecutiveFailures: 0,
    });
    expect(s.b.count()).toBe(4);
  });

  it('a 429 burst with Retry-After cools only the target: later calls skip it without contacting it', async () => {
    const s = await setup(p.protocol, p.model, { b: { status: 429, headers: { 'retry-after': '7' } } });
    s.a?.setDefault({ status: 429, headers: { 'retry-after': '7' } });
    const t0 = s.clock.now();
    for (let i = 0; i < 3; i++) expect((await chat(s.llm)).model).toBe('b/m2');
    expect(s.a?.count('chat')).toBe(1);
    const res = await chat(s.llm);
    expect(res.routing.attempts[0]).toEqual({ target: s.target, reason: 'cooling' });
    expect(s.llm.health().status).toBe('healthy');
    expect(coolingTargets(s.llm)).toEqual([{ target: s.target, until: t0 + 7000 }]);
    expect(s.llm.health().providers.a?.consecutiveFailures).toBe(0);
    await s.clock.advanceAsync(7000);
    s.a?.setDefault({ reply: 'cooled down' });
    expect((await chat(s.llm)).model).toBe(s.target);
    expect(coolingTargets(s.llm)).toEqual([]);
  });

  it('a 429 burst without Retry-After counts as provider failures and opens the breaker', async () => {
    const s = await setup(p.protocol, p.model, { b: { status: 429 } });
    s.a?.setDefault({ status: 429 });
    for (let i = 0; i < 3; i++) expect((await chat(s.llm)).model).toBe('b/m2');
    expect(s.a?.count('chat')).toBe(2);
    expect(s.llm.health().providers.a).toMatchObject({ state: 'open', consecutiveFailures: 2 });
    expect(coolingTargets(s.llm)).toEqual([]);
  });

  it('when every entry fails, NoHealthyProviderError lists each attempt and nothing is retried', async () => {
    const s = await setup(p.protocol, p.model, { b: { status: 500 } });
    s.b.setDefault({ status: 502 });
    const err = (await settle(chat(s.llm))).error as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((x) => [x.target, x.reason, x.status])).toEqual([
      [s.target, 'http-error', 500],
      ['b/m2', 'http-error', 502],
    ]);
    expect(err.cause).toBeInstanceOf(ProviderHTTPError);
    expect([s.a?.count(), s.b.count()]).toEqual([1, 1]);
  });

  for (const mode of ['connection-close', 'destroy-idle'] as const) {
    it(`an upstream that drops keep-alive sockets between calls (${mode}): every call still served by it`, async () => {
      const up: ClosingUpstream = await closingUpstream(p.protocol, mode);
      const b = await mock('openai');
      const { llm } = client(
        {
          a: { type: TYPE[p.protocol], baseUrl: up.url, apiKey: 'sk-fault-matrix-key' },
          b: { type: 'openai', baseUrl: b.url },
        },
        { 'mana/x': [`a/${p.model}`, 'b/m2'] },
      );
      const ops: Op[] = ['chat', 'stream', 'chat', 'stream', ...(p.embeddings ? (['embed'] as Op[]) : [])];
      for (const op of ops) {
        if (op === 'chat') expect((await llm.chat(REQ)).choices[0]?.message.content).toBe('kept');
        if (op === 'embed')
          expect((await llm.embed({ model: 'mana/x', input: 'x' })).model).toBe(`a/${p.model}`);
        if (op === 'stream') {
          const { done } = consume(llm.stream(REQ));
          const { chunks, error } = await done;
          expect(error).toBeUndefined();
          expect(textOf(chunks)).toBe('kept going');
        }
        // The server has dropped the connection before the next call goes out.
        await waitFor(() => up.openSockets === 0, 'the upstream to drop its socket');
        await ioTurns();
      }
      expect(up.requests).toBe(ops.length);
      expect(up.connections).toBe(ops.length);
      expect(b.count()).toBe(0);
      expect(llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    });
  }
});
