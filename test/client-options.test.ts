import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AliasConfigError,
  ConfigError,
  createManaLLM,
  type ManaLLMOptions,
  type ProviderAdapter,
} from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, track } from './helpers/client.js';

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

/** A custom adapter whose methods are never called (these tests only configure it). */
function unusedAdapter(can: boolean): ProviderAdapter {
  return {
    capabilities: () => ({ tools: can, vision: can, jsonSchema: can, embeddings: can }),
    chat: () => Promise.reject(new Error('unused')),
    stream: () => {
      throw new Error('unused');
    },
    embed: () => Promise.reject(new Error('unused')),
    probe: () => Promise.resolve({ ok: true }),
    models: () => Promise.resolve([]),
  };
}

describe('createManaLLM validates its options', () => {
  it('lists every problem with its path in one ConfigError', () => {
    const err = configError({
      aliases: ALIASES,
      providers: {
        ollama: { baseUrl: 'ftp://gpu-box', timeoutMs: 0, maxConcurrent: 1.5 },
        vllm: { baseUrl: 'http://10.0.0.5:8000/v1' },
        'My Box': { type: 'openai', baseUrl: 'http://x/v1' },
        mine: { type: 'custom' },
        groq: { apiKey: 42 },
      },
      health: { failureThreshold: 0, cooldownMs: -1, probeIntervalMs: 0, recoveryProbeMs: -5, probes: 'yes' },
      timeouts: { connectMs: 'soon', totalMs: Number.POSITIVE_INFINITY },
      reloadOnSignal: 'SIGINT',
      watch: true,
      clock: {},
      defaultProvider: 'nope',
    });
    expect(err.code).toBe('CONFIG');
    expect(err.httpStatus).toBe(500);
    const paths = err.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'providers.ollama.baseUrl',
        'providers.ollama.timeoutMs',
        'providers.ollama.maxConcurrent',
        'providers.vllm.type',
        'providers["My Box"]',
        'providers.mine.adapter',
        'providers.groq.apiKey',
        'health.failureThreshold',
        'health.cooldownMs',
        'health.probeIntervalMs',
        'health.recoveryProbeMs',
        'health.probes',
        'timeouts.connectMs',
        'timeouts.totalMs',
        'reloadOnSignal',
        'watch',
        'clock',
        'defaultProvider',
      ]),
    );
    for (const issue of err.issues) expect(err.message).toContain(issue.path);
  });

  it("a clock whose setTimer does not return a cancel function (setTimeout's handle) is a ConfigError, not a TypeError in every call", () => {
    const clock = {
      now: () => Date.now(),
      setTimer: (ms: number, fn: () => void) => setTimeout(fn, ms) as unknown as () => void,
    };
    const err = configError({ aliases: ALIASES, providers: { ollama: {} }, clock });
    expect(err.issues).toEqual([
      { path: 'clock', message: 'setTimer(ms, fn) must return a function that cancels the timer' },
    ]);
  });

  it('a clock whose setTimer fires at once, or throws, is a ConfigError at clock (not a stack overflow or at the root)', () => {
    const sync = {
      now: () => 0,
      setTimer: (_ms: number, fn: () => void) => {
        fn();
        return () => undefined;
      },
    };
    expect(configError({ aliases: ALIASES, providers: { ollama: {} }, clock: sync }).issues).toEqual([
      { path: 'clock', message: 'setTimer(ms, fn) must not call fn before it returns: a timer fires later' },
    ]);
    const throwing = {
      now: () => 0,
      setTimer: () => {
        throw new Error('no timers here');
      },
    };
    expect(configError({ aliases: ALIASES, providers: { ollama: {} }, clock: throwing }).issues).toEqual([
      { path: 'clock', message: 'setTimer(ms, fn) threw: no timers here' },
    ]);
    const badCancel = {
      now: () => 0,
      setTimer: () => () => {
        throw new Error('cannot cancel');
      },
    };
    expect(configError({ aliases: ALIASES, providers: { ollama: {} }, clock: badCancel }).issues).toEqual([
      {
        path: 'clock',
        message:
          'the function setTimer(ms, fn) returned threw when called to cancel the timer: cannot cancel',
      },
    ]);
  });

  it('checking such a clock leaves no timer of its own running (a script that fails on it still exits at once)', () => {
    // The clock's own setTimeout is a real, ref'd timer: one left running shows among the process's active timers.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const clock = {
      now: () => Date.now(),
      setTimer: (ms: number, fn: () => void) => setTimeout(fn, ms) as unknown as () => void,
    };
    configError({ aliases: ALIASES, providers: { ollama: {} }, clock });
    expect(timers()).toBe(before);
  });

  it('needs exactly one of aliasesPath and aliases', () => {
    const neither = configError({ providers: { ollama: {} } });
    expect(neither).not.toBeInstanceOf(AliasConfigError);
    expect(neither.issues).toEqual([{ path: 'aliasesPath', message: expect.any(String) }]);
    const both = configError({ aliases: ALIASES, aliasesPath: './aliases.yaml', providers: { ollama: {} } });
    expect(both.issues.map((i) => i.path)).toEqual(['aliasesPath']);
    // Reloading needs a file to reload.
    for (const reload of [{ watch: true }, { reloadOnSignal: 'SIGHUP' as const }]) {
      const err = configError({ aliases: ALIASES, providers: { ollama: {} }, ...reload });
      expect(err.issues).toEqual([
        { path: Object.keys(reload)[0], message: expect.stringContaining('needs aliasesPath') },
      ]);
    }
  });

  it('a provider id starting with ".", "_" or "-" is refused with a message that says why', () => {
    for (const [id, path] of [
      ['_local', 'providers._local'],
      ['.box', 'providers[".box"]'],
      ['-x', 'providers["-x"]'],
    ] as const) {
      const err = configError({
        aliases: ALIASES,
        providers: { [id]: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
      });
      expect(err.issues).toEqual([
        { path, message: expect.stringContaining('start with a letter or digit') },
      ]);
    }
  });

  it('a provider id with a capital letter, first or later, is refused (chain entries name lower-case ids)', () => {
    for (const id of ['Vllm', 'vLLM']) {
      const err = configError({
        aliases: ALIASES,
        providers: { [id]: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
      });
      expect(err.issues).toEqual([
        { path: `providers.${id}`, message: expect.stringContaining('lower-case') },
      ]);
    }
  });

  it('tells a shared health store its bounds: health.cooldownMs, and limits.maxRetryAfterMs as the cool-down cap', () => {
    const told: unknown[] = [];
    const store = {
      getProvider: () => undefined,
      setProvider: () => undefined,
      getTargetCooldown: () => undefined,
      setTargetCooldown: () => undefined,
      listTargetCooldowns: () => [],
      bind: (bounds: { cooldownMs: number; maxCooldownMs?: number }) => void told.push({ ...bounds }),
    };
    track(
      createManaLLM({
        aliases: ALIASES,
        providers: { ollama: {} },
        health: { probes: false, store, cooldownMs: 7_000 },
        limits: { maxRetryAfterMs: 5_000 },
      }),
    );
    expect(told).toEqual([{ providers: new Set(['ollama']), cooldownMs: 7_000, maxCooldownMs: 5_000 }]);
  });

  it('needs at least one provider, and a type for ids that are not well known', () => {
    expect(configError({ aliases: ALIASES, providers: {} }).issues.map((i) => i.path)).toEqual(['providers']);
    expect(configError({ aliases: ALIASES }).issues.map((i) => i.path)).toEqual(['providers']);
    // Only undefined entries, or only a refused id, configure nothing either.
    expect(configError({ aliases: ALIASES, providers: { groq: undefined } }).issues).toEqual([
      { path: 'providers', message: 'configure at least one provider' },
    ]);
    const onlyMana = { mana: { type: 'openai' as const, baseUrl: 'http://127.0.0.1:9/v1' } };
    expect(configError({ aliases: ALIASES, providers: onlyMana }).issues.map((i) => i.path)).toEqual([
      'providers.mana',
      'providers',
    ]);
    expect(configError({ aliases: ALIASES, providers: { box: { baseUrl: 'http://x' } } }).issues).toEqual([
      { path: 'providers.box.type', message: expect.stringContaining('set type') },
    ]);
    expect(
      configError({ aliases: ALIASES, providers: { box: { type: 'openai' } } }).issues.map((i) => i.path),
    ).toEqual(['providers.box.baseUrl']);
  });

  it('rejects something that is not an options object', () => {
    expect(configError(undefined).issues.length).toBeGreaterThan(0);
    expect(configError('ollama').issues.length).toBeGreaterThan(0);
  });

  it('accepts well-known ids without type or baseUrl, undefined providers, and a custom adapter', () => {
    const adapter = unusedAdapter(true);
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          ollama: {},
          groq: { apiKey: 'gsk_x' },
          together: undefined,
          mine: { type: 'custom', adapter },
        },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers).sort()).toEqual(['groq', 'mine', 'ollama']);
    expect(llm.resolve('qwen').candidates[0]?.target).toBe('ollama/qwen');
  });

  it('accepts 0 where the contract says >= 0 (cooldownMs, maxRetryAfterMs, autoMinMs, images.maxCount)', () => {
    track(
      createManaLLM({
        aliases: ALIASES,
        providers: { ollama: {} },
        health: { probes: false, cooldownMs: 0 },
        limits: { maxRetryAfterMs: 0 },
        hedging: { autoMinMs: 0, budgetRatio: 0 },
        images: { maxCount: 0 },
      }),
    );
  });

  it("refuses an images.fetch that is neither 'public', 'all', 'none' nor a function (a typo must not loosen it)", () => {
    for (const fetch of ['Public', 'private', 42, true]) {
      const err = configError({ aliases: ALIASES, providers: { ollama: {} }, images: { fetch } });
      expect(err.issues.map((i) => i.path)).toEqual(['images.fetch']);
    }
  });

  it('health.probeTimeoutMs bounds a probe that never answers', async () => {
    const adapter: ProviderAdapter = {
      ...unusedAdapter(true),
      probe: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    };
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { mine: { type: 'custom', adapter } },
        health: { probeTimeoutMs: 500 },
        clock,
      }),
    );
    const outcomes: boolean[] = [];
    llm.on('probe', (e) => outcomes.push(e.ok));
    await clock.advanceAsync(0);
    await clock.advanceAsync(500);
    expect(outcomes).toEqual([false]);
  });

  it('health.recoveryProbeMs is the first wait before re-probing a provider that went down', async () => {
    let probes = 0;
    const adapter: ProviderAdapter = {
      ...unusedAdapter(true),
      probe: () => {
        probes++;
        return Promise.resolve({ ok: false, error: 'down' });
      },
    };
    const clock = createFakeClock();
    track(
      createManaLLM({
        aliases: ALIASES,
        providers: { mine: { type: 'custom', adapter } },
        health: { failureThreshold: 1, recoveryProbeMs: 100, probeIntervalMs: 1_000_000 },
        clock,
      }),
    );
    await clock.advanceAsync(0);
    expect(probes).toBe(1);
    await clock.advanceAsync(200);
    expect(probes).toBe(2);
  });

  it('keeps a false the user set over a true default (probe: false)', async () => {
    const probed: string[] = [];
    const counting = (id: string): ProviderAdapter => ({
      ...unusedAdapter(true),
      probe: () => {
        probed.push(id);
        return Promise.resolve({ ok: true });
      },
    });
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: {
          off: { type: 'custom', adapter: counting('off'), probe: false },
          on: { type: 'custom', adapter: counting('on') },
        },
        clock,
      }),
    );
    const done = new Promise((resolve) => llm.on('probe', resolve));
    clock.advance(0);
    await done;
    expect(probed).toEqual(['on']);
  });
});

describe('a custom adapter', () => {
  it('is any value with a chat() function (a function object too); anything else is refused with its path', () => {
    const adapter = Object.assign(() => undefined, unusedAdapter(false)) as unknown as ProviderAdapter;
    const llm = track(
      createManaLLM({
        aliases: ALIASES,
        providers: { ollama: {}, mine: { type: 'custom', adapter } },
        health: { probes: false },
      }),
    );
    expect(Object.keys(llm.health().providers).sort()).toEqual(['mine', 'ollama']);
    const err = configError({
      aliases: ALIASES,
      providers: { ollama: {}, mine: { type: 'custom', adapter: { chat: 'no' } } },
    });
    expect(err.issues).toContainEqual({
      path: 'providers.mine.adapter',
      message: 'must implement ProviderAdapter',
    });
  });
});

describe('createManaLLM validates the aliases', () => {
  it('throws AliasConfigError listing every problem of an aliases object', () => {
    try {
      createManaLLM({
        aliases: {
          aliases: { 'mana/a': { chain: [] }, bad: { chain: ['x/y'] }, 'mana/b': { chain: ['nomodel'] } },
          default: 'mana/zzz',
        },
        providers: { ollama: {} },
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AliasConfigError);
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as AliasConfigError;
      expect(e.code).toBe('ALIAS_CONFIG');
      expect(e.issues.map((i) => i.path)).toEqual(
        expect.arrayContaining(['aliases["mana/a"].chain', 'aliases["mana/b"].chain[0]', 'default']),
      );
      expect(e.issues.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('an alias dimensions past the safe integers (1e23) is an AliasConfigError at its path', () => {
    const make = (dimensions: number) =>
      createManaLLM({
        aliases: { aliases: { 'mana/e': { chain: ['ollama/e'], dimensions } } },
        providers: { ollama: {} },
        health: { probes: false },
      });
    for (const dimensions of [1e23, 2 ** 53]) {
      try {
        track(make(dimensions));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(AliasConfigError);
        expect((err as AliasConfigError).issues.map((i) => i.path)).toEqual(['aliases["mana/e"].dimensions']);
      }
    }
    track(make(2 ** 53 - 1));
  });

  it('throws AliasConfigError for a bad or missing aliases file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mana-llm-options-'));
    try {
      const file = join(dir, 'aliases.yaml');
      writeFileSync(file, 'aliases:\n  mana/x:\n    chain: "not a list"\n');
      expect(() => createManaLLM({ aliasesPath: file, providers: { ollama: {} } })).toThrow(AliasConfigError);
      expect(() =>
        createManaLLM({ aliasesPath: join(dir, 'missing.yaml'), providers: { ollama: {} } }),
      ).toThrow(AliasConfigError);
      writeFileSync(file, 'aliases: [unclosed');
      expect(() => createManaLLM({ aliasesPath: file, providers: { ollama: {} } })).toThrow(AliasConfigError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a relative aliasesPath that is missing names the file it looked for (read from the working directory)', () => {
    let err: AliasConfigError | undefined;
    try {
      createManaLLM({ aliasesPath: './surely-missing-aliases.yaml', providers: { ollama: {} } });
    } catch (e) {
      err = e as AliasConfigError;
    }
    expect(err).toBeInstanceOf(AliasConfigError);
    expect(err?.issues).toEqual([
      {
        path: '(root)',
        message: `file not found: ./surely-missing-aliases.yaml (looked for ${join(process.cwd(), 'surely-missing-aliases.yaml')}: a relative aliasesPath is read from the working directory)`,
      },
    ]);
  });
});
