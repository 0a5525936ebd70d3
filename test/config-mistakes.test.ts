import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AliasConfigError,
  ConfigError,
  createManaLLM,
  type ManaLLMOptions,
  NoHealthyProviderError,
} from '../src/index.js';
import {
  closeAll,
  harness,
  KEY,
  recordEvents,
  rejection,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const ALIASES = { aliases: { 'mana/x': { chain: ['ollama/qwen'] } } };

/** The error `createManaLLM` throws for `options` (fails the test if it does not throw). */
function configError(options: unknown): ConfigError {
  try {
    track(createManaLLM(options as ManaLLMOptions));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected createManaLLM to throw');
}

describe('unknown keys in the options are reported with their path and a suggestion', () => {
  it('a top-level typo: timeout for timeouts', () => {
    const err = configError({ aliases: ALIASES, providers: { ollama: {} }, timeout: { totalMs: 5 } });
    expect(err.code).toBe('CONFIG');
    expect(err.issues).toEqual([
      { path: 'timeout', message: 'unknown key "timeout": did you mean "timeouts"?' },
    ]);
  });

  it('a provider key in the wrong case: apikey for apiKey', () => {
    const err = configError({
      aliases: ALIASES,
      providers: { vllm: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apikey: KEY } },
    });
    expect(err.issues).toEqual([
      { path: 'providers.vllm.apikey', message: 'unknown key "apikey": did you mean "apiKey"?' },
    ]);
    expect(err.message).not.toContain(KEY);
  });

  it('nested blocks and keys nothing is close to', () => {
    const err = configError({
      aliases: ALIASES,
      providers: { ollama: {} },
      health: { probe: false, colour: 'red' },
      timeouts: { firstChunk: 5 },
    });
    expect(err.issues).toEqual([
      { path: 'health.probe', message: 'unknown key "probe": did you mean "probes"?' },
      {
        path: 'health.colour',
        message: expect.stringMatching(/^unknown key "colour" \(known keys: failureThreshold/),
      },
      { path: 'timeouts.firstChunk', message: 'unknown key "firstChunk": did you mean "firstChunkMs"?' },
    ]);
  });

  it('a key in capitals is a case slip; a key three letters off in six is not a typo', () => {
    const err = configError({ aliases: ALIASES, providers: { ollama: {} }, HEALTH: {}, limxyz: 1 });
    expect(err.issues).toEqual([
      { path: 'HEALTH', message: 'unknown key "HEALTH": did you mean "health"?' },
      { path: 'limxyz', message: expect.stringMatching(/^unknown key "limxyz" \(known keys: /) },
    ]);
  });

  it('in a null-prototype options object, and a key named like an Object.prototype member', () => {
    const bare = Object.assign(Object.create(null), {
      aliases: ALIASES,
      providers: { ollama: {} },
      timeout: {},
    });
    expect(configError(bare).issues.map((i) => i.path)).toEqual(['timeout']);
    const proto = { aliases: ALIASES, providers: { ollama: {} }, constructor: {}, toString: {} };
    expect(configError(proto).issues.map((i) => i.path)).toEqual(['constructor', 'toString']);
  });

  it('a provider id or defaultProvider with a line break, escape or bidi override, or huge, is cut and cleaned in messages', () => {
    const odd = `box\n  - forged: line\u202e\x1b[2J${'k'.repeat(100_000)}`;
    for (const options of [
      { aliases: ALIASES, providers: { ollama: {}, [odd]: {} } },
      { aliases: ALIASES, providers: { ollama: {}, [odd]: { type: 'openai' } } },
      { aliases: ALIASES, providers: { ollama: {} }, defaultProvider: odd },
    ]) {
      const err = configError(options);
      expect(err.message.length).toBeLessThan(1_000);
      for (const c of ['\n  - forged', '\u202e', '\x1b']) expect(err.message).not.toContain(c);
    }
    expect(
      configError({ aliases: ALIASES, providers: { ollama: {} }, defaultProvider: 'nope' }).issues,
    ).toEqual([{ path: 'defaultProvider', message: '"nope" is not a configured provider' }]);
  });

  it('an array where an object or map is expected is refused, not read as keys "0", "1", …', () => {
    const vllm = { id: 'vllm', type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' };
    expect(configError({ aliases: ALIASES, providers: [vllm] }).issues).toEqual([
      { path: 'providers', message: 'must be an object, not an array' },
    ]);
    const groups = { aliases: ALIASES, providers: { ollama: { headers: ['x'] } }, health: [3], timeouts: [] };
    expect(configError(groups).issues.map((i) => i.path)).toEqual([
      'providers.ollama.headers',
      'health',
      'timeouts',
    ]);
  });

  it('10,000 unknown keys or bad providers list every issue, but the message shows 100 and says how many more', () => {
    const keys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 1]));
    const bad = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`p${i}`, { timeoutMs: -1 }]));
    for (const options of [
      { aliases: ALIASES, providers: { ollama: {} }, ...keys },
      { aliases: ALIASES, providers: { ollama: {}, ...bad } },
    ]) {
      const err = configError(options);
      expect(err.issues.length).toBeGreaterThanOrEqual(10_000);
      expect(err.message.split('\n')).toHaveLength(102);
      expect(err.message).toMatch(/\n {2}- and \d{4,} more issue\(s\) not shown$/);
    }
    expect(configError({ aliases: ALIASES, providers: { ollama: {} }, ...keys }).message).toMatch(
      /\n {2}- and 9900 more issue\(s\) not shown$/,
    );
    // 101 are all shown: an "and 1 more" line would hide as much as it shows.
    const few = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 1]));
    const err = configError({ aliases: ALIASES, providers: { ollama: {} }, ...few });
    expect(err.message.split('\n')).toHaveLength(102);
    expect(err.message).not.toContain('more issue');
    // An aliases file's list, already capped at 100 and "and N more", is shown as it is.
    const garbage = `aliases: ${'}{]['.repeat(1_000)}`;
    expect(configError({ aliases: garbage, providers: { ollama: {} } }).message).toMatch(
      /\(root\): and 3900 more issue\(s\) not shown$/,
    );
  });

  it('a Map, Set or class instance where an options object is expected is checked, not read as empty', () => {
    expect(
      configError({ aliases: ALIASES, providers: { ollama: {} }, timeouts: new Map([['totalMs', 5]]) })
        .issues,
    ).toEqual([{ path: 'timeouts', message: 'must be a plain object, not a Map' }]);
    expect(configError({ aliases: ALIASES, providers: new Map([['ollama', {}]]) }).issues).toContainEqual({
      path: 'providers',
      message: 'must be a plain object, not a Map',
    });
    // null, and a list where the schema checks its own shape first (an alias's hedge), each say it once.
    expect(configError({ aliases: ALIASES, providers: { ollama: {} }, health: null }).issues).toEqual([
      { path: 'health', message: expect.stringContaining('must be an object') },
    ]);
    const hedged = { aliases: { 'mana/x': { chain: ['ollama/q'], hedge: [300] } } };
    expect(configError({ aliases: hedged, providers: { ollama: {} } }).issues).toEqual([
      { path: 'aliases["mana/x"].hedge', message: expect.stringContaining('must be a mapping like') },
    ]);
    const weak = { aliases: ALIASES, providers: { ollama: {} }, health: new WeakMap(), cache: new WeakSet() };
    expect(configError(weak).issues).toEqual([
      { path: 'health', message: 'must be a plain object, not a WeakMap' },
      { path: 'cache', message: 'must be a plain object, not a WeakSet' },
    ]);
    expect(configError({ aliases: ALIASES, providers: { ollama: new Set() } }).issues).toEqual([
      { path: 'providers.ollama', message: 'must be a plain object, not a Set' },
    ]);
    class GroqConfig {
      apikey = 'gsk_x';
    }
    expect(
      configError({ aliases: ALIASES, providers: { ollama: {}, groq: new GroqConfig() } }).issues,
    ).toEqual([{ path: 'providers.groq.apikey', message: 'unknown key "apikey": did you mean "apiKey"?' }]);
    // A class instance with known keys is read as an object is (its prototype's getters too, as before).
    class Timeouts {
      totalMs = 5_000;
    }
    track(createManaLLM({ aliases: ALIASES, providers: { ollama: {} }, timeouts: new Timeouts() }));
  });

  it('a huge key is cut in its path and message, as an odd key is', () => {
    const huge = 'k'.repeat(100_000);
    for (const options of [
      { aliases: ALIASES, providers: { ollama: {} }, [huge]: 1 },
      { aliases: ALIASES, providers: { ollama: {} }, health: { [huge]: 1 } },
    ]) {
      const err = configError(options);
      expect(err.message.length).toBeLessThan(1_000);
      expect(err.issues[0]?.path).toMatch(/\["k{100}"…\]$/);
    }
  });
});

describe('options or aliases that throw while they are read', () => {
  it('a getter throwing a value with no text form, or a forged line, is a ConfigError / AliasConfigError', () => {
    for (const thrown of [Object.create(null), new Error('boom\n(node:1) forged line \u202e')]) {
      const options = {
        get providers(): never {
          throw thrown;
        },
      };
      const err = configError(options);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.issues[0]?.message).toMatch(/^cannot be read: /);
      expect(err.message).not.toMatch(/\n\(node:1\)|\u202e/);
      const entry = {
        get chain(): never {
          throw thrown;
        },
      };
      const aliasErr = configError({ providers: { ollama: {} }, aliases: { aliases: { 'mana/x': entry } } });
      expect(aliasErr).toBeInstanceOf(AliasConfigError);
      expect(aliasErr.issues[0]?.message).toMatch(/^could not be validated: /);
      expect(aliasErr.message).not.toMatch(/\n\(node:1\)|\u202e/);
    }
  });
});

describe('aliases files: unknown keys and chain entries that name an alias', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function aliasError(text: string): AliasConfigError {
    const dir = mkdtempSync(join(tmpdir(), 'mana-aliases-'));
    dirs.push(dir);
    const path = join(dir, 'aliases.yaml');
    writeFileSync(path, text);
    const err = configError({ aliasesPath: path, providers: { ollama: {} } });
    expect(err).toBeInstanceOf(AliasConfigError);
    expect(err.code).toBe('ALIAS_CONFIG');
    return err as AliasConfigError;
  }

  it('descripton, dimensons and aliasez are reported, each with a suggestion', () => {
    const err = aliasError(
      [
        'aliasez: {}',
        'aliases:',
        '  mana/fast: { descripton: "quick", chain: [ollama/qwen] }',
        '  mana/embed: { chain: [ollama/nomic-embed-text], dimensons: 768 }',
      ].join('\n'),
    );
    expect(err.issues).toEqual([
      { path: 'aliasez', message: 'unknown key "aliasez": did you mean "aliases"?' },
      {
        path: 'aliases["mana/fast"].descripton',
        message: 'unknown key "descripton": did you mean "description"?',
      },
      {
        path: 'aliases["mana/embed"].dimensons',
        message: 'unknown key "dimensons": did you mean "dimensions"?',
      },
    ]);
  });

  it('a chain entry naming an alias (mana/b) is an AliasConfigError, not a provider "mana"', () => {
    const err = aliasError(
      ['aliases:', '  mana/a: { chain: [ollama/qwen, mana/b] }', '  mana/b: { chain: [ollama/llama] }'].join(
        '\n',
      ),
    );
    expect(err.issues).toEqual([
      { path: 'aliases["mana/a"].chain[1]', message: expect.stringContaining('names an alias') },
    ]);
  });

  it('a provider id "mana" is a ConfigError: "mana/<name>" always names an alias, so no chain could list it', () => {
    const err = configError({
      aliases: ALIASES,
      providers: { ollama: {}, mana: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    });
    expect(err.issues).toEqual([
      { path: 'providers.mana', message: expect.stringContaining('reserved for aliases') },
    ]);
    expect(err.message).toContain('"mana/<name>" always names an alias');
  });

  it('a file near the size limit is refused in bounded time and message size: many keys, a duplicate, a long entry', () => {
    // 60,000 keys (~700 KB): the YAML parser's own duplicate-key check compares each key with every other.
    const keys = Array.from({ length: 60_000 }, (_, i) => `  k${i}: 1`);
    // A quadratic check (1.8 billion comparisons) runs for minutes: the guard is this test's timeout, not a clock.
    const err = aliasError(['aliases:', ...keys, '  k7: 2'].join('\n'));
    expect(err.issues).toEqual([
      { path: '(root)', message: 'YAML syntax error at line 60002, column 3: Map keys must be unique' },
    ]);
    // A line of garbage: each of its 100,000 syntax errors quoted that whole line.
    const garbage = aliasError(`aliases: ${'}{]['.repeat(25_000)}`);
    expect(garbage.issues).toHaveLength(101);
    expect(garbage.issues[100]?.message).toBe('and 99900 more issue(s) not shown');
    const long = aliasError(`aliases:\n  mana/x: { chain: ["${'x'.repeat(500_000)}"] }\n`);
    expect(long.issues).toEqual([
      { path: 'aliases["mana/x"].chain[0]', message: expect.stringContaining('has no provider prefix') },
    ]);
    expect(long.message.length).toBeLessThan(400);
    // ~1 s on a quiet machine; 60 s leaves room for a loaded CI machine and still stops the minutes-long quadratic.
  }, 60_000);

  it('two different collection-valued keys are two invalid alias names, not a duplicate key', () => {
    const text = 'aliases:\n  ? [p]\n  : { chain: [ollama/q] }\n  ? {a: 1}\n  : { chain: [ollama/q] }\n';
    expect(aliasError(text).issues.map((i) => i.path)).toEqual(['aliases["[ p ]"]', 'aliases["{ a: 1 }"]']);
  });

  it('a collection-valued key (? [p]) is an invalid alias name, and the YAML library writes no warning to stderr', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const write = process.stderr.write;
    let written = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(aliasError('aliases:\n  ? [p]\n  : { chain: [ollama/q] }\n').issues).toEqual([
        { path: 'aliases["[ p ]"]', message: expect.stringContaining('is not a valid alias name') },
      ]);
      // Node emits (and prints) a process warning on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.stderr.write = write;
      process.off('warning', onWarning);
    }
    expect(written).toBe('');
    expect(warnings).toEqual([]);
  });

  it('an !!omap or !!set where a mapping belongs is named, not taken for an empty mapping', () => {
    expect(aliasError('aliases: !!omap [ mana/a: { chain: [ollama/q] } ]\n').issues).toEqual([
      {
        path: 'aliases',
        message: 'must be a mapping, got a Map (YAML !!omap): a mapping of "mana/<name>" to { chain: [...] }',
      },
    ]);
    expect(aliasError('aliases: !!set { mana/a }\n').issues[0]?.message).toContain('got a Set (YAML !!set)');
    expect(aliasError('!!omap [ aliases: { mana/a: { chain: [ollama/q] } } ]\n').issues).toEqual([
      { path: '(root)', message: 'must be a mapping with an "aliases" key, got a Map (YAML !!omap)' },
    ]);
  });

  it('absurdly deep nesting (20,000 [) is refused with a clear message, not "Maximum call stack size exceeded"', () => {
    const err = aliasError(`aliases: ${'['.repeat(20_000)}`);
    expect(err.message).not.toContain('call stack');
    expect(err.issues).toEqual([{ path: '(root)', message: expect.stringContaining('nested too deeply') }]);
  });

  it('reload() reports them too and keeps the previous aliases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-aliases-'));
    dirs.push(dir);
    const path = join(dir, 'aliases.yaml');
    writeFileSync(path, 'aliases:\n  mana/x: { chain: [ollama/qwen] }\n');
    const llm = track(
      createManaLLM({ aliasesPath: path, providers: { ollama: {} }, health: { probes: false } }),
    );
    writeFileSync(path, 'aliases:\n  mana/x: { chain: [ollama/qwen], cahce: true }\n');
    const err = (await rejection(llm.reload())) as AliasConfigError;
    expect(err).toBeInstanceOf(AliasConfigError);
    expect(err.issues[0]?.path).toBe('aliases["mana/x"].cahce');
    expect(llm.aliases().aliases.map((a) => a.name)).toEqual(['mana/x']);
  });

  it('an odd key (huge, a bidirectional override, an escape) is cut and cleaned in paths and messages', () => {
    const odd = `${'k'.repeat(100_000)}\u202e\x1b[2J`;
    for (const yaml of [
      `{"${odd}": 1, aliases: {mana/x: {chain: [ollama/m]}}}\n`,
      `aliases: {mana/x: {chain: [ollama/m], "${odd}": 1}}\n`,
      `aliases: {"${odd}": {chain: [ollama/m]}}\n`,
    ]) {
      const err = aliasError(yaml);
      expect(err.message.length).toBeLessThan(600);
      for (const c of ['\u202e', '\x1b']) expect(err.message).not.toContain(c);
      expect(err.issues[0]?.path).toMatch(/\["k{100}"…\]$/);
    }
  });
});

describe('a well-known cloud provider without a key is not configured', () => {
  it('its entries are skipped as unconfigured, without a request or a probe, and the chain goes on', async () => {
    const local = await upstream('openai', { reply: 'from the local server' });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['groq/llama-3.1-8b-instant', 'local/m'] } } },
        providers: {
          // As a quick start writes it, with GROQ_API_KEY unset.
          groq: { apiKey: process.env.MANA_TEST_SURELY_UNSET_GROQ_KEY },
          google: {},
          local: { type: 'openai', baseUrl: local.url },
        },
      }),
    );
    const events = recordEvents(llm);
    expect(llm.resolve('mana/x').candidates.map((c) => c.state)).toEqual(['unconfigured', 'ready']);
    expect(Object.keys(llm.health().providers)).toEqual(['local']);
    const res = await llm.chat({ model: 'mana/x', messages: USER });
    expect(res.model).toBe('local/m');
    expect(res.routing.attempts.map((a) => [a.target, a.reason])).toEqual([
      ['groq/llama-3.1-8b-instant', 'unconfigured'],
      ['local/m', 'ok'],
    ]);
    // Probes start on the next tick, all at once: only the local server is probed.
    await waitFor(() => events.count('probe') > 0, 'the first probe');
    expect(events.of('probe').map((p) => p.provider)).toEqual(['local']);
    expect(local.count('chat')).toBe(1);
  });

  it('a direct call to it is NoHealthyProviderError (unconfigured), not a keyless 401', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, providers: { openai: {} } });
    const err = (await rejection(
      h.llm.chat({ model: 'openai/gpt-4o-mini', messages: USER }),
    )) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((a) => a.reason)).toEqual(['unconfigured']);
  });

  it("the error's message says why each unconfigured entry is skipped: no API key, or not in providers", async () => {
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['groq/llama-3.1-8b-instant', 'openai/gpt-4o-mini'] } } },
        // As a quick start writes it, with GROQ_API_KEY unset; openai is not listed at all.
        providers: { groq: { apiKey: process.env.MANA_TEST_SURELY_UNSET_GROQ_KEY }, ollama: {} },
        health: { probes: false },
      }),
    );
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.message).toBe(
      'No provider could serve "mana/x": groq/llama-3.1-8b-instant (unconfigured: no API key), ' +
        'openai/gpt-4o-mini (unconfigured: not in providers)',
    );
    expect(err.attempts.map((a) => a.reason)).toEqual(['unconfigured', 'unconfigured']);
  });

  it('its public endpoint written with a trailing slash is still its public endpoint: not configured', () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { ollama: {}, groq: { baseUrl: 'https://api.groq.com/openai/v1/' } },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers)).toEqual(['ollama']);
  });

  it('its public endpoint written with several trailing slashes is still its public endpoint: not configured', () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { ollama: {}, groq: { baseUrl: 'https://api.groq.com/openai/v1///' } },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers)).toEqual(['ollama']);
  });

  it('its public endpoint written with an upper-case host or the default port is still it: not configured', () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          ollama: {},
          groq: { baseUrl: 'https://API.Groq.com/openai/v1' },
          openai: { baseUrl: 'https://api.openai.com:443/v1/' },
        },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers)).toEqual(['ollama']);
  });

  it("a key given as Google's x-goog-api-key or Azure's api-key header counts as a key", () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          google: { headers: { 'x-goog-api-key': KEY } },
          openai: { headers: { 'Api-Key': KEY } },
        },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers).sort()).toEqual(['google', 'openai']);
  });

  it('local servers and a key given as a header or another baseUrl are configured without apiKey', () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          ollama: {},
          vllm: { type: 'openai', baseUrl: 'http://10.0.0.5:8000/v1' },
          groq: { baseUrl: 'http://127.0.0.1:9/openai/v1' },
          anthropic: { headers: { 'X-Api-Key': KEY } },
        },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers).sort()).toEqual(['anthropic', 'groq', 'ollama', 'vllm']);
  });
});

describe('a key or header an HTTP request cannot carry is a ConfigError, not a connection failure per call', () => {
  it('an apiKey with a trailing newline (read from a file) names its path and never shows the key', () => {
    const err = configError({
      aliases: ALIASES,
      providers: {
        vllm: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: `${KEY}\n` },
        claude: { type: 'anthropic', baseUrl: 'http://127.0.0.1:9/v1', apiKey: `${KEY}\u2028x` },
      },
    });
    expect(err.issues).toEqual([
      { path: 'providers.vllm.apiKey', message: expect.stringMatching(/line break or control character/) },
      { path: 'providers.claude.apiKey', message: expect.stringMatching(/cannot carry/) },
    ]);
    expect(JSON.stringify(err.issues)).not.toContain('SECRET');
    expect(err.message).not.toContain('SECRET');
  });

  it('a header value or name that is not valid HTTP names the header, never its value', () => {
    const err = configError({
      aliases: ALIASES,
      providers: {
        vllm: {
          type: 'openai',
          baseUrl: 'http://127.0.0.1:9/v1',
          headers: { authorization: `Bearer ${KEY}\r\n`, 'x ok': 'fine', 'x-fine': 'tab\tand spaces ok' },
        },
      },
    });
    expect(err.issues).toEqual([
      { path: 'providers.vllm.headers.authorization', message: expect.stringMatching(/cannot carry/) },
      { path: 'providers.vllm.headers["x ok"]', message: 'is not a valid HTTP header name' },
    ]);
    expect(JSON.stringify(err.issues)).not.toContain('SECRET');
    expect(err.message).not.toContain('SECRET');
  });

  it('a valid key still reaches the upstream', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, providers: { a: { apiKey: `${KEY} ` } } });
    await h.llm.chat({ model: 'a/m', messages: USER });
    expect(h.up.a?.count('chat')).toBe(1);
  });
});

describe('a baseUrl whose query, fragment or credentials would never be sent is a ConfigError', () => {
  it.each([
    [
      'a query string (Azure api-version)',
      'http://127.0.0.1:9/openai/deployments/d?api-version=2024-10-21',
      /query string/,
    ],
    ['a fragment', 'http://127.0.0.1:9/v1#x', /fragment/],
    ['user and password', 'http://user:pass-SECRET@127.0.0.1:9/v1', /credentials.*headers/],
    ['a user alone', 'http://token-SECRET@127.0.0.1:9/v1', /credentials.*headers/],
    ['a password alone', 'http://:pass-SECRET@127.0.0.1:9/v1', /credentials.*headers/],
  ])('%s names providers.<id>.baseUrl and never shows the URL', (_, baseUrl, message) => {
    const err = configError({ aliases: ALIASES, providers: { azure: { type: 'openai', baseUrl } } });
    expect(err.issues).toEqual([
      { path: 'providers.azure.baseUrl', message: expect.stringMatching(message) },
    ]);
    expect(JSON.stringify(err.issues)).not.toContain('SECRET');
    expect(err.message).not.toContain('SECRET');
    expect(JSON.stringify(err.issues)).not.toContain('127.0.0.1');
  });

  it('trailing slashes are dropped: the call goes to <baseUrl>/chat/completions, with one slash', async () => {
    const up = await upstream('openai');
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { a: { type: 'openai', baseUrl: `${up.url}//`, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    await llm.chat({ model: 'a/m', messages: USER });
    expect(up.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
  });

  it('a bare trailing ? or # drops nothing and is accepted', async () => {
    const up = await upstream('openai');
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { a: { type: 'openai', baseUrl: `${up.url}?`, apiKey: KEY } },
        health: { probes: false },
      }),
    );
    await llm.chat({ model: 'a/m', messages: USER });
    expect(up.count('chat')).toBe(1);
  });
});

describe('an Ollama baseUrl is the server root: one ending in /v1 or /api is a ConfigError', () => {
  it.each([
    ['http://127.0.0.1:11434/v1'],
    ['http://127.0.0.1:11434/v1/'],
    ['http://127.0.0.1:11434/api'],
    ['http://127.0.0.1:11434/proxy/API'],
  ])('%s names providers.ollama.baseUrl and says what to use', (baseUrl) => {
    const err = configError({ aliases: ALIASES, providers: { ollama: { baseUrl } } });
    expect(err.issues).toEqual([
      { path: 'providers.ollama.baseUrl', message: expect.stringMatching(/server root.*type: 'openai'/) },
    ]);
  });

  it('the root, or a proxy prefix, is accepted', () => {
    for (const baseUrl of [
      'http://127.0.0.1:11434',
      'http://127.0.0.1:11434/',
      'http://h/ollama',
      'http://h/v1x',
    ])
      track(
        createManaLLM({ aliases: ALIASES, providers: { ollama: { baseUrl } }, health: { probes: false } }),
      );
  });
});

describe('a 404 that names no model error (a wrong baseUrl path) is worded as such', () => {
  it('keeps the model-not-found fallback, but the message points at the baseUrl, not at the model', async () => {
    // Go's default 404, as a server answers a path it does not serve (an OpenAI-compatible one without /v1).
    const bare = await rawUpstream((_, res) =>
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found'),
    );
    const named = await upstream('openai');
    named.setDefault({
      status: 404,
      body: '{"error":{"message":"The model `m` does not exist","code":"model_not_found"}}',
    });
    const llm = track(
      createManaLLM({
        aliases: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'] } } },
        providers: {
          a: { type: 'openai', baseUrl: bare.url.replace(/\/v1$/, ''), apiKey: KEY },
          b: { type: 'openai', baseUrl: named.url, apiKey: KEY },
        },
        health: { probes: false },
      }),
    );
    const err = (await rejection(llm.chat({ model: 'mana/x', messages: USER }))) as NoHealthyProviderError;
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect(err.attempts.map((a) => a.reason)).toEqual(['model-not-found', 'model-not-found']);
    expect(err.message).toBe(
      'No provider could serve "mana/x": a/m (model-not-found: a bare HTTP 404, not a model error; check the baseUrl path), b/m (model-not-found)',
    );
    expect(err.message).not.toContain('page not found');
  });
});

describe('a well-known id given another type', () => {
  it('needs its own baseUrl: the well-known endpoint speaks the other protocol', () => {
    const err = configError({
      aliases: ALIASES,
      providers: { ollama: { type: 'openai' }, groq: { type: 'anthropic', apiKey: 'k' } },
    });
    expect(err.issues.map((i) => i.path)).toEqual(['providers.ollama.baseUrl', 'providers.groq.baseUrl']);
  });

  it('says so: the message does not call a well-known id unknown', () => {
    const err = configError({ aliases: ALIASES, providers: { ollama: { type: 'openai' } } });
    expect(err.issues).toEqual([
      {
        path: 'providers.ollama.baseUrl',
        message: `required for "ollama" with type 'openai' (its well-known endpoint speaks 'ollama')`,
      },
    ]);
  });
});

describe('what the header checks leave alone', () => {
  it('a well-known id given another type and no key is configured (the key rule is for its own cloud)', () => {
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { openai: { type: 'ollama', baseUrl: 'http://127.0.0.1:9' } },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers)).toEqual(['openai']);
  });

  it('accepts Latin-1 in a header value, and any text in a custom provider key (it is not sent as a header)', () => {
    const adapter = {
      chat: () => Promise.reject(new Error('unused')),
    } as never;
    track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          a: {
            type: 'openai',
            baseUrl: 'http://127.0.0.1:9/v1',
            apiKey: 'k\u00e9y',
            headers: { 'x-team': 'caf\u00e9' },
          },
          mine: { type: 'custom', adapter, apiKey: 'line\nbreak \u20ac' },
        },
        health: { probes: false },
      }),
    );
  });
});
