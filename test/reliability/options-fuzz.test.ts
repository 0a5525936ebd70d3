import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, createManaLLM, type ManaLLMOptions } from '../../src/index.js';
import { createFakeClock, createMockProvider } from '../../src/testing/index.js';

// Alias loading, the SSE / NDJSON readers and the breaker have their own properties beside the code
// (src/aliases/load-aliases.test.ts, src/wire/*.test.ts, src/health/health-cache.property.test.ts).
// What was missing is the options boundary of createManaLLM.

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
const before = PROTOTYPES.map((p) => Object.getOwnPropertyNames(p).sort());

function unpolluted(): void {
  for (const [i, p] of PROTOTYPES.entries()) expect(Object.getOwnPropertyNames(p).sort()).toEqual(before[i]);
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'failureThreshold', 'type', 'baseUrl', 'apiKey', 'authorization', 'evil'])
    expect(probe[k]).toBeUndefined();
}

/**
 * Builds a client from `options`; it must either work (and is closed at once, before its probes' first tick, so
 * nothing goes to the network) or throw a ConfigError — which AliasConfigError extends. "Never take long" is the
 * test's own timeout over all its runs: a per-case wall-clock bound flakes on a loaded machine.
 */
function onlyConfigError(options: unknown): 'ok' | 'config-error' {
  let outcome: 'ok' | 'config-error';
  try {
    const llm = createManaLLM(options as ManaLLMOptions);
    // Reading every view must not throw either.
    JSON.stringify([llm.health(), llm.aliases()]);
    void llm.close();
    outcome = 'ok';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
    outcome = 'config-error';
  }
  unpolluted();
  return outcome;
}

const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
);
const anyKey = fc.oneof(hostileKey, fc.string({ maxLength: 8 }));

/** A dictionary whose keys are own properties even when they are `__proto__` (as JSON.parse creates them). */
function dict<V>(
  key: fc.Arbitrary<string>,
  value: fc.Arbitrary<V>,
  maxKeys = 4,
): fc.Arbitrary<Record<string, V>> {
  return fc.array(fc.tuple(key, value), { maxLength: maxKeys }).map((entries) => {
    const o: Record<string, V> = {};
    for (const [k, v] of entries)
      Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  });
}

/** Any JSON-ish value, with hostile keys as own properties. */
const junk = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.anything({ maxDepth: 2 }),
    dict(anyKey, tie('node')),
    fc.array(tie('node'), { maxLength: 3 }),
  ),
})).node;

/** An object with some of a store's methods (no-ops): only a complete one is a store. */
const partialStore = fc
  .subarray(['getProvider', 'setProvider', 'getTargetCooldown', 'setTargetCooldown', 'listTargetCooldowns'])
  .map((names) =>
    Object.fromEntries(names.map((n) => [n, n === 'listTargetCooldowns' ? () => [] : () => undefined])),
  );

const ALIASES = { aliases: { 'mana/x': { chain: ['local/m', 'openai/gpt-4o-mini'] } } };
/** Absent half the time, as most options are. */
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
/** Usually a right value, sometimes a wrong one: every field goes wrong often, a whole config is right often enough. */
const usually = <T, U>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 7, arbitrary: right }, { weight: 1, arbitrary: wrong });
const rarely = <T>(a: fc.Arbitrary<T>) => usually(fc.constant(undefined), a);
const number = fc.oneof(
  fc.integer({ min: -5, max: 100_000 }),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0, 1),
);
const positive = usually(fc.integer({ min: 1, max: 100_000 }), fc.oneof(number, junk));
const url = usually(
  fc.oneof(fc.constant('http://127.0.0.1:9/v1'), fc.webUrl()),
  fc.oneof(fc.constantFrom('ftp://x', 'not a url', '', 'http://[::1', 'javascript:alert(1)'), junk),
);

/** A provider config whose fields are each right, wrong in type, or junk. */
const provider = fc.record(
  {
    type: maybe(
      usually(
        fc.constantFrom('ollama', 'openai', 'google', 'anthropic'),
        fc.oneof(fc.constantFrom('custom', 'OPENAI'), junk),
      ),
    ),
    baseUrl: maybe(url),
    apiKey: maybe(usually(fc.string(), junk)),
    headers: maybe(usually(dict(anyKey, usually(fc.string(), junk)), junk)),
    timeoutMs: maybe(positive),
    maxConcurrent: maybe(positive),
    probe: maybe(usually(fc.boolean(), junk)),
    adapter: rarely(fc.oneof(fc.constant(createMockProvider()), junk)),
  },
  { requiredKeys: [] },
);

const providerId = usually(
  fc.constantFrom('ollama', 'openai', 'groq', 'google', 'anthropic', 'local', 'vllm'),
  fc.oneof(hostileKey, fc.constantFrom('UPPER', 'a b', ''), fc.string({ maxLength: 6 })),
);

const options = fc.record(
  {
    aliasesPath: rarely(fc.oneof(fc.constantFrom('/nonexistent/aliases.yaml', '', '.', '/'), junk)),
    aliases: usually(fc.constant(ALIASES), fc.oneof(fc.string({ maxLength: 40 }), junk)),
    providers: usually(dict(providerId, usually(provider, junk)), junk),
    health: maybe(
      usually(
        fc.record(
          {
            failureThreshold: maybe(positive),
            cooldownMs: maybe(positive),
            probeIntervalMs: maybe(positive),
            probeTimeoutMs: maybe(positive),
            probes: maybe(usually(fc.boolean(), junk)),
            store: rarely(fc.oneof(partialStore, junk)),
          },
          { requiredKeys: [] },
        ),
        junk,
      ),
    ),
    timeouts: maybe(
      usually(
        fc.record(
          {
            connectMs: maybe(positive),
            totalMs: maybe(positive),
            firstChunkMs: maybe(positive),
            idleMs: maybe(positive),
          },
          { requiredKeys: [] },
        ),
        junk,
      ),
    ),
    fallbackOnAuthError: maybe(usually(fc.boolean(), junk)),
    defaultProvider: rarely(fc.oneof(providerId, junk)),
    reloadOnSignal: rarely(fc.oneof(fc.constantFrom(false, 'SIGHUP', 'SIGTERM', true), junk)),
    watch: rarely(fc.oneof(fc.boolean(), junk)),
    clock: usually(fc.constant(createFakeClock()), junk),
  },
  { requiredKeys: [] },
);

/** Drops `undefined` fields so an absent option is absent, as a user would write it. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

describe('createManaLLM options (property)', () => {
  it('throws nothing but ConfigError for any top-level value', () => {
    fc.assert(
      fc.property(junk, (o) => void onlyConfigError(o)),
      { numRuns: 300 },
    );
  });

  it('throws nothing but ConfigError for structured options with wrong, junk and hostile fields', () => {
    const seen = { ok: 0, 'config-error': 0 };
    fc.assert(
      fc.property(options, (o) => {
        seen[onlyConfigError(compact(o))]++;
      }),
      { numRuns: 1500 },
    );
    // The generator must reach both sides, or it says nothing about one of them.
    expect(seen.ok).toBeGreaterThan(10);
    expect(seen['config-error']).toBeGreaterThan(50);
  });

  it('accepts any valid provider config and normalises it; hostile header keys pollute nothing', () => {
    const good = fc.record({
      id: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/),
      type: fc.constantFrom('ollama', 'openai', 'google', 'anthropic'),
      baseUrl: fc.webUrl({ withQueryParameters: false, withFragments: false }),
      headers: dict(fc.oneof(fc.constantFrom('x-extra', 'authorization'), hostileKey), fc.string(), 3),
      timeoutMs: fc.integer({ min: 1, max: 1e6 }),
    });
    fc.assert(
      fc.property(good, ({ id, headers, ...p }) => {
        const o = { aliases: ALIASES, providers: { [id]: { ...p, headers } }, clock: createFakeClock() };
        expect(onlyConfigError(o)).toBe('ok');
      }),
      { numRuns: 300 },
    );
  });

  it('a health store is accepted only with every method it will be asked for', () => {
    fc.assert(
      fc.property(partialStore, (store) => {
        const o = {
          aliases: ALIASES,
          providers: { local: { type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
          health: { store },
          clock: createFakeClock(),
        };
        expect(onlyConfigError(o)).toBe(Object.keys(store).length === 5 ? 'ok' : 'config-error');
      }),
      { numRuns: 100 },
    );
  });

  it('reports provider ids that are prototype keys instead of dropping them silently', () => {
    for (const id of ['__proto__', 'constructor', 'prototype']) {
      const o = JSON.parse(
        `{"aliases":{"aliases":{"mana/x":{"chain":["a/m"]}}},"providers":{"${id}":{"type":"openai","baseUrl":"http://127.0.0.1:9/v1"}}}`,
      );
      let err: unknown;
      try {
        createManaLLM(o);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues).toContainEqual({
        path: `providers.${id}`,
        message: expect.stringContaining('reserved'),
      });
      // It is no provider: with no other, none is configured.
      expect((err as ConfigError).issues).toContainEqual({
        path: 'providers',
        message: 'configure at least one provider',
      });
      unpolluted();
    }
  });

  it('a `__proto__` key inside nested options is data, never a source of settings', () => {
    const o = JSON.parse(
      '{"aliases":{"aliases":{"mana/x":{"chain":["a/m"]}}},"providers":{"a":{"type":"openai","baseUrl":"http://127.0.0.1:9/v1","__proto__":{"apiKey":"sk-from-proto-1234567"}}},"health":{"__proto__":{"failureThreshold":99}}}',
    );
    // Reported as unknown keys (never read as settings), without echoing their values.
    let err: unknown;
    try {
      void createManaLLM({ ...o, clock: createFakeClock() }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual([
      'providers.a.__proto__',
      'health.__proto__',
    ]);
    expect((err as ConfigError).message).not.toContain('sk-from-proto');
    unpolluted();
  });

  it('a getter that throws while options are read is a ConfigError, not a crash', () => {
    const o = { aliases: ALIASES, providers: {} as Record<string, unknown> };
    Object.defineProperty(o.providers, 'a', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(() => createManaLLM(o as ManaLLMOptions)).toThrow(ConfigError);
  });
});
