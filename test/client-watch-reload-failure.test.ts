// A watched aliases file that disappears or turns invalid: the failed reload is reported, never thrown anywhere.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AliasConfigError, createManaLLM } from '../src/index.js';
import { createFakeClock } from '../src/testing/index.js';
import { closeAll, recordEvents, track, upstream } from './helpers/client.js';

afterEach(closeAll);

const yaml = (model: string) => `aliases:\n  mana/x:\n    chain: [a/${model}]\ndefault: mana/x\n`;

/** Lets real fs events arrive and the watcher's settle timer (on the fake clock) fire, until `cond` holds. */
async function pollWithClock(clock: ReturnType<typeof createFakeClock>, cond: () => boolean, what: string) {
  const until = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
    await clock.advanceAsync(100);
  }
}

describe('watch: true when a reload fails', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mana-watch-fail-'));
    file = join(dir, 'aliases.yaml');
    writeFileSync(file, yaml('one'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function watched() {
    const a = await upstream('openai');
    const clock = createFakeClock();
    const llm = track(
      createManaLLM({
        aliasesPath: file,
        providers: { a: { type: 'openai', baseUrl: a.url } },
        clock,
        health: { probes: false },
        watch: true,
      }),
    );
    return { llm, clock, events: recordEvents(llm) };
  }

  it('a removed file emits a failed reload, keeps the last aliases, and a file put back is picked up', async () => {
    const { llm, clock, events } = await watched();
    rmSync(file);
    await pollWithClock(clock, () => events.of('reload').length > 0, 'reload after removal');
    expect(events.of('reload')[0]).toEqual({ ok: false, error: expect.any(AliasConfigError) });
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);
    writeFileSync(file, yaml('two'));
    await pollWithClock(clock, () => llm.aliases().aliases[0]?.chain[0] === 'a/two', 'reload after restore');
    expect(events.of('reload').at(-1)).toEqual({ ok: true, aliases: 1 });
  });

  it('an invalid file emits a failed reload and the last good aliases keep serving', async () => {
    const { llm, clock, events } = await watched();
    writeFileSync(file, 'aliases: [not, a, map');
    await pollWithClock(clock, () => events.of('reload').length > 0, 'reload after bad write');
    expect(events.of('reload').every((e) => !e.ok)).toBe(true);
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);
  });
  it('a read error other than a missing file (a symlink loop) is a failed reload with an AliasConfigError naming the code', async () => {
    const { llm, clock, events } = await watched();
    rmSync(file);
    symlinkSync(file, file);
    const loopError = () =>
      events
        .of('reload')
        .map((e) => e.error)
        .find(
          (e): e is AliasConfigError =>
            e instanceof AliasConfigError && (e.cause as { code?: string })?.code === 'ELOOP',
        );
    await pollWithClock(clock, () => loopError() !== undefined, 'reload after loop');
    expect(events.of('reload').at(-1)).toEqual({ ok: false, error: expect.any(AliasConfigError) });
    const error = loopError() as AliasConfigError;
    expect(error.issues).toEqual([{ path: '(root)', message: `cannot read file ${file} (ELOOP)` }]);
    expect(error.cause).toMatchObject({ code: 'ELOOP' });
    expect(llm.aliases().aliases[0]?.chain).toEqual(['a/one']);
    // The same failure from reload() itself: the promise rejects with that error.
    expect(await llm.reload().catch((e: unknown) => e)).toEqual(error);
  });
});
