import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getGlobalDispatcher } from 'undici';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  type ChatChunk,
  ClosedError,
  createManaLLM,
  isManaLLMError,
  type ManaLLM,
  type ManaLLMEventName,
  type ProviderAdapter,
} from '../../src/index.js';
import { createFakeClock, createMockProvider } from '../../src/testing/index.js';
import {
  CODECS,
  client,
  closeAll,
  consume,
  EVENT_NAMES,
  ioTurns,
  mock,
  PROTOCOLS,
  settle,
  TYPE,
  textOf,
  track,
  waitFor,
} from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REQ = { model: 'mana/x', messages: [{ role: 'user' as const, content: 'Hi' }] };

let warnings: MockInstance<typeof process.emitWarning>;
beforeEach(() => {
  warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(async () => {
  warnings.mockRestore();
  await closeAll();
});

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a listener doing synchronous work
  }
}

/** chat, stream and embed through `mana/x` (first entry fails, second serves), as a comparable summary. */
async function calls(llm: ManaLLM, first: Awaited<ReturnType<typeof mock>>) {
  first.enqueue({ status: 503 }, { status: 503 }, { status: 503 });
  const chat = await llm.chat(REQ);
  const chunks: ChatChunk[] = [];
  for await (const c of llm.stream(REQ)) chunks.push(c);
  const emb = await llm.embed({ model: 'mana/x', input: ['a', 'b'] });
  return {
    chat: {
      model: chat.model,
      content: chat.choices[0]?.message.content,
      attempts: chat.routing.attempts.length,
    },
    stream: { models: [...new Set(chunks.map((c) => c.model))], text: textOf(chunks) },
    embed: { model: emb.model, vectors: emb.data.map((d) => d.embedding.length) },
  };
}

async function pair() {
  const a = await mock('openai');
  const b = await mock('ollama');
  b.setDefault({ reply: 'served by b' });
  const { llm } = client(
    {
      a: { type: 'openai', baseUrl: a.url },
      b: { type: 'ollama', baseUrl: b.url },
    },
    { 'mana/x': ['a/m1', 'b/m2'] },
    // The system clock: a listener's real time is what is at stake here.
    { systemClock: true },
  );
  return { llm, a };
}

describe('listeners can never break a call', () => {
  it('throwing, slow (50 ms busy) and rejecting async listeners on every event leave every result unchanged', async () => {
    const plain = await pair();
    const expected = await calls(plain.llm, plain.a);

    const { llm, a } = await pair();
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => void unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    const heard = new Map<ManaLLMEventName, number>();
    try {
      for (const name of EVENT_NAMES) {
        llm.on(name, () => {
          throw new Error(`listener for ${name} threw`);
        });
        llm.on(name, () => {
          throw `a bare string from ${name}`;
        });
        llm.on(name, () => busy(50));
        llm.on(name, async () => {
          throw new Error(`async listener for ${name} rejected`);
        });
        llm.on(name, () => void heard.set(name, (heard.get(name) ?? 0) + 1));
      }
      expect(await calls(llm, a)).toEqual(expected);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    // Every listener ran (a throwing one stops none of the others) and each failure became a warning.
    expect(heard.get('request')).toBe(3);
    expect(heard.get('fallback')).toBe(3);
    expect(heard.get('response')).toBe(3);
    expect(unhandled).toEqual([]);
    const texts = warnings.mock.calls.map((c) => String(c[0]));
    expect(texts.some((t) => t.includes('listener for request threw'))).toBe(true);
    expect(texts.some((t) => t.includes('a bare string from response'))).toBe(true);
    expect(texts.some((t) => t.includes('async listener for fallback rejected'))).toBe(true);
  });

  it('a listener that throws while a stream is being consumed does not interrupt the stream', async () => {
    const up = await mock('anthropic');
    up.setDefault({ reply: 'one two three four', chunks: 4 });
    const { llm } = client({ a: { type: 'anthropic', baseUrl: up.url } }, { 'mana/x': ['a/m'] });
    llm.on('resolved', () => {
      throw new Error('resolved listener');
    });
    llm.on('response', () => {
      throw new Error('response listener');
    });
    const { done } = consume(llm.stream(REQ));
    const { chunks, error } = await done;
    expect(error).toBeUndefined();
    expect(textOf(chunks)).toBe('one two three four');
  });
});

describe('probes', () => {
  it('a probe that hangs (ignoring its signal) never holds back another provider’s result, and times out alone', async () => {
    const stuck: ProviderAdapter = {
      ...createMockProvider({ provider: 'stuck' }),
      probe: () => new Promise(() => undefined),
    };
    const alive = createMockProvider({ provider: 'alive' });
    const hanging = await mock('google');
    hanging.enqueue({ hang: true });
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['alive/m'] } } },
        providers: {
          stuck: { type: 'custom', adapter: stuck },
          alive: { type: 'custom', adapter: alive },
          hangup: { type: 'google', baseUrl: hanging.url, apiKey: 'k-probe-test' },
        },
        clock,
        health: { probeTimeoutMs: 3000, probeIntervalMs: 30_000 },
      }),
    );
    const probes: { provider: string; ok: boolean; error?: string }[] = [];
    llm.on('probe', (p) => void probes.push(p));
    await clock.advanceAsync(0);
    await waitFor(() => probes.length === 1, 'the live provider’s probe');
    expect(probes).toEqual([expect.objectContaining({ provider: 'alive', ok: true })]);
    await waitFor(() => hanging.count('models') === 1, 'the probe at the hanging upstream');
    // The stuck probes end at their own deadline, each recorded as a failure of its provider only.
    await clock.advanceAsync(3000);
    await waitFor(() => probes.length === 3, 'the timeouts');
    expect(
      probes
        .slice(1)
        .map((p) => [p.provider, p.ok, p.error])
        .sort(),
    ).toEqual([
      ['hangup', false, 'probe-timeout (>3000ms)'],
      ['stuck', false, 'probe-timeout (>3000ms)'],
    ]);
    const h = llm.health().providers;
    expect([
      h.alive?.consecutiveFailures,
      h.stuck?.consecutiveFailures,
      h.hangup?.consecutiveFailures,
    ]).toEqual([0, 1, 1]);
    // The next round runs for everyone, the stuck one included.
    await clock.advanceAsync(33_000);
    await waitFor(() => probes.filter((p) => p.provider === 'alive').length === 2, 'the second round');
    await llm.close();
  });
});

describe("a caller's AbortSignal shared by many calls", () => {
  const leakWarnings = () =>
    warnings.mock.calls.filter((c) =>
      c.some((a) => String((a as Error)?.name ?? a).includes('MaxListenersExceeded')),
    );

  it('64 concurrent calls and 64 streams on one signal: no MaxListenersExceededWarning, and one abort ends them all', async () => {
    const hang = await mock('openai');
    hang.setDefault({ hang: true });
    const stall = await mock('openai');
    stall.setDefault({ streamThenStall: 1 });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: hang.url }, b: { type: 'openai', baseUrl: stall.url } },
      { 'mana/x': ['a/m'], 'mana/s': ['b/m'] },
    );
    const shutdown = new AbortController();
    const signal = shutdown.signal;
    const calls = Array.from({ length: 64 }, () => settle(llm.chat(REQ, { signal })));
    const streams = Array.from({ length: 64 }, () =>
      consume(llm.stream({ ...REQ, model: 'mana/s' }, { signal })),
    );
    await waitFor(() => streams.every((s) => s.chunks.length > 0), 'every stream to commit', 10_000);
    await waitFor(() => hang.count('chat') === 64, 'every call to reach the upstream', 10_000);
    // Node warns (once per signal, in every process) past 10 listeners on one EventTarget.
    await ioTurns();
    expect(leakWarnings()).toEqual([]);
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    const reason = new Error('shutting down');
    shutdown.abort(reason);
    for (const r of await Promise.all(calls)) expect(r.error).toBe(reason);
    for (const s of streams) expect((await s.done).error).toBe(reason);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  }, 30_000);

  it('a call still in flight on a shared signal is aborted by it after another call on it has ended', async () => {
    const up = await mock('openai');
    const hang = await mock('openai');
    hang.setDefault({ hang: true });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: up.url }, h: { type: 'openai', baseUrl: hang.url } },
      { 'mana/x': ['a/m'], 'mana/h': ['h/m'] },
    );
    const shutdown = new AbortController();
    const { signal } = shutdown;
    const waiting = settle(llm.chat({ ...REQ, model: 'mana/h' }, { signal }));
    await waitFor(() => hang.count('chat') === 1, 'the hanging call to reach the upstream');
    await llm.chat(REQ, { signal }); // follows the same signal, then lets go of it
    const reason = new Error('shutting down');
    shutdown.abort(reason);
    expect((await waiting).error).toBe(reason);
  });

  it('a call started on a shared signal after every earlier call on it has ended is still aborted by it', async () => {
    const up = await mock('openai');
    const hang = await mock('openai');
    hang.setDefault({ hang: true });
    const { llm } = client(
      { a: { type: 'openai', baseUrl: up.url }, h: { type: 'openai', baseUrl: hang.url } },
      { 'mana/x': ['a/m'], 'mana/h': ['h/m'] },
    );
    const shutdown = new AbortController();
    const { signal } = shutdown;
    await llm.chat(REQ, { signal }); // the signal's only follower, gone once it ends
    const waiting = settle(llm.chat({ ...REQ, model: 'mana/h' }, { signal }));
    await waitFor(() => hang.count('chat') === 1, 'the hanging call to reach the upstream');
    const reason = new Error('shutting down');
    shutdown.abort(reason);
    expect((await waiting).error).toBe(reason);
  });

  it('a long-lived signal used by many sequential and concurrent calls keeps no listener once they end', async () => {
    const up = await mock('openai');
    const { llm } = client({ a: { type: 'openai', baseUrl: up.url } }, { 'mana/x': ['a/m'] });
    const signal = new AbortController().signal;
    for (let i = 0; i < 200; i++) {
      await llm.chat(REQ, { signal });
      for await (const c of llm.stream(REQ, { signal })) void c;
    }
    await Promise.all(Array.from({ length: 32 }, () => llm.chat(REQ, { signal })));
    // A stream left early (break) lets go of the signal too.
    for await (const c of llm.stream(REQ, { signal })) if (c) break;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(leakWarnings()).toEqual([]);
  }, 30_000);
});

describe('close() during in-flight calls', () => {
  it.each(PROTOCOLS)(
    'settles chat, stream (before and after commit) and embed with CLOSED; no handles left ($protocol)',
    async (p) => {
      const before = resourceCounts();
      const up = await mock(p.protocol);
      up.enqueue(
        { hang: true },
        { hang: true },
        { streamThenStall: 2 },
        ...(p.embeddings ? [{ hang: true } as const] : []),
      );
      const { llm } = client(
        { a: { type: TYPE[p.protocol], baseUrl: up.url, apiKey: 'k-close-test' } },
        { 'mana/x': [`a/${p.model}`] },
      );
      const failures: unknown[] = [];
      llm.on('failure', (f) => void failures.push(f.error));
      const chat = settle(llm.chat(REQ));
      const beforeCommit = consume(llm.stream(REQ));
      await waitFor(() => up.count() === 2, 'two requests');
      const afterCommit = consume(llm.stream(REQ));
      await waitFor(() => textOf(afterCommit.chunks).length > 0, 'the stream to commit');
      const embed = p.embeddings ? settle(llm.embed({ model: 'mana/x', input: 'x' })) : undefined;
      if (embed) await waitFor(() => up.count('embed') === 1, 'the embed request');

      await llm.close();
      const outcomes = [
        (await chat).error,
        (await beforeCommit.done).error,
        (await afterCommit.done).error,
        ...(embed ? [(await embed).error] : []),
      ];
      for (const err of outcomes) {
        expect(err).toBeInstanceOf(ClosedError);
        expect(isManaLLMError(err) && err.code).toBe('CLOSED');
      }
      // What was already delivered stays delivered; nothing arrives after close.
      expect(textOf(afterCommit.chunks).length).toBeGreaterThan(0);
      expect(failures).toHaveLength(outcomes.length);
      // New calls are refused the same way.
      expect((await settle(llm.chat(REQ))).error).toBeInstanceOf(ClosedError);
      expect((await consume(llm.stream(REQ)).done).error).toBeInstanceOf(ClosedError);

      await closeAll();
      await waitFor(() => noExtra(before), 'sockets and timers to go');
    },
  );

  it('leaves process-wide state alone: no global dispatcher, no process listeners, nothing after close', async () => {
    const dispatcher = getGlobalDispatcher();
    const signals = [
      'SIGHUP',
      'SIGINT',
      'SIGTERM',
      'unhandledRejection',
      'uncaughtException',
      'warning',
      'exit',
    ];
    const counts = signals.map((s) => process.listenerCount(s));
    const up = await mock('openai');
    const { llm } = client({ a: { type: 'openai', baseUrl: up.url } }, { 'mana/x': ['a/m'] });
    await llm.chat(REQ);
    expect(getGlobalDispatcher()).toBe(dispatcher);
    await llm.close();
    await llm.close();
    expect(signals.map((s) => process.listenerCount(s))).toEqual(counts);
  });

  it('a script that never calls close() still exits on its own', async () => {
    const up = await mock('openai');
    const script = `
      import { createManaLLM } from './src/index.ts';
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: ${JSON.stringify(up.url)} } },
      });
      const res = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] });
      for await (const c of llm.stream({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] })) void c;
      console.log('answered by', res.model);
      // Only ref'd handles and timers are listed; not this Immediate or the stdio pipes to the parent.
      setImmediate(() => console.log('held', JSON.stringify(
        process.getActiveResourcesInfo().filter((r) => r !== 'Immediate' && r !== 'PipeWrap'))));
    `;
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => void (out += c));
      child.stderr.on('data', (c: Buffer) => void (out += c));
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });
    expect(out).toContain('answered by a/m');
    expect(code, out).toBe(0);
    // Not held open by keep-alive sockets or probe timers (undici's idle keep-alive is 10 s): once the work is done,
    // nothing ref'd is left. A hang past the 15 s kill exits non-zero.
    expect(out).toContain('held []');
  }, 20_000);

  it('a script that never calls close() exits promptly while a probe waits on a silent provider', async () => {
    const silent = await silentServer();
    // Default probes: the first runs at once and would wait its 3 s probeTimeoutMs for an answer that never comes.
    const script = `
      import { createManaLLM } from './src/index.ts';
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: ${JSON.stringify(silent)} } },
      });
      await new Promise((r) => setTimeout(r, 200));
      // Only ref'd handles and timers are listed; not this Immediate or the stdio pipes to the parent.
      setImmediate(() => console.log('held', JSON.stringify(
        process.getActiveResourcesInfo().filter((r) => r !== 'Immediate' && r !== 'PipeWrap'))));
    `;
    const { code, out } = await runScript(script);
    expect(code, out).toBe(0);
    // The probe waiting on the silent provider holds nothing: no ref'd socket, no ref'd 3 s probe timeout.
    expect(out).toContain('held []');
  }, 20_000);

  it('a script that never calls close() exits promptly while a probe waits on a keep-alive socket a call used', async () => {
    // undici re-refs a pooled socket when it carries a request again: the probe that reuses the call's socket, and
    // then waits on a provider gone silent, must not hold the process either. The server lives in the script so it
    // can report the moment the silent probe is in flight.
    const script = `
      import { createServer } from 'node:http';
      import { createManaLLM } from './src/index.ts';
      let gets = 0;
      let probeWaiting;
      const waiting = new Promise((r) => (probeWaiting = r));
      const server = createServer((req, res) => {
        req.socket.unref();
        if (req.method === 'GET' && ++gets > 1) return probeWaiting(); // never answered
        req.resume();
        req.on('end', () => {
          const body = req.method === 'GET' ? { data: [] } : { id: 'c', object: 'chat.completion', created: 0, model: 'm',
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        });
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      server.unref();
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: 'http://127.0.0.1:' + server.address().port + '/v1' } },
        health: { probeIntervalMs: 20 },
      });
      const res = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] });
      console.log('answered', res.choices[0].message.content);
      const hold = setInterval(() => undefined, 1000); // the script waits for the probe, then lets go
      await waiting;
      clearInterval(hold);
      // Only ref'd handles and timers are listed; not this Immediate or the stdio pipes to the parent.
      setImmediate(() => console.log('held', JSON.stringify(
        process.getActiveResourcesInfo().filter((r) => r !== 'Immediate' && r !== 'PipeWrap'))));
    `;
    const { code, out } = await runScript(script);
    expect(out).toContain('answered ok');
    expect(code, out).toBe(0);
    // The reused socket the silent probe waits on holds nothing (it would until the 3 s probeTimeoutMs).
    expect(out).toContain('held []');
  }, 20_000);

  it('a script that never calls close() still waits for its own slow call and a stream that pauses', async () => {
    // The probe may not hold the process, but a caller's request in flight must: its answer comes after 1 s.
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => void (body += c));
      req.on('end', () => {
        if (req.method === 'GET')
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
        const { model, stream } = JSON.parse(body) as { model: string; stream?: boolean };
        if (!stream)
          return void setTimeout(
            () =>
              res
                .writeHead(200, { 'content-type': 'application/json' })
                .end(JSON.stringify(CODECS.openai.chat({ reply: 'late' }, model))),
            1000,
          );
        const frames = CODECS.openai.stream({ reply: 'paused', chunks: 2 }, model);
        res.writeHead(200, { 'content-type': frames.contentType });
        res.write([...frames.prelude, frames.content[0]].join(''));
        setTimeout(() => res.end([...frames.content.slice(1), ...frames.end].join('')), 1000);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const script = `
      import { createManaLLM } from './src/index.ts';
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        providers: { a: { type: 'openai', baseUrl: ${JSON.stringify(url)} } },
      });
      const res = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] });
      let text = '';
      for await (const c of llm.stream({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] }))
        text += c.choices[0]?.delta.content ?? '';
      console.log('got', res.choices[0].message.content, text);
    `;
    const { code, out } = await runScript(script);
    expect(out).toContain('got late paused');
    expect(code, out).toBe(0);
  }, 20_000);

  it('a script that never calls close() still waits for a slow call when a quicker one beside it has ended', async () => {
    // Two calls in flight: the first answer to end must not let go of the process while the other is pending.
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => void (body += c));
      req.on('end', () => {
        if (req.method === 'GET')
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
        const { model } = JSON.parse(body) as { model: string };
        const answer = () =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(CODECS.openai.chat({ reply: model }, model)));
        if (model === 'quick') answer();
        else setTimeout(answer, 1000);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const script = `
      import { createManaLLM } from './src/index.ts';
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/slow': { chain: ['a/slow'] }, 'mana/quick': { chain: ['a/quick'] } } },
        providers: { a: { type: 'openai', baseUrl: ${JSON.stringify(url)} } },
      });
      const ask = (model) => llm.chat({ model, messages: [{ role: 'user', content: 'hi' }] });
      const [slow, quick] = await Promise.all([ask('mana/slow'), ask('mana/quick')]);
      console.log('got', slow.choices[0].message.content, quick.choices[0].message.content);
    `;
    const { code, out } = await runScript(script);
    expect(out).toContain('got slow quick');
    expect(code, out).toBe(0);
  }, 20_000);
});

/** Runs `script` (ESM, from the repository root) in a child Node process, killed after 15 s. */
function runScript(script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => void (out += c));
    child.stderr.on('data', (c: Buffer) => void (out += c));
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
}

/** A server that accepts every connection and never answers (tracked: closeAll closes it). */
async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

function resourceCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function noExtra(before: Record<string, number>): boolean {
  const now = resourceCounts();
  return Object.entries(now).every(([k, v]) => v <= (before[k] ?? 0));
}
