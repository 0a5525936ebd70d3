import { afterEach, describe, expect, it } from 'vitest';
import {
  type ChatRequest,
  InvalidRequestError,
  type ManaLLM,
  type ProviderAdapter,
} from '../../src/index.js';
import type { MockUpstream } from '../../src/testing/index.js';
import { client, closeAll, mock, PROTOCOLS, settle, TYPE } from './support.js';

afterEach(closeAll);

/** A tool schema of `depth` nested arrays: 12 KB of JSON at 6,000 levels, from any end user. */
function deepSchema(depth: number): unknown {
  return JSON.parse(`{"type":"object","properties":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`);
}

function toolRequest(parameters: unknown): ChatRequest {
  return {
    model: 'mana/x',
    messages: [{ role: 'user', content: 'Hi' }],
    tools: [{ type: 'function', function: { name: 'f', parameters: parameters as Record<string, unknown> } }],
  };
}

/** Every protocol in one chain, each behind a real upstream. */
async function chainOfAll(options: Parameters<typeof client>[2] = {}) {
  const ups: MockUpstream[] = [];
  const providers: Record<
    string,
    { type: (typeof TYPE)[keyof typeof TYPE]; baseUrl: string; apiKey: string }
  > = {};
  for (const p of PROTOCOLS) {
    const up = await mock(p.protocol);
    ups.push(up);
    providers[p.protocol] = { type: TYPE[p.protocol], baseUrl: up.url, apiKey: 'k' };
  }
  const { llm, events } = client(
    providers,
    { 'mana/x': PROTOCOLS.map((p) => `${p.protocol}/${p.model}`) },
    options,
  );
  return { llm, ups, events };
}

function breakers(llm: ManaLLM): string[] {
  return Object.entries(llm.health().providers).map(([id, h]) => `${id}:${h.state}/${h.consecutiveFailures}`);
}

const CLOSED = PROTOCOLS.map((p) => `${p.protocol}:closed/0`);

async function streamError(llm: ManaLLM, req: ChatRequest): Promise<unknown> {
  try {
    for await (const _ of llm.stream(req)) {
      // nothing may arrive
    }
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('hostile request content is the caller’s error, never the providers’', () => {
  it('6,000 nested arrays in a tool schema: InvalidRequestError for chat and stream, no upstream hit, every breaker closed', async () => {
    const { llm, ups, events } = await chainOfAll();
    for (let i = 0; i < 3; i++) {
      const chat = await settle(llm.chat(toolRequest(deepSchema(6000))));
      expect(chat.error).toBeInstanceOf(InvalidRequestError);
      const err = chat.error as InvalidRequestError;
      expect(err.httpStatus).toBe(400);
      expect(err.issues[0]?.path).toMatch(/^request\.tools\[0\]\.function\.parameters\.properties\.a\[0\]/);
      expect(err.message.length).toBeLessThan(1000);
      expect(await streamError(llm, toolRequest(deepSchema(6000)))).toBeInstanceOf(InvalidRequestError);
    }
    expect(breakers(llm)).toEqual(CLOSED);
    expect(ups.map((u) => u.requests.length)).toEqual([0, 0, 0, 0]);
    expect(events.count('fallback')).toBe(0);
    expect(events.of('failure').map((f) => f.error.code)).toEqual(Array(6).fill('INVALID_REQUEST'));
    // The chain still serves everyone else.
    expect((await llm.chat(toolRequest({ type: 'object', properties: {} }))).routing.resolved).toBe(
      'openai/gpt-4o-mini',
    );
  });

  it('the depth and size bounds are configurable; just inside them the request is sent', async () => {
    const { llm, ups } = await chainOfAll({ limits: { maxDepth: 12, maxRequestBytes: 4096 } });
    // request > tools > [0] > function > parameters > properties: depth 6, then the arrays: 6 + 6 = 12.
    expect((await settle(llm.chat(toolRequest(deepSchema(6))))).error).toBeUndefined();
    expect((await settle(llm.chat(toolRequest(deepSchema(7))))).error).toBeInstanceOf(InvalidRequestError);
    const big = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'x'.repeat(4096) }] };
    const tooBig = await settle(llm.chat(big));
    expect(tooBig.error).toBeInstanceOf(InvalidRequestError);
    expect((tooBig.error as InvalidRequestError).issues[0]?.message).toContain('limits.maxRequestBytes');
    // Keys are part of the JSON text too: one huge property name is as large as a huge value.
    const bigKey = await settle(
      llm.chat(toolRequest({ type: 'object', properties: { ['k'.repeat(4096)]: {} } })),
    );
    expect(bigKey.error).toBeInstanceOf(InvalidRequestError);
    expect(ups[0]?.requests.length).toBe(1);
    expect(breakers(llm)).toEqual(CLOSED);
  });

  it('a huge embedding batch over maxRequestBytes is refused before any I/O', async () => {
    const { llm, ups } = await chainOfAll({ limits: { maxRequestBytes: 1024 * 1024 } });
    const input = Array.from({ length: 2000 }, () => 'y'.repeat(1000));
    const r = await settle(llm.embed({ model: 'mana/x', input }));
    expect(r.error).toBeInstanceOf(InvalidRequestError);
    expect(ups.map((u) => u.requests.length)).toEqual([0, 0, 0, 0]);
    expect(breakers(llm)).toEqual(CLOSED);
  });

  it('a cycle, a BigInt or a throwing getter in the content: InvalidRequestError with its path, nothing sent', async () => {
    const { llm, ups } = await chainOfAll();
    const cyclic: Record<string, unknown> = { type: 'object' };
    cyclic.self = cyclic;
    const bigint = { type: 'object', properties: { n: { default: 10n } } };
    const boom = new Error('boom\u001b[31m\r\nforged log line');
    const getter = {
      type: 'object',
      get properties(): never {
        throw boom;
      },
    };
    const paths: string[] = [];
    const causes: unknown[] = [];
    for (const parameters of [cyclic, bigint, getter]) {
      const r = await settle(llm.chat(toolRequest(parameters)));
      expect(r.error).toBeInstanceOf(InvalidRequestError);
      const err = r.error as InvalidRequestError;
      paths.push(err.issues[0]?.path ?? '');
      causes.push(err.cause);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may get through.
      expect(err.issues[0]?.message).not.toMatch(/[\u0000-\u001f\u007f]/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: nor a forged line.
      expect(err.message).not.toMatch(/[\u001b\r]|forged log line\n/);
    }
    expect(paths).toEqual([
      'request.tools[0].function.parameters.self',
      'request.tools[0].function.parameters.properties.n.default',
      'request.tools[0].function.parameters.properties',
    ]);
    // What the getter threw stays reachable for the host's logs; a cycle or BigInt has no cause.
    expect(causes).toEqual([undefined, undefined, boom]);
    expect(ups.map((u) => u.requests.length)).toEqual([0, 0, 0, 0]);
    expect(breakers(llm)).toEqual(CLOSED);
  });

  it('an own toJSON function anywhere in the request: InvalidRequestError with its path, nothing sent', async () => {
    // JSON.stringify would send what it returns (undefined: an empty body), not the content the checks read.
    const { llm, ups } = await chainOfAll();
    const top = { ...toolRequest({ type: 'object' }), toJSON: () => undefined } as ChatRequest;
    const nested = toolRequest({ type: 'object', toJSON: () => ({ type: 'string' }) });
    const paths: string[] = [];
    for (const request of [top, nested]) {
      const r = await settle(llm.chat(request));
      expect(r.error).toBeInstanceOf(InvalidRequestError);
      paths.push((r.error as InvalidRequestError).issues[0]?.path ?? '');
    }
    expect(paths).toEqual(['request.toJSON', 'request.tools[0].function.parameters.toJSON']);
    expect(ups.map((u) => u.requests.length)).toEqual([0, 0, 0, 0]);
    expect(breakers(llm)).toEqual(CLOSED);
  });

  it('an issue path names at most 12 segments: 12 whole, a 13th marked by "…" (docs/limits.md)', async () => {
    const { llm } = await chainOfAll();
    const nest = (n: number): unknown =>
      Array.from({ length: n }, (_, i) => `k${i + 1}`).reduceRight<unknown>((v, k) => ({ [k]: v }), 10n);
    const paths: string[] = [];
    // request > tools > [0] > function > parameters: 4 segments, then k1…kn.
    for (const n of [8, 9]) {
      const r = await settle(llm.chat(toolRequest(nest(n))));
      paths.push((r.error as InvalidRequestError).issues[0]?.path ?? '');
    }
    const twelve = 'request.tools[0].function.parameters.k1.k2.k3.k4.k5.k6.k7.k8';
    expect(paths).toEqual([twelve, `${twelve}…`]);
  });

  it('a key of the content named in an issue path is cut and cleaned: no bidi override, no key, no huge message', async () => {
    const { llm, ups } = await chainOfAll();
    const key = `\u202e sk-proj-SECRETSECRET ${'k'.repeat(100_000)}`;
    const r = await settle(
      llm.chat(toolRequest({ type: 'object', properties: { [key]: { default: 10n } } })),
    );
    expect(r.error).toBeInstanceOf(InvalidRequestError);
    const err = r.error as InvalidRequestError;
    expect(err.issues[0]?.path).toMatch(/^request\.tools\[0\]\.function\.parameters\.properties\[/);
    for (const text of [err.message, err.issues[0]?.path ?? '']) {
      expect(text).not.toMatch(/\u202e|SECRETSECRET/);
      expect(text.length).toBeLessThan(1000);
    }
    expect(ups.map((u) => u.requests.length)).toEqual([0, 0, 0, 0]);
  });

  it('an adapter that finds the content unusable (InvalidRequestError) ends the call: no fallback, no health change', async () => {
    const custom: ProviderAdapter = {
      capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
      chat: () => Promise.reject(new InvalidRequestError('Invalid request', [{ path: 'x', message: 'no' }])),
      // biome-ignore lint/correctness/useYield: fails before any chunk
      stream: async function* () {
        throw new InvalidRequestError('Invalid request', [{ path: 'x', message: 'no' }]);
      },
      embed: () => Promise.reject(new Error('unused')),
      models: async () => [],
      probe: async () => ({ ok: true }),
    };
    const up = await mock('openai');
    const { llm, events } = client(
      { c: { type: 'custom', adapter: custom }, b: { type: 'openai', baseUrl: up.url } },
      { 'mana/x': ['c/m', 'b/m'] },
    );
    const req = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
    for (let i = 0; i < 3; i++) {
      expect((await settle(llm.chat(req))).error).toBeInstanceOf(InvalidRequestError);
      expect(await streamError(llm, req)).toBeInstanceOf(InvalidRequestError);
    }
    expect(up.requests.length).toBe(0);
    expect(events.count('fallback')).toBe(0);
    expect(llm.health().providers.c?.consecutiveFailures).toBe(0);
  });
});

/** Where a call is when the caller aborts it or the client closes. */
type Phase =
  | 'waiting on the cache'
  | 'awaiting headers'
  | 'reading the body'
  | 'after the first entry failed'
  | 'stream before commit'
  | 'stream after commit';

const PHASES: readonly Phase[] = [
  'waiting on the cache',
  'awaiting headers',
  'reading the body',
  'after the first entry failed',
  'stream before commit',
  'stream after commit',
];

describe('abort and close() at every phase of a call: the caller’s reason, nothing recorded, nothing further sent', () => {
  for (const how of ['abort', 'close'] as const) {
    for (const phase of PHASES) {
      it(`${how} while ${phase}`, async () => {
        const a = await mock('openai');
        const b = await mock('openai');
        let release: (() => void) | undefined;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        let waiting = false;
        const store = {
          getResponse: async () => {
            waiting = true;
            await gate;
            return undefined;
          },
          setResponse: () => undefined,
        };
        const { llm, events } = client(
          { a: { type: 'openai', baseUrl: a.url }, b: { type: 'openai', baseUrl: b.url } },
          { 'mana/x': ['a/m', 'b/m'] },
          { cache: { store } },
        );
        const req = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };
        const ctl = new AbortController();
        const reason = new Error('caller went away');
        let reached: () => boolean;
        let result: Promise<{ error?: unknown }>;
        if (phase === 'waiting on the cache') {
          result = settle(llm.chat(req, { signal: ctl.signal, cache: true }));
          reached = () => waiting;
        } else if (phase === 'awaiting headers' || phase === 'reading the body') {
          a.enqueue(phase === 'awaiting headers' ? { hang: true } : { stallAfterHeaders: true });
          result = settle(llm.chat(req, { signal: ctl.signal }));
          reached = () => a.requests.length === 1;
        } else if (phase === 'after the first entry failed') {
          a.enqueue({ status: 503 });
          b.enqueue({ hang: true });
          result = settle(llm.chat(req, { signal: ctl.signal }));
          reached = () => b.requests.length === 1;
        } else {
          a.enqueue(phase === 'stream before commit' ? { stallAfterHeaders: true } : { streamThenStall: 2 });
          const it = llm.stream(req, { signal: ctl.signal })[Symbol.asyncIterator]();
          const first = it.next();
          result = (async () => {
            try {
              if (phase === 'stream after commit') expect((await first).done).toBe(false);
              else await first;
              for (;;) if ((await it.next()).done) return {};
            } catch (error) {
              return { error };
            }
          })();
          reached = () => a.requests.length === 1;
        }
        const until = Date.now() + 3000;
        while (!reached() && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
        expect(reached()).toBe(true);
        const before = breakers(llm);
        const sent = a.requests.length + b.requests.length;
        if (how === 'abort') ctl.abort(reason);
        const closing = how === 'abort' ? Promise.resolve() : llm.close();
        release?.();
        const { error } = await result;
        await closing;
        if (how === 'abort') expect(error).toBe(reason);
        else expect((error as { code?: string }).code).toBe('CLOSED');
        // The first entry's 503 was recorded before; nothing after the abort or close.
        expect(breakers(llm)).toEqual(before);
        await new Promise((r) => setTimeout(r, 20));
        expect(a.requests.length + b.requests.length).toBe(sent);
        expect(events.of('fallback').every((f) => f.reason !== 'connection')).toBe(true);
      });
    }
  }
});
