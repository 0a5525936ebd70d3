import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';
import { createProber } from './prober.js';

/**
 * One provider `a` behind a switch: `up` says whether its probe answers, and (as the health cache would) the
 * provider counts as down from its first failed probe until a probe succeeds.
 */
function setup(opts: { acquire?: () => boolean; random?: () => number } = {}) {
  const clock = createFakeClock(0);
  const state = { up: false, down: false, probesAt: [] as number[] };
  const prober = createProber({
    targets: [
      {
        provider: 'a',
        probe: async () => {
          state.probesAt.push(clock.now());
          return state.up;
        },
      },
    ],
    intervalMs: 30_000,
    timeoutMs: 3_000,
    clock,
    random: opts.random ?? (() => 0.5),
    onResult: (_p, outcome) => {
      state.down = !outcome.ok;
    },
    recovery: { initialMs: 1_000, isDown: () => state.down },
    ...(opts.acquire ? { acquire: opts.acquire } : {}),
  });
  return { clock, prober, state };
}

describe('createProber recovery schedule', () => {
  it('re-probes a dead provider after 1 s, 2 s, 4 s … up to the interval: 6 probes in its first minute, then 2', async () => {
    const { clock, prober, state } = setup();
    prober.start();
    await clock.advanceAsync(60_000);
    expect(state.probesAt).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000]);
    await clock.advanceAsync(60_000);
    // The periodic ticks at 30 s, 60 s … skip it: the recovery schedule alone probes it, at probeIntervalMs.
    expect(state.probesAt.slice(6)).toEqual([61_000, 91_000]);
    prober.stop();
    expect(clock.pending()).toBe(0);
  });

  it('finds a provider back within the current wait, then returns to the periodic schedule', async () => {
    const { clock, prober, state } = setup();
    prober.start();
    await clock.advanceAsync(5_000);
    state.up = true;
    await clock.advanceAsync(2_000);
    expect(state.probesAt).toEqual([0, 1_000, 3_000, 7_000]);
    expect(state.down).toBe(false);
    await clock.advanceAsync(60_000);
    expect(state.probesAt.slice(4)).toEqual([30_000, 60_000]);
    prober.stop();
  });

  it('recover() starts the schedule for a provider that calls found down, once however often it is asked', async () => {
    const { clock, prober, state } = setup();
    state.up = true;
    prober.start();
    await clock.advanceAsync(0);
    expect(state.probesAt).toEqual([0]);
    await clock.advanceAsync(10_000);
    state.up = false;
    state.down = true;
    prober.recover('a');
    prober.recover('a');
    prober.recover('unknown');
    await clock.advanceAsync(4_000);
    expect(state.probesAt).toEqual([0, 11_000, 13_000]);
    prober.stop();
  });

  it('a provider down again soon after it came back (flapping) goes on from its last wait, not from 1 s', async () => {
    const { clock, prober, state } = setup();
    prober.start();
    await clock.advanceAsync(5_000);
    state.up = true;
    await clock.advanceAsync(2_000); // back at 7 s, after a 4 s wait
    state.probesAt.length = 0;
    await clock.advanceAsync(1_000);
    state.up = false;
    state.down = true;
    prober.recover('a');
    await clock.advanceAsync(8_000);
    expect(state.probesAt).toEqual([16_000]);
    // Healthy for longer than an interval: the next outage starts again from 1 s.
    state.up = true;
    await clock.advanceAsync(0);
    state.probesAt.length = 0;
    await clock.advanceAsync(50_000);
    state.up = false;
    state.down = true;
    prober.recover('a');
    await clock.advanceAsync(1_000);
    expect(state.probesAt).toEqual([32_000, 60_000, 67_000]);
    prober.stop();
  });

  it('a provider down again exactly an interval after it came back starts a fresh outage, from 1 s', async () => {
    const { clock, prober, state } = setup();
    prober.start();
    await clock.advanceAsync(5_000);
    state.up = true;
    await clock.advanceAsync(2_000); // back at 7 s
    await clock.advanceAsync(30_000); // exactly one interval later (37 s)
    state.probesAt.length = 0;
    state.up = false;
    state.down = true;
    prober.recover('a');
    await clock.advanceAsync(1_000);
    expect(state.probesAt).toEqual([38_000]);
    prober.stop();
  });

  it('keeps the jitter of ±10% on every wait', async () => {
    const { clock, prober, state } = setup({ random: () => 0 });
    prober.start();
    await clock.advanceAsync(20_000);
    expect(state.probesAt).toEqual([0, 900, 900 + 1_800, 2_700 + 3_600, 6_300 + 7_200]);
    prober.stop();
  });

  it('without the lease it does not probe, and keeps backing off while it waits for the holder', async () => {
    let holder = false;
    const { clock, prober, state } = setup({ acquire: () => holder });
    holder = true;
    prober.start();
    await clock.advanceAsync(0);
    holder = false;
    await clock.advanceAsync(60_000);
    expect(state.probesAt).toEqual([0]);
    holder = true;
    await clock.advanceAsync(30_000);
    expect(state.probesAt).toEqual([0, 61_000]);
    prober.stop();
    expect(clock.pending()).toBe(0);
  });

  it('stop() cancels the recovery timers and a later recover() does nothing', async () => {
    const { clock, prober, state } = setup();
    prober.start();
    await clock.advanceAsync(0);
    prober.stop();
    expect(clock.pending()).toBe(0);
    prober.recover('a');
    await clock.advanceAsync(10_000);
    expect(state.probesAt).toEqual([0]);
  });
});
