import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import {
  type ChatChunk,
  type ChatMessage,
  createManaLLM,
  type ManaLLM,
  type ManaLLMEventName,
  type ManaLLMEvents,
  type ManaLLMOptions,
  type ProviderOptions,
  type ProviderType,
} from '../../src/index.js';
import {
  createFakeClock,
  type FakeClock,
  type MockBehavior,
  type MockProtocol,
  type MockUpstream,
  startMockUpstream,
} from '../../src/testing/index.js';

/** API keys every test provider is configured with; none may ever show up in errors, events or snapshots. */
export const KEY = 'sk-test-SECRET-123456';
export const PLAIN_KEY = 'plainsecretvalue987654';

export const USER: ChatMessage[] = [{ role: 'user', content: 'Hi' }];

const open: { close(): Promise<void> }[] = [];

/** An error class, for `toBeInstanceOf` tables. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Closes every client and upstream the test created (register with `afterEach(closeAll)`). */
export async function closeAll(): Promise<void> {
  const all = open.splice(0).reverse();
  for (const o of all) await o.close();
}

/** Registers something for `closeAll`. */
export function track<T extends { close(): Promise<void> }>(o: T): T {
  open.push(o);
  return o;
}

/** A `node:http` server on 127.0.0.1 that `closeAll` closes (open connections cut); resolves to its port. */
export async function localServer(handler: RequestListener): Promise<number> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return (server.address() as AddressInfo).port;
}

/** Starts a mock upstream that `closeAll` will close. */
export async function upstream(protocol: MockProtocol, initial?: MockBehavior): Promise<MockUpstream> {
  return track(await startMockUpstream(protocol, initial));
}

/** Every event a client emits, in order. */
export interface EventLog {
  readonly all: { name: ManaLLMEventName; payload: unknown }[];
  of<K extends ManaLLMEventName>(name: K): ManaLLMEvents[K][];
  count(name: ManaLLMEventName): number;
}

// A record, not a list: adding an event to ManaLLMEvents fails to compile until it is named here too.
const EVENTS: Record<ManaLLMEventName, true> = {
  request: true,
  resolved: true,
  fallback: true,
  response: true,
  failure: true,
  health: true,
  probe: true,
  reload: true,
  store: true,
  cache: true,
  cancel: true,
  hedge: true,
};

/** Every event name a client can emit. */
export const EVENT_NAMES = Object.keys(EVENTS) as readonly ManaLLMEventName[];

/** Subscribes to every event of `llm`. */
export function recordEvents(llm: ManaLLM): EventLog {
  const all: EventLog['all'] = [];
  for (const name of EVENT_NAMES) llm.on(name, (payload) => void all.push({ name, payload }));
  return {
    all,
    of: <K extends ManaLLMEventName>(name: K) =>
      all.filter((e) => e.name === name).map((e) => e.payload as ManaLLMEvents[K]),
    count: (name) => all.filter((e) => e.name === name).length,
  };
}

/** What `harness()` sets up: upstreams by provider id, a fake-clocked client and its event log. */
export interface Harness {
  readonly llm: ManaLLM;
  readonly clock: FakeClock;
  readonly up: Record<string, MockUpstream>;
  readonly events: EventLog;
}

/** Client options a test adds on top of the harness defaults. */
export type HarnessOptions = Partial<ManaLLMOptions>;

export interface HarnessSetup {
  /** Provider id → the protocol its mock upstream speaks (each gets `apiKey: KEY`). */
  upstreams: Record<string, MockProtocol>;
  /** Alias name → chain (or a full alias body); `mana/x` style names. */
  aliases?: Record<
    string,
    | readonly string[]
    | { chain: readonly string[]; dimensions?: number; hedge?: { afterMs: number | 'auto' }; cache?: boolean }
  >;
  /** Extra settings per provider id (merged over the mock's type/baseUrl/apiKey). */
  providers?: Record<string, ProviderOptions>;
  /** Any other client option (health, timeouts, fallbackOnAuthError, …). */
  options?: HarnessOptions;
}

const TYPE: Record<MockProtocol, ProviderType> = {
  openai: 'openai',
  ollama: 'ollama',
  google: 'google',
  anthropic: 'anthropic',
};

/** Starts one mock upstream per provider and a client on a fake clock with probes off. */
export async function harness(setup: HarnessSetup): Promise<Harness> {
  const up: Record<string, MockUpstream> = {};
  const providers: Record<string, ProviderOptions> = {};
  for (const [id, protocol] of Object.entries(setup.upstreams)) {
    const u = await upstream(protocol);
    up[id] = u;
    providers[id] = { type: TYPE[protocol], baseUrl: u.url, apiKey: KEY, ...setup.providers?.[id] };
  }
  for (const [id, extra] of Object.entries(setup.providers ?? {})) providers[id] ??= extra;
  const aliases: Record<string, unknown> = {};
  // An aliases source must define something; tests that call direct models get a placeholder.
  for (const [name, body] of Object.entries(setup.aliases ?? { 'mana/unused': ['unused/m'] })) {
    aliases[name] = Array.isArray(body) ? { chain: body } : body;
  }
  const clock = createFakeClock();
  const { health, ...rest } = setup.options ?? {};
  const llm = track(
    createManaLLM({
      aliases: { aliases },
      providers,
      clock,
      health: { probes: false, ...health },
      ...rest,
    }),
  );
  return { llm, clock, up, events: recordEvents(llm) };
}

/** Polls `cond` (every few ms, up to `ms`) and fails with `what` if it never holds. */
export async function waitFor(cond: () => boolean, what = 'condition', ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads a whole stream. */
export async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

/** The text content of streamed chunks. */
export function textOf(chunks: readonly ChatChunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

/** Consumes a stream in the background, exposing what arrived so far and how it ended. */
export function consume(stream: AsyncIterable<ChatChunk>): {
  chunks: ChatChunk[];
  done: Promise<ChatChunk[]>;
} {
  const chunks: ChatChunk[] = [];
  const done = (async () => {
    for await (const c of stream) chunks.push(c);
    return chunks;
  })();
  done.catch(() => undefined);
  return { chunks, done };
}

/** The rejection of `p` (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** A `http://127.0.0.1:<port>/v1` nothing listens on (connection refused). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

/** The targets of `llm.health()` cooling after a 429, as `{ target, until }` (measured-only targets left out). */
export function coolingTargets(llm: ManaLLM): { target: string; until: number }[] {
  const out: { target: string; until: number }[] = [];
  for (const t of llm.health().targets) if (t.until !== null) out.push({ target: t.target, until: t.until });
  return out;
}
