import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  createManaLLM,
  isManaLLMError,
  type ManaLLM,
  type ProviderAdapter,
} from '../src/index.js';
import { openaiCodec, startMockUpstream } from '../src/testing/index.js';
import {
  closeAll,
  collect,
  consume,
  harness,
  KEY,
  rejection,
  textOf,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { heldUpstream } from './helpers/held-upstream.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const REQ = { model: 'mana/x', messages: USER };

function countByType(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of list) out[k] = (out[k] ?? 0) + 1;
  return out;
}

function expectClosed(err: unknown): void {
  expect(err).toBeInstanceOf(ClosedError);
  expect(isManaLLMError(err) && err.code).toBe('CLOSED');
}

describe('close()', () => {
  it('makes every later call reject with code CLOSED', async () => {
    const { llm, up } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    await llm.chat(REQ);
    await llm.close();
    await llm.close(); // idempotent
    expectClosed(await rejection(llm.chat(REQ)));
    expectClosed(await rejection(collect(llm.stream(REQ))));
    expectClosed(await rejection(llm.embed({ model: 'mana/x', input: 'x' })));
    expectClosed(await rejection(llm.models()));
    expect(up.a?.count()).toBe(1);
  });

  it('makes a later reload() reject with CLOSED without re-reading the aliases file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-closed-reload-'));
    try {
      const path = join(dir, 'aliases.yaml');
      writeFileSync(path, 'aliases:\n  mana/x:\n    chain: [a/m1]\n');
      const a = await upstream('openai');
      const llm = createManaLLM({
        aliasesPath: path,
        providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
        health: { probes: false },
      });
      await llm.close();
      writeFileSync(path, 'aliases:\n  mana/y:\n    chain: [a/m1]\n');
      expectClosed(await rejection(llm.reload()));
      expect(llm.aliases().aliases.map((a) => a.name)).toEqual(['mana/x']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('settles an in-flight call with a CLOSED error and closes its upstream socket', async () => {
    const hang = await hangingUpstream();
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const call = rejection(llm.chat(REQ));
    const stream = consume(llm.stream(REQ));
    await waitFor(() => hang.received === 2, 'both requests at a');
    await llm.close();
    expectClosed(await call);
    expectClosed(await rejection(stream.done));
    await waitFor(() => hang.closedByClient === 2, 'upstream sockets closed');
  });

  it.each([
    ['honours its signal', true],
    ['ignores its signal', false],
  ])(
    'settles a call whose custom adapter %s with a CLOSED error (no socket to close)',
    async (_, honours) => {
      let started = 0;
      const adapter: ProviderAdapter = {
        capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
        chat: (_req, { signal }) => {
          started++;
          return new Promise((_ok, reject) => {
            if (honours) signal.addEventListener('abort', () => reject(signal.reason));
          });
        },
        stream: () => {
          throw new Error('unused');
        },
        embed: () => Promise.reject(new Error('unused')),
        probe: () => Promise.resolve({ ok: true }),
        models: () => Promise.resolve([]),
      };
      const { llm, events } = await harness({
        upstreams: {},
        providers: { c: { type: 'custom', adapter } },
        aliases: { 'mana/x': ['c/m1'] },
      });
      const call = rejection(llm.chat(REQ));
      await waitFor(() => started === 1, 'the adapter called');
      await llm.close();
      expectClosed(await call);
      expect(events.of('failure').map((f) => f.error.code)).toEqual(['CLOSED']);
    },
  );

  it('removes every listener: a reload() after it tells nobody', async () => {
    const { llm, events } = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    await llm.reload();
    expect(events.count('reload')).toBe(1);
    await llm.close();
    await llm.reload().catch(() => undefined);
    expect(events.count('reload')).toBe(1);
  });

  it('closes the idle pooled connections to the providers', async () => {
    const raw = await rawUpstream((text, res) => {
      const body = openaiCodec.chat({ reply: 'ok' }, (JSON.parse(text) as { model: string }).model);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    expect((await llm.chat(REQ)).choices[0]?.message.content).toBe('ok');
    expect(raw.open).toBe(1); // kept alive for the next call
    await llm.close();
    await waitFor(() => raw.open === 0, 'the pooled socket closed by the client');
  });

  it('ends a committed stream with a CLOSED error', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const stream = consume(llm.stream(REQ));
    await waitFor(() => textOf(stream.chunks) === 'p0p1', 'two content chunks');
    await llm.close();
    expectClosed(await rejection(stream.done));
  });

  it('ends a stream whose consumer is holding a chunk with a CLOSED error on its next read', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const it = llm.stream(REQ)[Symbol.asyncIterator]();
    let text = '';
    while (text !== 'p0p1') text += (await it.next()).value?.choices[0]?.delta.content ?? '';
    await llm.close();
    await new Promise((r) => setTimeout(r, 20));
    expectClosed(await rejection(it.next()));
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('closes a custom adapter, the health store and the cache store once, however often close() is called', async () => {
    const closes = { adapter: 0, health: 0, cache: 0 };
    const adapter: ProviderAdapter = {
      capabilities: () => ({ tools: false, vision: false, jsonSchema: false, embeddings: false }),
      chat: () => Promise.reject(new Error('unused')),
      stream: () => {
        throw new Error('unused');
      },
      embed: () => Promise.reject(new Error('unused')),
      probe: () => Promise.resolve({ ok: true }),
      models: () => Promise.resolve([]),
      close: async () => void closes.adapter++,
    };
    const health = {
      getProvider: () => undefined,
      setProvider: () => undefined,
      getTargetCooldown: () => undefined,
      setTargetCooldown: () => undefined,
      listTargetCooldowns: () => [],
      close: async () => void closes.health++,
    };
    const cache = {
      getResponse: async () => undefined,
      setResponse: async () => undefined,
      close: async () => void closes.cache++,
    };
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['c/m'] } } },
      providers: { c: { type: 'custom', adapter } },
      health: { probes: false, store: health },
      cache: { store: cache },
    });
    // Two at once, then one after: each waits for the one close.
    await Promise.all([llm.close(), llm.close()]);
    await llm.close();
    expect(closes).toEqual({ adapter: 1, health: 1, cache: 1 });
  });

  it('works with await using', async () => {
    const a = await upstream('openai');
    let outside: ReturnType<typeof createManaLLM> | undefined;
    {
      await using llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m1'] } } },
        providers: { a: { type: 'openai', baseUrl: a.url } },
        health: { probes: false },
      });
      outside = llm;
      await llm.chat(REQ);
    }
    expectClosed(await rejection(outside.chat(REQ)));
  });

  it('leaves no active handles behind: probes, watcher, signal handler and connections are all gone', async () => {
    const baseline = process.getActiveResourcesInfo();
    const sighup = process.listenerCount('SIGHUP');
    const dir = mkdtempSync(join(tmpdir(), 'mana-llm-lifecycle-'));
    const file = join(dir, 'aliases.yaml');
    writeFileSync(file, 'aliases:\n  mana/x:\n    chain: [a/m1, b/m2]\n');
    const a = await startMockUpstream('openai');
    const b = await startMockUpstream('ollama');
    // The real clock and every background feature on.
    const llm = createManaLLM({
      aliasesPath: file,
      providers: {
        a: { type: 'openai', baseUrl: a.url, apiKey: KEY },
        b: { type: 'ollama', baseUrl: b.url },
      },
      health: { probeIntervalMs: 5 },
      watch: true,
      reloadOnSignal: 'SIGHUP',
    });
    const probes: string[] = [];
    llm.on('probe', (p) => probes.push(p.provider));
    a.enqueue({ status: 500 });
    expect((await llm.chat(REQ)).model).toBe('b/m2');
    expect(textOf(await collect(llm.stream(REQ)))).toBe('Hello!');
    await llm.embed({ model: 'mana/x', input: 'x' });
    for await (const _ of llm.stream(REQ)) break;
    await waitFor(() => probes.length >= 4, 'a few probe rounds');

    await llm.close();
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
    expect(process.listenerCount('SIGHUP')).toBe(sighup);
    await new Promise((r) => setImmediate(r));
    // Nothing the client created may remain: no more resources of any kind than before (the test runner's own
    // timers may come and go, so fewer is fine).
    const extra = () => {
      const before = countByType(baseline);
      return Object.entries(countByType(process.getActiveResourcesInfo())).filter(
        ([k, n]) => n > (before[k] ?? 0),
      );
    };
    await waitFor(() => extra().length === 0, 'the client’s resources to go away', 1000).catch(() => {
      throw new Error(`still active: ${JSON.stringify(extra())}`);
    });
  });

  it('a process that never calls close() exits on its own', async () => {
    const up = await upstream('openai', { reply: 'child answer' });
    const fixture = fileURLToPath(new URL('./fixtures/no-close.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, UPSTREAM_URL: up.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      reply: 'child answer',
      streamed: 'child answer',
      probe: { provider: 'up', ok: true, durationMs: expect.any(Number) },
      // Once its work is done nothing holds the process: no pooled keep-alive socket (undici keeps one 10 s), no
      // probe interval (30 s). A hang past the killer above exits non-zero.
      held: [],
    });
  }, 15_000);
});

describe('close() after calls', () => {
  it('leaves no interval behind, not even an unref’d one (a client made and closed per job would pile them up)', async () => {
    const up = await upstream('openai', { reply: 'ok' });
    const started = new Set<unknown>();
    const set = globalThis.setInterval;
    const clear = globalThis.clearInterval;
    globalThis.setInterval = ((...args: Parameters<typeof set>) => {
      const t = set(...args);
      started.add(t);
      return t;
    }) as typeof set;
    globalThis.clearInterval = ((t: Parameters<typeof clear>[0]) => {
      started.delete(t);
      clear(t);
    }) as typeof clear;
    try {
      const llm = createManaLLM({
        providers: { a: { type: 'openai', baseUrl: up.url, apiKey: KEY } },
        aliases: { aliases: { 'mana/x': { chain: ['a/m1'] } } },
        health: { probes: false },
      });
      expect((await llm.chat(REQ)).choices[0]?.message.content).toBe('ok');
      await llm.close();
    } finally {
      globalThis.setInterval = set;
      globalThis.clearInterval = clear;
    }
    expect(started.size).toBe(0);
  });
});

describe('two clients', () => {
  it('share nothing: one client’s open breaker leaves the other’s closed', async () => {
    const a = await upstream('openai', { status: 500 });
    const make = () =>
      harness({
        upstreams: {},
        providers: { a: { type: 'openai', baseUrl: a.url } },
        aliases: { 'mana/x': ['a/m1'] },
      });
    const one = await make();
    const two = await make();
    await rejection(one.llm.chat(REQ));
    await rejection(one.llm.chat(REQ));
    expect(one.llm.health().providers.a?.state).toBe('open');
    expect(two.llm.health().providers.a).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(two.events.all).toEqual([]);
    await rejection(two.llm.chat(REQ));
    expect(a.count('chat')).toBe(3);
    await one.llm.close();
    a.setDefault({ reply: 'still here' });
    expect((await two.llm.chat(REQ)).choices[0]?.message.content).toBe('still here');
  });
});

describe('close() and the caller aborting in the same turn', () => {
  // Both abort the one attempt: the first reason decides what the call rejects with.
  const abortAndClose = (llm: ManaLLM, ac: AbortController, reason: Error, callerFirst: boolean) => {
    if (callerFirst) ac.abort(reason);
    const closing = llm.close();
    if (!callerFirst) ac.abort(reason);
    return closing;
  };
  it.each([
    ['the caller aborts first: its reason', true],
    ['close() comes first: CLOSED', false],
  ])('%s', async (_, callerFirst) => {
    const hang = await hangingUpstream();
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const ac = new AbortController();
    const mine = new Error('caller gave up');
    const call = rejection(llm.chat(REQ, { signal: ac.signal }));
    await waitFor(() => hang.received === 1, 'the request at a');
    const closing = abortAndClose(llm, ac, mine, callerFirst);
    const err = await call;
    await closing;
    if (callerFirst) expect(err).toBe(mine);
    else expectClosed(err);
  });

  it.each([
    ['the caller aborts first: its reason', true],
    ['close() comes first: CLOSED', false],
  ])('a committed stream: %s', async (_, callerFirst) => {
    const held = await heldUpstream();
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: held.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const ac = new AbortController();
    const mine = new Error('caller gave up');
    const s = consume(llm.stream(REQ, { signal: ac.signal }));
    await waitFor(() => held.held === 1, 'the request at a');
    held.startStream();
    await waitFor(() => s.chunks.length > 0, 'the first chunk');
    const closing = abortAndClose(llm, ac, mine, callerFirst);
    const err = await rejection(s.done);
    await closing;
    if (callerFirst) expect(err).toBe(mine);
    else expectClosed(err);
  });
});
