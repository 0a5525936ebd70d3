import { getEventListeners } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AliasConfigError, createManaLLM, type ManaLLM, UnknownAliasError } from '../src/index.js';
import { createFakeClock, type MockUpstream } from '../src/testing/index.js';
import {
  closeAll,
  type EventLog,
  harness,
  recordEvents,
  refusedUrl,
  rejection,
  track,
  USER,
  upstream,
  waitFor,
} from './helpers/client.js';
import { hangingUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

describe('resolve()', () => {
  it('explains an alias, a direct model, a bare model and the default without calling anything', async () => {
    const { llm, up } = await harness({
      upstreams: { ollama: 'ollama', b: 'openai' },
      options: {
        aliases: { aliases: { 'mana/x': { chain: ['ollama/qwen', 'ghost/m', 'b/m2'] } }, default: 'mana/x' },
      },
    });
    // Nothing measured yet: every kind's latency is null.
    const latency = { chat: null, stream: null, embed: null };
    expect(llm.resolve('mana/x')).toEqual({
      requested: 'mana/x',
      alias: 'mana/x',
      candidates: [
        { target: 'ollama/qwen', provider: 'ollama', model: 'qwen', state: 'ready', latency },
        { target: 'ghost/m', provider: 'ghost', model: 'm', state: 'unconfigured', latency },
        { target: 'b/m2', provider: 'b', model: 'm2', state: 'ready', latency },
      ],
    });
    expect(llm.resolve()).toMatchObject({ requested: 'mana/x', alias: 'mana/x' });
    expect(llm.resolve('b/org/model:7b')).toEqual({
      requested: 'b/org/model:7b',
      candidates: [
        { target: 'b/org/model:7b', provider: 'b', model: 'org/model:7b', state: 'ready', latency },
      ],
    });
    expect(llm.resolve('llama3.1:8b').candidates).toEqual([
      { target: 'ollama/llama3.1:8b', provider: 'ollama', model: 'llama3.1:8b', state: 'ready', latency },
    ]);
    expect(() => llm.resolve('mana/nope')).toThrow(UnknownAliasError);
    // Only a leading mana/ names an alias: a provider's model id may hold one further in.
    expect(llm.resolve('b/mana/x').candidates).toMatchObject([{ provider: 'b', model: 'mana/x' }]);
    // Alias names are case-sensitive, the prefix too: MANA/x is model x of a provider "mana" (docs/concepts.md).
    expect(() => llm.resolve('mana/X')).toThrow(UnknownAliasError);
    expect(llm.resolve('MANA/x')).toMatchObject({
      candidates: [{ target: 'mana/x', provider: 'mana', model: 'x', state: 'unconfigured' }],
    });
    expect(llm.resolve('MANA/x').alias).toBeUndefined();
    expect(up.ollama?.count()).toBe(0);
    expect(up.b?.count()).toBe(0);
  });

  it('routes calls the same way: default alias, bare model to the default provider, unknown alias → 404', async () => {
    const { llm, up } = await harness({
      upstreams: { ollama: 'ollama' },
      options: { aliases: { aliases: { 'mana/x': { chain: ['ollama/qwen'] } }, default: 'mana/x' } },
    });
    expect((await llm.chat({ messages: USER })).routing).toMatchObject({
      requested: 'mana/x',
      resolved: 'ollama/qwen',
    });
    const bare = await llm.chat({ model: 'llama3', messages: USER });
    expect(bare.model).toBe('ollama/llama3');
    expect(bare.routing).toEqual({
      requested: 'llama3',
      resolved: 'ollama/llama3',
      attempts: [{ target: 'ollama/llama3', reason: 'ok', durationMs: 0 }],
    });
    const err = await rejection(llm.chat({ model: 'mana/nope', messages: USER }));
    expect(err).toBeInstanceOf(UnknownAliasError);
    expect(err).toMatchObject({ httpStatus: 404, code: 'UNKNOWN_ALIAS' });
    expect(up.ollama?.count('chat')).toBe(2);
  });
  it('an alias name with a typo is answered with the one defined alias it is close to', async () => {
    const { llm, up } = await harness({
      upstreams: { ollama: 'ollama' },
      options: {
        aliases: {
          aliases: {
            'mana/fast-text': { chain: ['ollama/a'] },
            'mana/long-form': { chain: ['ollama/b'] },
          },
        },
      },
    });
    for (const typo of ['mana/fast-txt', 'mana/Fast-Text', 'mana/fsat-text']) {
      const err = (await rejection(llm.chat({ model: typo, messages: USER }))) as UnknownAliasError;
      expect(err).toBeInstanceOf(UnknownAliasError);
      expect(err.alias).toBe(typo);
      expect(err.message).toBe(`Unknown model alias "${typo}": did you mean "mana/fast-text"?`);
    }
    expect(() => llm.resolve('mana/long-from')).toThrow('did you mean "mana/long-form"?');
    // Nothing close: the message stays as it was, listing no aliases.
    const far = await rejection(llm.chat({ model: 'mana/nope', messages: USER }));
    expect((far as Error).message).toBe('Unknown model alias "mana/nope"');
    expect(up.ollama?.count('chat')).toBe(0);
  });
});

describe('models()', () => {
  it('lists every configured provider’s models and names the ones that failed', async () => {
    const { llm, up } = await harness({
      upstreams: { a: 'openai', o: 'ollama', g: 'google', c: 'anthropic' },
      providers: { down: { type: 'openai', baseUrl: await refusedUrl() } },
    });
    up.a?.enqueue({ models: ['gpt-x', 'gpt-y'] });
    up.o?.enqueue({ models: ['qwen2.5:7b'] });
    up.g?.enqueue({ models: ['gemini-2.0-flash'] });
    up.c?.enqueue({ models: ['claude-sonnet-4-5'] });
    const list = await llm.models();
    expect(list.object).toBe('list');
    expect(list.data.map((m) => m.id).sort()).toEqual([
      'a/gpt-x',
      'a/gpt-y',
      'c/claude-sonnet-4-5',
      'g/gemini-2.0-flash',
      'o/qwen2.5:7b',
    ]);
    expect(list.data[0]).toEqual({ id: expect.any(String), object: 'model', owned_by: expect.any(String) });
    expect(list.data.find((m) => m.id === 'o/qwen2.5:7b')?.owned_by).toBe('o');
    expect(list.errors).toEqual([{ provider: 'down', error: expect.stringContaining('ECONNREFUSED') }]);
  });

  it('leaves no deadline timer and no listener on the caller’s signal once it has answered', async () => {
    const { llm, clock } = await harness({ upstreams: { a: 'openai' } });
    const signal = new AbortController().signal;
    const before = clock.pending();
    expect((await llm.models({ signal })).data.map((m) => m.id)).toEqual(['a/mock-model']);
    expect(clock.pending()).toBe(before);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

describe('models() while an upstream hangs', () => {
  async function setup() {
    const hang = await hangingUpstream();
    const h = await harness({
      upstreams: { a: 'openai' },
      providers: { slow: { type: 'openai', baseUrl: hang.url } },
      options: { timeouts: { totalMs: 5000 } },
    });
    return { ...h, hang };
  }

  it('gives up on it after timeouts.totalMs (fake clock) and lists the rest', async () => {
    const { llm, clock, hang } = await setup();
    const list = llm.models();
    await waitFor(() => hang.received === 1, 'models request at slow');
    await clock.advanceAsync(5000);
    const out = await list;
    expect(out.data.map((m) => m.id)).toEqual(['a/mock-model']);
    expect(out.errors).toEqual([{ provider: 'slow', error: expect.stringContaining('5000ms') }]);
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('rejects with the caller’s abort reason', async () => {
    const { llm, hang } = await setup();
    const ac = new AbortController();
    const list = rejection(llm.models({ signal: ac.signal }));
    await waitFor(() => hang.received === 1, 'models request at slow');
    const reason = new Error('no longer needed');
    ac.abort(reason);
    expect(await list).toBe(reason);
  });

  it('settles with CLOSED when the client closes', async () => {
    const { llm, hang } = await setup();
    const list = rejection(llm.models());
    await waitFor(() => hang.received === 1, 'models request at slow');
    await llm.close();
    const err = await list;
    expect(err).toMatchObject({ code: 'CLOSED' });
  });
});

describe('aliases()', () => {
  it('lists the aliases sorted by name with their default', async () => {
    const { llm } = await harness({
      upstreams: {},
      providers: { ollama: { baseUrl: 'http://127.0.0.1:1' } },
      options: {
        aliases: `
aliases:
  mana/zeta:
    chain: [ollama/z]
  mana/alpha:
    description: First
    chain: [ollama/a, groq/b]
default: mana/zeta
`,
      },
    });
    expect(llm.aliases()).toEqual({
      default: 'mana/zeta',
      aliases: [
        { name: 'mana/alpha', description: 'First', chain: ['ollama/a', 'groq/b'] },
        { name: 'mana/zeta', chain: ['ollama/z'] },
      ],
    });
  });
});

describe('reloading the aliases file', () => {
  let dir: string;
  let file: string;
  let a: MockUpstream;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mana-llm-aliases-'));
    file = join(dir, 'aliases.yaml');
    a = await upstream('openai');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const yaml = (model: string) => `aliases:\n  mana/x:\n    chain: [a/${model}]\ndefault: mana/x\n`;

  function client(extra: { watch?: boolean; reloadOnSignal?: 'SIGHUP' } = {}): {
    llm: ManaLLM;
    clock: ReturnType<typeof createFakeClock>;
    events: EventLog;
  } {
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliasesPath: file,
        providers: { a: { type: 'openai', baseUrl: a.url } },
        clock,
        health: { probes: false },
        ...extra,
      }),
    );
    return { llm, clock, events: recordEvents(llm) };
  }

  it('probes follow the configured providers, not the aliases: a reload neither stops nor starts any', async () => {
    const b = await upstream('openai');
    writeFileSync(file, 'aliases:\n  mana/x:\n    chain: [a/m, b/m]\n');
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliasesPath: file,
        providers: { a: { type: 'openai', baseUrl: a.url }, b: { type: 'openai', baseUrl: b.url } },
        clock,
        health: { probeIntervalMs: 1_000 },
      }),
    );
    const events = recordEvents(llm);
    await clock.advanceAsync(0);
    await waitFor(() => events.count('probe') === 2, 'the first probes');
    // b is in no alias any more; ghost is in one but configured nowhere.
    writeFileSync(file, 'aliases:\n  mana/x:\n    chain: [a/m, ghost/m]\n');
    await llm.reload();
    await clock.advanceAsync(1_100);
    await waitFor(() => events.count('probe') === 4, 'the next probes');
    expect(
      events
        .of('probe')
        .map((e) => e.provider)
        .sort(),
    ).toEqual(['a', 'a', 'b', 'b']);
    expect([a.count('models'), b.count('models')]).toEqual([2, 2]);
    expect(Object.keys(llm.health().providers)).toEqual(['a', 'b']);
  });

  it('reload() swaps in a valid file; a broken one rejects and the last good aliases keep serving', async () => {
    writeFileSync(file, yaml('one'));
    const { llm, events } = client();
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);

    writeFileSync(file, yaml('two'));
    await llm.reload();
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/two']);
    expect(events.of('reload')).toEqual([{ ok: true, aliases: 1 }]);

    writeFileSync(file, 'aliases:\n  mana/x:\n    chain: []\n  not-an-alias: {}\ndefault: mana/missing\n');
    const err = await rejection(llm.reload());
    expect(err).toBeInstanceOf(AliasConfigError);
    expect((err as AliasConfigError).issues.length).toBeGreaterThanOrEqual(3);
    expect(events.of('reload')[1]).toEqual({ ok: false, error: err });
    expect(llm.aliases()).toEqual({ default: 'mana/x', aliases: [{ name: 'mana/x', chain: ['a/two'] }] });
    expect((await llm.chat({ messages: USER })).model).toBe('a/two');

    rmSync(file);
    expect(await rejection(llm.reload())).toBeInstanceOf(AliasConfigError);
    expect((await llm.chat({ model: 'mana/x', messages: USER })).model).toBe('a/two');
  });

  it('reload() of a path that is now a directory says "not a file", and the last good aliases keep serving', async () => {
    writeFileSync(file, yaml('one'));
    const { llm } = client();
    rmSync(file);
    mkdirSync(file);
    const err = await rejection(llm.reload());
    expect(err).toBeInstanceOf(AliasConfigError);
    expect((err as AliasConfigError).issues).toEqual([{ path: '(root)', message: `not a file: ${file}` }]);
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);
  });

  it('watch: true picks up a change to the file, and close() stops watching', async () => {
    writeFileSync(file, yaml('one'));
    const { llm, clock, events } = client({ watch: true });
    // Editors often replace the file by rename; the watch survives that.
    writeFileSync(`${file}.tmp`, yaml('two'));
    renameSync(`${file}.tmp`, file);
    await pollWithClock(clock, () => llm.aliases().aliases[0]?.chain[0] === 'a/two', 'reload after rename');
    writeFileSync(file, yaml('three'));
    await pollWithClock(clock, () => llm.aliases().aliases[0]?.chain[0] === 'a/three', 'reload after write');
    expect(events.of('reload').every((e) => e.ok)).toBe(true);

    await llm.close();
    writeFileSync(file, yaml('four'));
    await new Promise((r) => setTimeout(r, 50));
    await clock.advanceAsync(1000);
    expect(llm.aliases().aliases[0]?.chain[0]).toBe('a/three');
  });

  it('watch: true ignores a change to another file in the same directory', async () => {
    writeFileSync(file, yaml('one'));
    const { llm, clock, events } = client({ watch: true });
    writeFileSync(join(dir, 'notes.txt'), 'not the aliases');
    await new Promise((r) => setTimeout(r, 100));
    await clock.advanceAsync(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.of('reload')).toEqual([]);
    // The watch is live: a change to the aliases file itself is reloaded.
    writeFileSync(file, yaml('two'));
    await pollWithClock(clock, () => llm.aliases().aliases[0]?.chain[0] === 'a/two', 'reload after write');
    // The watcher remembers the file it just reloaded: another change next to it is still no reload.
    await waitFor(() => events.of('reload').length === 1, 'reload event');
    writeFileSync(join(dir, 'notes.txt'), 'still not the aliases');
    await new Promise((r) => setTimeout(r, 100));
    await clock.advanceAsync(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.of('reload')).toHaveLength(1);
  });

  it('watch: true picks up a Kubernetes ConfigMap update (a new `..data` symlink renamed over the old one)', async () => {
    // The kubelet's layout: aliases.yaml -> ..data/aliases.yaml, ..data -> ..<timestamp>/. An update writes a new
    // timestamped dir and renames a new `..data` link over the old one; no event names aliases.yaml.
    const mount = (stamp: string, model: string) => {
      mkdirSync(join(dir, stamp));
      writeFileSync(join(dir, stamp, 'aliases.yaml'), yaml(model));
      symlinkSync(stamp, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    mount('..2026_12_07_01', 'one');
    symlinkSync('..data/aliases.yaml', file);
    const { llm, clock, events } = client({ watch: true });
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);
    mount('..2026_12_07_02', 'two');
    rmSync(join(dir, '..2026_12_07_01'), { recursive: true });
    await pollWithClock(
      clock,
      () => llm.aliases().aliases[0]?.chain[0] === 'a/two',
      'reload after ConfigMap update',
    );
    expect(events.of('reload').every((e) => e.ok)).toBe(true);
    // A second update is picked up too.
    mount('..2026_12_07_03', 'three');
    await pollWithClock(
      clock,
      () => llm.aliases().aliases[0]?.chain[0] === 'a/three',
      'second ConfigMap update',
    );
  });

  it('watch: true reloads on a change to the file even when its size and mtime look unchanged', async () => {
    // Coarse-mtime filesystems: an in-place write of the same length in the same tick keeps size and mtime.
    writeFileSync(file, yaml('one'));
    utimesSync(file, 1e9, 1e9);
    const { llm, clock } = client({ watch: true });
    writeFileSync(file, yaml('two'));
    utimesSync(file, 1e9, 1e9);
    await pollWithClock(
      clock,
      () => llm.aliases().aliases[0]?.chain[0] === 'a/two',
      'reload after same-size write',
    );
  });

  it('reloadOnSignal: SIGHUP reloads the file, and close() removes the handler', async () => {
    writeFileSync(file, yaml('one'));
    const before = process.listenerCount('SIGHUP');
    const { llm, events } = client({ reloadOnSignal: 'SIGHUP' });
    expect(process.listenerCount('SIGHUP')).toBe(before + 1);
    writeFileSync(file, yaml('two'));
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(() => events.of('reload').length === 1, 'reload event');
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/two']);
    // A broken file on SIGHUP is reported, never thrown.
    writeFileSync(file, 'aliases: [');
    process.emit('SIGHUP', 'SIGHUP');
    await waitFor(() => events.of('reload').length === 2, 'second reload event');
    expect(events.of('reload')[1]?.ok).toBe(false);
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/two']);
    await llm.close();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});

/** Lets real fs events arrive while moving the fake clock past the watcher's debounce. */
async function pollWithClock(
  clock: ReturnType<typeof createFakeClock>,
  cond: () => boolean,
  what: string,
): Promise<void> {
  const until = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
    await clock.advanceAsync(100);
  }
}

describe('did-you-mean on a short alias name', () => {
  it('suggests at one edit, not at two', async () => {
    const { llm } = await harness({ upstreams: { ollama: 'ollama' }, aliases: { 'mana/fox': ['ollama/a'] } });
    expect(() => llm.resolve('mana/fax')).toThrow('Unknown model alias "mana/fax": did you mean "mana/fox"?');
    expect(() => llm.resolve('mana/dog')).toThrow(/^Unknown model alias "mana\/dog"$/);
  });
});

describe('YAML anchors in aliases text', () => {
  const text = (uses: number) => `aliases:\n  mana/x:\n    chain: [&m a/m${', *m'.repeat(uses)}]\n`;
  it('allows 99 alias uses of a scalar and refuses 100 (the bound is 100 expansions)', () => {
    const opts = (uses: number) => ({
      aliases: text(uses),
      providers: { a: { type: 'openai' as const, baseUrl: 'http://127.0.0.1:1' } },
      health: { probes: false },
    });
    expect(track(createManaLLM(opts(99))).aliases().aliases[0]?.chain).toHaveLength(100);
    expect(() => createManaLLM(opts(100))).toThrow(/expand too much \(limit 100 alias uses\)/);
  });

  it('two different list keys are two invalid alias names, not one key repeated', () => {
    const opts = {
      aliases: 'aliases:\n  mana/x: { chain: [a/m1] }\n  ? [p]\n  : 1\n  ? [q]\n  : 2\n',
      providers: { a: { type: 'openai' as const, baseUrl: 'http://127.0.0.1:1' } },
      health: { probes: false },
    };
    expect(() => createManaLLM(opts)).toThrow(/aliases\["\[ q \]"\]: is not a valid alias name/);
    expect(() => createManaLLM(opts)).not.toThrow(/Map keys must be unique/);
  });

  it('an alias with no anchor before it is reported as such, not as an expansion past the limit', () => {
    const opts = {
      aliases: 'aliases:\n  mana/x:\n    chain: [*m, a/m1]\n',
      providers: { a: { type: 'openai' as const, baseUrl: 'http://127.0.0.1:1' } },
      health: { probes: false },
    };
    expect(() => createManaLLM(opts)).toThrow(
      /Unresolved alias \(the anchor must be set before the alias\): m/,
    );
    expect(() => createManaLLM(opts)).not.toThrow(/expand too much/);
  });
});
