import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM } from '../../src/index.js';
import { createRedisHealthStore, type RedisHealthStore } from '../../src/redis/index.js';
import { startMockUpstream } from '../../src/testing/index.js';

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A Redis that answers what ioredis needs to connect, and stops answering a connection from `stallsOn` on. */
interface FakeRedis {
  readonly url: string;
  /** Every command received, lower-cased name first. */
  readonly commands: string[][];
  close(): Promise<void>;
}

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/** Reads the RESP arrays of bulk strings ioredis sends; returns the commands complete so far and what is left. */
function parse(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const start = at;
    const head = buffer.indexOf('\r\n', at);
    if (head < 0 || buffer[at] !== '*') return { commands, rest: buffer.slice(start) };
    const n = Number(buffer.slice(at + 1, head));
    at = head + 2;
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      const lenEnd = buffer.indexOf('\r\n', at);
      if (lenEnd < 0) return { commands, rest: buffer.slice(start) };
      const len = Number(buffer.slice(at + 1, lenEnd));
      if (buffer.length < lenEnd + 2 + len + 2) return { commands, rest: buffer.slice(start) };
      args.push(buffer.slice(lenEnd + 2, lenEnd + 2 + len));
      at = lenEnd + 2 + len + 2;
    }
    commands.push([(args[0] ?? '').toLowerCase(), ...args.slice(1)]);
  }
}

async function fakeRedis(stallsOn: (command: string[]) => boolean): Promise<FakeRedis> {
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('latin1');
    let buffered = '';
    // Replies go in order: once one command is left unanswered, so is every later one on that connection.
    let stalled = false;
    socket.on('data', (data: string) => {
      const { commands: got, rest } = parse(buffered + data);
      buffered = rest;
      for (const c of got) {
        commands.push(c);
        stalled ||= stallsOn(c);
        if (!stalled) socket.write(reply(c));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function reply([name, ...args]: string[]): string {
  switch (name) {
    case 'info':
      return bulk('# Server\r\nredis_version:7.2.0\r\nloading:0\r\n');
    case 'subscribe':
      return `*3\r\n${bulk('subscribe')}${bulk(args[0] ?? '')}:1\r\n`;
    case 'eval':
      // The state load gets empty hashes; a write "wins".
      return args[0]?.includes('HSCAN') ? '*0\r\n' : ':1\r\n';
    case 'get':
      return '$-1\r\n';
    case 'ping':
      return '+PONG\r\n';
    default:
      return '+OK\r\n';
  }
}

const isWrite = (c: string[]) => c[0] === 'eval' && (c[1] ?? '').includes('HSET');

describe('a Redis that never answers a script', () => {
  const open: { close(): Promise<unknown> | unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  /** A store on a client you pass (no ioredis command timeout of its own) to a fake Redis. */
  async function storeOn(redis: FakeRedis, timeoutMs: number): Promise<RedisHealthStore> {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    open.push({ close: () => client.disconnect() });
    const store = createRedisHealthStore({ client, timeoutMs });
    open.push(store);
    return store;
  }

  it('a state load at start-up that gets no answer shows as not connected, with the reason', async () => {
    const redis = await fakeRedis((c) => c[0] === 'eval');
    open.push(redis);
    const store = await storeOn(redis, 100);
    const events: unknown[] = [];
    store.subscribe((u) => events.push(u));
    await until(() => store.status().error !== undefined, 'the load to time out');
    expect(store.status()).toEqual({
      kind: 'redis',
      connected: false,
      error: 'Redis did not answer within 100 ms',
    });
    expect(events).toEqual([
      { type: 'status', kind: 'redis', connected: false, error: 'Redis did not answer within 100 ms' },
    ]);
  });

  it('a breaker write that gets no answer marks the store not connected; calls go on from the in-process state', async () => {
    const redis = await fakeRedis(isWrite);
    open.push(redis);
    const a = await startMockUpstream('openai');
    const b = await startMockUpstream('openai');
    open.push(a, b);
    a.setDefault({ status: 503 });
    b.setDefault({ reply: 'from b' });
    const store = await storeOn(redis, 100);
    const llm = createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'] } } },
      providers: {
        a: { type: 'openai', baseUrl: a.url, apiKey: 'k' },
        b: { type: 'openai', baseUrl: b.url, apiKey: 'k' },
      },
      health: { store, probes: false, failureThreshold: 1, cooldownMs: 60_000 },
    });
    open.push(llm);
    await until(() => llm.health().store?.connected === true, 'connected');
    const first = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(first.choices[0]?.message.content).toBe('from b');
    await until(() => llm.health().store?.connected === false, 'the write to time out');
    expect(llm.health().store).toEqual({
      kind: 'redis',
      connected: false,
      error: 'Redis did not answer within 100 ms',
    });
    // The breaker opened here holds: the next call skips `a` without waiting on Redis.
    const second = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(second.choices[0]?.message.content).toBe('from b');
    expect(a.requests).toHaveLength(1);
  });
  it('a store closed while its stall check waits on Redis sends nothing more to the client you passed', async () => {
    const redis = await fakeRedis((c) => c[0] === 'eval');
    open.push(redis);
    const store = await storeOn(redis, 100);
    const checks = () => redis.commands.filter((c) => c[0] === 'get').length;
    await until(() => checks() > 0, 'the first stall check');
    await store.close();
    const atClose = checks();
    // The check in flight times out (100 ms) after close(); a next one would be due 1 s later.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(checks()).toBe(atClose);
  });

  it('closing a store from a url whose Redis stalled does not wait on it for a QUIT', async () => {
    const redis = await fakeRedis((c) => c[0] === 'eval');
    open.push(redis);
    const store = createRedisHealthStore({ url: redis.url, timeoutMs: 100 });
    open.push(store);
    await until(() => store.status().error !== undefined, 'the load to time out');
    await store.close();
    expect(redis.commands.filter((c) => c[0] === 'quit')).toEqual([]);
  });

  it("never shows a url's user or password of exactly 4 characters, even when the server echoes them", async () => {
    // A server answering AUTH with an error that repeats what it was sent.
    const server = createServer((socket) =>
      socket.on('data', (d) => socket.write(`-ERR no such user: ${d.toString().replace(/\r\n/g, ' ')}\r\n`)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
    const { port } = server.address() as { port: number };
    const store = createRedisHealthStore({ url: `redis://bob1:p%2F55@127.0.0.1:${port}` });
    open.push(store);
    await until(() => store.status().error !== undefined, 'the error');
    const error = store.status().error ?? '';
    expect(error).toMatch(/no such user/);
    expect(error).not.toMatch(/bob1|p\/55|p%2F55/);
  });
});
