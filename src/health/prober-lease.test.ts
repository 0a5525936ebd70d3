import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';
import { createProber, type ProbeResult } from './prober.js';

/** No provider ever stays down: the recovery schedule never starts. */
const NO_RECOVERY = { initialMs: 1_000, isDown: () => false };

function setup(acquire: (provider: string) => boolean | Promise<boolean>) {
  const clock = createFakeClock(0);
  const results: [string, ProbeResult][] = [];
  const calls: string[] = [];
  const prober = createProber({
    targets: ['a', 'b'].map((provider) => ({
      provider,
      probe: async () => {
        calls.push(provider);
        return true;
      },
    })),
    intervalMs: 1_000,
    timeoutMs: 300,
    clock,
    onResult: (provider, outcome) => results.push([provider, outcome]),
    random: () => 0.5,
    acquire,
    recovery: NO_RECOVERY,
  });
  return { clock, prober, results, calls };
}

describe('createProber with an acquire gate (coordinated probes)', () => {
  it('probes only the providers whose lease this process holds this round', async () => {
    let holder = true;
    const { clock, prober, calls, results } = setup((p) => p === 'a' && holder);
    prober.start();
    await clock.advanceAsync(0);
    expect(calls).toEqual(['a']);
    expect(results.map(([p]) => p)).toEqual(['a']);
    holder = false;
    await clock.advanceAsync(1_000);
    expect(calls).toEqual(['a']);
    prober.stop();
  });

  it('waits for an asynchronous gate', async () => {
    const { clock, prober, calls } = setup(async (p) => p === 'b');
    prober.start();
    await clock.advanceAsync(0);
    expect(calls).toEqual(['b']);
    prober.stop();
  });

  it('probes anyway when the gate throws or does not answer within the probe timeout', async () => {
    const throwing = setup(() => {
      throw new Error('redis down');
    });
    throwing.prober.start();
    await throwing.clock.advanceAsync(0);
    expect(throwing.calls).toEqual(['a', 'b']);
    throwing.prober.stop();

    const hanging = setup(() => new Promise<boolean>(() => {}));
    hanging.prober.start();
    await hanging.clock.advanceAsync(0);
    expect(hanging.calls).toEqual([]);
    await hanging.clock.advanceAsync(300);
    expect(hanging.calls).toEqual(['a', 'b']);
    hanging.prober.stop();
  });

  it('stop() during a pending gate means no probe and no result', async () => {
    let release: (v: boolean) => void = () => {};
    const { clock, prober, calls, results } = setup(() => new Promise<boolean>((r) => (release = r)));
    prober.start();
    await clock.advanceAsync(0);
    prober.stop();
    release(true);
    await clock.advanceAsync(0);
    expect(calls).toEqual([]);
    expect(results).toEqual([]);
  });
});
