import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { main } from '../../src/cli/main.js';
import {
  type ChatChunk,
  createManaLLM,
  type ManaLLM,
  type ProviderOptions,
  toServerSentEvents,
} from '../../src/index.js';
import { createFakeClock, type MockProtocol } from '../../src/testing/index.js';
import { CODECS, EVENT_NAMES, mock, settle, waitFor } from './support.js';

/** Distinct keys, none shaped like a well-known key (no `sk-`, `AIza`…): only the configured secrets protect them. */
const KEYS = {
  openai: 'oaiPLAINsecret000111',
  azure: 'azurePLAINsecret777888',
  ollama: 'ollamaPLAINsecret222333',
  google: 'googPLAINsecret333444',
  anthropic: 'anthPLAINsecret555666',
} as const;
const ALL_KEYS = Object.values(KEYS);

type Mode =
  | 'status-401'
  | 'status-403'
  | 'status-400'
  | 'status-404'
  | 'status-429'
  | 'status-500'
  | 'text-500'
  | 'inband-server'
  | 'inband-auth'
  | 'inband-invalid'
  | 'malformed'
  | 'stream-inband-mid'
  | 'stream-garbage-mid'
  | 'stream-reset-mid'
  | 'reset'
  | 'hang';

const MODES: readonly Mode[] = [
  'status-401',
  'status-403',
  'status-400',
  'status-404',
  'status-429',
  'status-500',
  'text-500',
  'inband-server',
  'inband-auth',
  'inband-invalid',
  'malformed',
  'stream-inband-mid',
  'stream-garbage-mid',
  'stream-reset-mid',
  'reset',
  'hang',
];

/**
 * An upstream that fails in `mode` and puts every credential it received into what it answers: the bare token
 * first (so a JSON parser's error snippet starts with it), then every header as `name: value`, then the URL.
 */
interface EchoUpstream {
  readonly url: string;
  mode: Mode | 'ok';
  probeMode: 'status-401' | 'status-500' | 'text-500' | 'malformed' | 'ok';
  readonly received: number;
  close(): Promise<void>;
}

function echoOf(req: IncomingMessage): string {
  const values = Object.entries(req.headers).map(([k, v]) => [k, String(v)] as const);
  const bare = values
    .filter(([k]) => /auth|key/i.test(k))
    .map(([, v]) => v.replace(/^bearer\s+/i, ''))
    .join(' ');
  return `${bare} rejected; headers: ${values.map(([k, v]) => `${k}: ${v}`).join('; ')}; url: ${req.url}`;
}

/** Replaces every `"message"` / `"error"` string of a protocol's own in-band error with `text`. */
function withMessage(frame: string, text: string): string {
  return frame.replace(
    /"(message|error)":"(?:[^"\\]|\\.)*"/g,
    (_, k: string) => `"${k}":${JSON.stringify(text)}`,
  );
}

async function echoUpstream(protocol: MockProtocol): Promise<EchoUpstream> {
  const codec = CODECS[protocol];
  const state = {
    mode: 'ok' as EchoUpstream['mode'],
    probeMode: 'ok' as EchoUpstream['probeMode'],
    received: 0,
  };
  const jsonError = (
    res: ServerResponse,
    status: number,
    echo: string,
    headers: Record<string, string> = {},
  ) =>
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify({ error: { message: echo, type: 'echo_error' } }));
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      state.received++;
      const raw = Buffer.concat(parts).toString('utf8');
      const route = codec.route(
        req.method ?? 'GET',
        (req.url ?? '').slice(codec.basePath.length),
        raw ? JSON.parse(raw) : undefined,
      );
      const echo = echoOf(req);
      if (!route) return void jsonError(res, 404, echo);
      const op = route.op;
      const mode = op === 'models' ? state.probeMode : state.mode;
      const streaming = op === 'stream';
      const model = 'model' in route ? route.model : '';
      const s = codec.stream({ reply: 'partial answer', chunks: 2 }, model);
      switch (mode) {
        case 'ok':
          if (op === 'models')
            return void res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify(codec.models(['m'])));
          if (op === 'embed')
            return void res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify(codec.embed(3, route.inputs ?? [], model)));
          if (op === 'chat')
            return void res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify(codec.chat({ reply: 'fine' }, model)));
          return void res
            .writeHead(200, { 'content-type': s.contentType })
            .end([...s.prelude, ...s.content, ...s.end].join(''));
        case 'status-401':
        case 'status-403':
        case 'status-400':
        case 'status-404':
        case 'status-500':
          return void jsonError(res, Number(mode.slice(7)), echo);
        case 'status-429':
          return void jsonError(res, 429, echo, { 'retry-after': '1' });
        case 'text-500':
          return void res.writeHead(500, { 'content-type': 'text/plain' }).end(echo);
        case 'inband-server':
        case 'inband-auth':
        case 'inband-invalid': {
          const kind = mode === 'inband-server' ? 'server' : mode === 'inband-auth' ? 'auth' : 'invalid';
          const frame = withMessage(codec.inBandError(kind, streaming), echo);
          if (!streaming) return void res.writeHead(200, { 'content-type': 'application/json' }).end(frame);
          return void res
            .writeHead(200, { 'content-type': s.contentType })
            .end([...s.prelude, frame].join(''));
        }
        case 'malformed':
          if (!streaming) return void res.writeHead(200, { 'content-type': 'application/json' }).end(echo);
          return void res.writeHead(200, { 'content-type': s.contentType }).end(garbageFrame(protocol, echo));
        case 'stream-inband-mid':
        case 'stream-garbage-mid':
        case 'stream-reset-mid': {
          if (!streaming) return void jsonError(res, 502, echo);
          res.writeHead(200, { 'content-type': s.contentType });
          res.write([...s.prelude, s.content[0]].join(''));
          if (mode === 'stream-reset-mid') return void setTimeout(() => req.socket.destroy(), 5);
          const tail =
            mode === 'stream-inband-mid'
              ? withMessage(codec.inBandError('server', true), echo)
              : garbageFrame(protocol, echo);
          return void res.end(tail);
        }
        case 'reset':
          return void req.socket.destroy();
        case 'hang':
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${codec.basePath}`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    get probeMode() {
      return state.probeMode;
    },
    set probeMode(m) {
      state.probeMode = m;
    },
    get received() {
      return state.received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A frame that is not JSON, in the stream's own framing. */
function garbageFrame(protocol: MockProtocol, text: string): string {
  return protocol === 'ollama' ? `${text}\n` : `data: ${text}\n\n`;
}

// ---------------------------------------------------------------------------------------------------------------

const PROVIDERS: readonly { id: keyof typeof KEYS; protocol: MockProtocol; embeddings: boolean }[] = [
  { id: 'openai', protocol: 'openai', embeddings: true },
  { id: 'azure', protocol: 'openai', embeddings: true },
  { id: 'ollama', protocol: 'ollama', embeddings: true },
  { id: 'google', protocol: 'google', embeddings: true },
  { id: 'anthropic', protocol: 'anthropic', embeddings: false },
];

const echo = {} as Record<keyof typeof KEYS, EchoUpstream>;
let healthyUrl = '';
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  for (const p of PROVIDERS) {
    echo[p.id] = await echoUpstream(p.protocol);
    closers.push(() => echo[p.id].close());
  }
  const healthy = await mock('openai');
  healthyUrl = healthy.url;
  closers.push(() => healthy.close());
});
afterAll(async () => {
  for (const c of closers) await c();
});

/** Each provider type configured with its key the way a user would: apiKey, a bearer header, an api-key header. */
function providerConfig(): Record<string, ProviderOptions> {
  return {
    openai: { type: 'openai', baseUrl: echo.openai.url, apiKey: KEYS.openai, timeoutMs: 1000 },
    azure: { type: 'openai', baseUrl: echo.azure.url, headers: { 'api-key': KEYS.azure }, timeoutMs: 1000 },
    ollama: {
      type: 'ollama',
      baseUrl: echo.ollama.url,
      headers: { Authorization: `Bearer ${KEYS.ollama}` },
      timeoutMs: 1000,
    },
    google: { type: 'google', baseUrl: echo.google.url, apiKey: KEYS.google, timeoutMs: 1000 },
    anthropic: { type: 'anthropic', baseUrl: echo.anthropic.url, apiKey: KEYS.anthropic, timeoutMs: 1000 },
    healthy: { type: 'openai', baseUrl: healthyUrl, apiKey: 'sk-healthy-provider-key-0001' },
  };
}

const ALIASES = Object.fromEntries(
  PROVIDERS.map((p) => [`mana/${p.id}`, { chain: [`${p.id}/model-x`, 'healthy/m'] }]),
);

/** Every string a user could see: messages, stacks, JSON, util.inspect (what loggers print), cause chains. */
const seen: string[] = [];
function see(label: string, value: unknown): void {
  const parts: string[] = [];
  try {
    parts.push(JSON.stringify(value) ?? '');
  } catch {
    parts.push('[unserialisable]');
  }
  parts.push(inspect(value, { depth: 12, showHidden: false }));
  if (value instanceof Error) {
    parts.push(String(value), value.message, value.stack ?? '');
    const chain = new Set<unknown>();
    for (
      let c: unknown = value.cause;
      c !== undefined && c !== null && !chain.has(c);
      c = (c as Error).cause
    ) {
      chain.add(c);
      parts.push(JSON.stringify(c) ?? '', inspect(c, { depth: 6 }), String(c));
      if (c instanceof Error) parts.push(c.message, c.stack ?? '');
    }
    // Errors of each attempt (NoHealthyProviderError) are part of what a logger prints.
    for (const a of (value as { attempts?: { error?: unknown }[] }).attempts ?? [])
      if (a.error) see(`${label}.attempt`, a.error);
  }
  seen.push(`${label}\n${parts.join('\n')}`);
}

function expectNoKey(): void {
  const leaks: string[] = [];
  for (const text of seen) {
    for (const key of ALL_KEYS) if (text.includes(key)) leaks.push(`${key} in ${text.slice(0, 1500)}`);
  }
  seen.length = 0;
  expect(leaks, leaks.join('\n\n')).toEqual([]);
}

let warnings: MockInstance<typeof process.emitWarning>;
beforeEach(() => {
  seen.length = 0;
  warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(() => {
  for (const call of warnings.mock.calls)
    see('warning', call.map((a: unknown) => (a instanceof Error ? a.message : String(a))).join(' '));
  warnings.mockRestore();
  for (const p of PROVIDERS) {
    echo[p.id].mode = 'ok';
    echo[p.id].probeMode = 'ok';
  }
  expectNoKey();
});

/** A client on a fake clock whose every event is recorded, plus a listener that throws the payload back. */
function makeClient(probes = false): { llm: ManaLLM; clock: ReturnType<typeof createFakeClock> } {
  const clock = createFakeClock();
  const llm = createManaLLM({
    aliases: { aliases: ALIASES },
    providers: providerConfig(),
    clock,
    health: { probes, failureThreshold: 1000 },
    timeouts: { totalMs: 5000, firstChunkMs: 1000, idleMs: 1000 },
  });
  for (const name of EVENT_NAMES) {
    llm.on(name, (payload) => see(`event ${name}`, payload));
    // A listener that throws what it was given: the warning it turns into must be key-free too.
    llm.on(name, (payload) => {
      throw new Error(`listener failed on ${inspect(payload, { depth: 8 })}`);
    });
  }
  return { llm, clock };
}

function views(llm: ManaLLM): void {
  see('health()', llm.health());
  see('aliases()', llm.aliases());
  for (const p of PROVIDERS) see('resolve()', llm.resolve(`mana/${p.id}`));
}

async function drive(
  llm: ManaLLM,
  clock: ReturnType<typeof createFakeClock>,
  up: EchoUpstream,
  call: () => Promise<unknown>,
) {
  const before = up.received;
  const result = settle(call());
  if (up.mode === 'hang') {
    await waitFor(() => up.received > before, 'the request');
    await clock.advanceAsync(1000);
  }
  const r = await result;
  if (r.error !== undefined) see('error', r.error);
  else see('result', r.value);
  views(llm);
}

async function streamText(llm: ManaLLM, model: string): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of llm.stream({ model, messages: [{ role: 'user', content: 'hi' }] })) out.push(c);
  return out;
}

describe.each(PROVIDERS)('no key leaks: $id ($protocol)', (p) => {
  for (const mode of MODES) {
    it(`${mode}: errors, causes, events, warnings, health, aliases, resolve`, async () => {
      const up = echo[p.id];
      up.mode = mode;
      const messages = [{ role: 'user' as const, content: 'hi' }];
      for (const model of [`mana/${p.id}`, `${p.id}/model-x`]) {
        const { llm, clock } = makeClient();
        await drive(llm, clock, up, () => llm.chat({ model, messages }));
        await drive(llm, clock, up, () => streamText(llm, model));
        if (p.embeddings) await drive(llm, clock, up, () => llm.embed({ model, input: ['a'] }));
        // A relay to a browser: the error frame of toServerSentEvents.
        await drive(llm, clock, up, async () => {
          const frames: string[] = [];
          for await (const f of toServerSentEvents(llm.stream({ model, messages }))) frames.push(f);
          see('sse frames', frames.join(''));
          return frames;
        });
        await llm.close();
      }
      expect(up.received).toBeGreaterThan(0);
    });
  }
});

describe('no key leaks from probes and models()', () => {
  for (const probeMode of ['status-401', 'status-500', 'text-500', 'malformed'] as const) {
    it(`probe answered ${probeMode}: probe events, lastError, models() errors`, async () => {
      for (const p of PROVIDERS) echo[p.id].probeMode = probeMode;
      const { llm, clock } = makeClient(true);
      const probed = new Set<string>();
      llm.on('probe', (e) => void probed.add(e.provider));
      await clock.advanceAsync(0);
      await waitFor(() => probed.size === PROVIDERS.length + 1, 'every probe');
      const health = llm.health();
      // A 200 with a garbage body still means "alive" (the probe does not read it); every other answer is kept.
      if (probeMode !== 'malformed')
        for (const p of PROVIDERS) expect(health.providers[p.id]?.lastError).toEqual(expect.any(String));
      see('models()', await llm.models());
      views(llm);
      await llm.close();
    });
  }
});

describe('no key leaks from the CLI', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mana-secrets-'));
    writeFileSync(
      join(dir, 'aliases.yaml'),
      `aliases:\n${Object.entries(ALIASES)
        .map(([n, a]) => `  ${n}:\n    chain: [${a.chain.join(', ')}]\n`)
        .join('')}default: mana/openai\n`,
    );
    const providers = providerConfig();
    for (const p of Object.values(providers)) delete p.timeoutMs;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ aliasesPath: 'aliases.yaml', providers }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function cli(argv: string[]): Promise<{ code: number; output: string }> {
    let output = '';
    const capture = (chunk: unknown) => {
      output += String(chunk);
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const code = await main(argv, {});
      return { code, output };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  }

  for (const mode of [
    'status-401',
    'status-500',
    'text-500',
    'inband-auth',
    'malformed',
    'stream-inband-mid',
  ] as const) {
    it(`chat, chat --json and embed against upstreams answering ${mode}`, async () => {
      const config = join(dir, 'config.json');
      for (const p of PROVIDERS) echo[p.id].mode = mode;
      for (const p of PROVIDERS) {
        const direct = `${p.id}/model-x`;
        for (const argv of [
          ['chat', '--config', config, '--model', direct, 'hi'],
          ['chat', '--config', config, '--model', direct, '--json', 'hi'],
          ['chat', '--config', config, '--model', `mana/${p.id}`, 'hi'],
          ...(p.embeddings ? [['embed', '--config', config, '--model', direct, 'hi']] : []),
        ]) {
          const r = await cli(argv);
          see(`cli ${argv.join(' ')} → ${r.code}`, r.output);
        }
      }
    });
  }

  it('health and aliases print no key, even when probes are answered with the key', async () => {
    for (const p of PROVIDERS) echo[p.id].probeMode = 'status-401';
    const config = join(dir, 'config.json');
    const health = await cli(['health', '--config', config]);
    see('cli health', health.output);
    expect(health.output).toContain('openai');
    see('cli aliases', (await cli(['aliases', '--config', config])).output);
  });
});
