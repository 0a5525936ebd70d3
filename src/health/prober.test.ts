import { describe, expect, it, vi } from 'vitest';
import { createFakeClock, type FakeClock } from './fake-clock.js';
import { createProber, type ProbeResult, type ProbeTarget } from './prober.js';

/** No provider ever stays down: the recovery schedule never starts. */
const NO_RECOVERY = { initialMs: 1_000, isDown: () => false };

type Probe = ProbeTarget['probe'];

function setup(probes: Record<string, Probe>, extra: { intervalMs?: number; random?: () => number } = {}) {
  const clock = createFakeClock(0);
  const results: [string, ProbeResult][] = [];
  const prober = createProber({
    targets: Object.entries(probes).map(([provider, probe]) => ({ provider, probe })),
    intervalMs: extra.intervalMs ?? 1_000,
    timeoutMs: 3_000,
    clock,
    onResult: (provider, outcome) => results.push([provider, outcome]),
    random: extra.random ?? (() => 0.5),
    recovery: NO_RECOVERY,
  });
  return { clock, prober, results };
}

/** A probe that answers `answer` after `ms` of fake time, counting calls and keeping the last signal. */
function slowProbe(clock: FakeClock, ms: number, answer: boolean | { ok: boolean; error?: string } = true) {
  const seen = { calls: 0, active: 0, maxActive: 0, signal: undefined as AbortSignal | undefined };
  const probe: Probe = (signal) => {
    seen.calls++;
    seen.active++;
    seen.maxActive = Math.max(seen.maxActive, seen.active);
    seen.signal = signal;
    return new Promise((resolve) =>
      clock.setTimer(ms, () => {
        seen.active--;
        resolve(answer);
      }),
    );
  };
  return { probe, seen };
}

const hang: Probe = () => new Promise(() => {});

describe('createProber', () => {
  it('probes every provider immediately at start', async () => {
    const { clock, prober, results } = setup({ a: async () => true, b: async () => ({ ok: true }) });
    prober.start();
    await clock.advanceAsync(0);
    expect(results).toEqual([
      ['a', { ok: true, durationMs: 0 }],
      ['b', { ok: true, durationMs: 0 }],
    ]);
    prober.stop();
  });

  it.each([
    [900, 0],
    [1_000, 0.5],
    [1_100, 0.99999],
  ])('ticks again after %sms, within ±10%% of the interval, when random() gives %s', async (due, r) => {
    let ticks = 0;
    const { clock, prober } = setup(
      {
        a: async () => {
          ticks++;
          return true;
        },
      },
      { random: () => r },
    );
    prober.start();
    await clock.advanceAsync(due - 1);
    expect(ticks).toBe(1);
    await clock.advanceAsync(1);
    expect(ticks).toBe(2);
    prober.stop();
  });

  it('keeps ticking every interval', async () => {
    const { clock, prober, results } = setup({ a: async () => true });
    prober.start();
    await clock.advanceAsync(3_000);
    expect(results).toHaveLength(4);
    prober.stop();
  });

  it('runs the providers concurrently', async () => {
    const clock = createFakeClock(0);
    const a = slowProbe(clock, 500);
    const b = slowProbe(clock, 500);
    const results: string[] = [];
    const prober = createProber({
      targets: [
        { provider: 'a', probe: a.probe },
        { provider: 'b', probe: b.probe },
      ],
      intervalMs: 10_000,
      timeoutMs: 3_000,
      clock,
      onResult: (p, o) => results.push(`${p}@${o.durationMs}`),
      recovery: NO_RECOVERY,
    });
    prober.start();
    expect(a.seen.active + b.seen.active).toBe(2);
    await clock.advanceAsync(500);
    expect(results).toEqual(['a@500', 'b@500']);
    prober.stop();
  });

  it('gives up on a probe after the timeout, aborts its signal and reports the reason', async () => {
    let signal: AbortSignal | undefined;
    const { clock, prober, results } = setup({
      a: (s) => {
        signal = s;
        return hang(s);
      },
    });
    const done = prober.tick();
    await clock.advanceAsync(2_999);
    expect(results).toEqual([]);
    await clock.advanceAsync(1);
    await done;
    expect(signal?.aborted).toBe(true);
    expect(results).toEqual([['a', { ok: false, error: 'probe-timeout (>3000ms)', durationMs: 3_000 }]]);
  });

  it('isolates providers: a throwing or hanging probe neither spoils nor delays the others', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const { clock, prober, results } = setup({
      bad: async () => {
        throw refused;
      },
      sync: () => {
        throw new Error('sync bug');
      },
      stuck: hang,
      good: async () => true,
    });
    void prober.tick();
    await clock.advanceAsync(0);
    expect(Object.fromEntries(results)).toEqual({
      bad: { ok: false, error: 'probe-error: ECONNREFUSED', durationMs: 0 },
      sync: { ok: false, error: 'probe-error: sync bug', durationMs: 0 },
      good: { ok: true, durationMs: 0 },
    });
  });

  it('turns every kind of answer into an outcome with a reason and no key', async () => {
    const { clock, prober, results } = setup({
      no: async () => false,
      down: async () => ({ ok: false }),
      auth: async () => ({ ok: true, error: 'HTTP 401' }),
      odd: async () => null as unknown as boolean,
      leak: async () => {
        throw new Error('bad url https://x/models?key=AIzaSECRETSECRETSECRETSECRET');
      },
    });
    await Promise.all([prober.tick(), clock.advanceAsync(0)]);
    expect(Object.fromEntries(results.map(([p, o]) => [p, o.error]))).toEqual({
      no: 'probe-failed',
      down: 'probe-failed',
      auth: 'HTTP 401',
      odd: expect.stringMatching(/^probe-error: /),
      leak: 'probe-error: bad url https://x/models?key=[redacted]',
    });
    expect(results.find(([p]) => p === 'auth')?.[1].ok).toBe(true);
  });

  it('cuts a reason and folds its control characters: it goes into health() and logs', async () => {
    const hostile = `\u001b[2J\r\nFAKE LOG LINE ${'word '.repeat(10_000)}`;
    const { clock, prober, results } = setup({
      answer: async () => ({ ok: false, error: hostile }),
      thrown: async () => {
        throw new Error(hostile);
      },
    });
    await Promise.all([prober.tick(), clock.advanceAsync(0)]);
    for (const [, { error }] of results) {
      expect(error).toMatch(/^(probe-error: )?FAKE LOG LINE word word /);
      expect(error).toMatch(/…$/);
      expect(error?.length).toBeLessThanOrEqual('probe-error: '.length + 201);
      expect([...(error ?? '')].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    }
    expect(results).toHaveLength(2);
  });

  it('never starts an overlapping probe for a provider still being probed', async () => {
    const clock = createFakeClock(0);
    const slow = slowProbe(clock, 2_500);
    const results: ProbeResult[] = [];
    const prober = createProber({
      targets: [{ provider: 'a', probe: slow.probe }],
      intervalMs: 1_000,
      timeoutMs: 3_000,
      clock,
      onResult: (_p, o) => results.push(o),
      random: () => 0.5,
      recovery: NO_RECOVERY,
    });
    prober.start();
    await clock.advanceAsync(2_400);
    expect(slow.seen.calls).toBe(1);
    await clock.advanceAsync(600);
    expect(results).toEqual([{ ok: true, durationMs: 2_500 }]);
    expect(slow.seen.calls).toBe(2);
    expect(slow.seen.maxActive).toBe(1);
    prober.stop();
  });

  it('start is idempotent and stop is safe before start and twice', async () => {
    const calls: number[] = [];
    const { clock, prober } = setup({
      a: async () => {
        calls.push(clock.now());
        return true;
      },
    });
    prober.stop();
    prober.start();
    prober.start();
    await clock.advanceAsync(0);
    expect(calls).toEqual([0]);
    expect(clock.pending()).toBe(1);
    prober.stop();
    prober.stop();
    expect(clock.pending()).toBe(0);
    await clock.advanceAsync(5_000);
    expect(calls).toEqual([0]);
  });

  it('stop aborts in-flight probes, cancels their timers and reports nothing for them', async () => {
    const clock = createFakeClock(0);
    const slow = slowProbe(clock, 2_000);
    const results: ProbeResult[] = [];
    const prober = createProber({
      targets: [{ provider: 'a', probe: slow.probe }],
      intervalMs: 1_000,
      timeoutMs: 3_000,
      clock,
      onResult: (_p, o) => results.push(o),
      recovery: NO_RECOVERY,
    });
    prober.start();
    await clock.advanceAsync(500);
    prober.stop();
    expect(slow.seen.signal?.aborted).toBe(true);
    await clock.advanceAsync(10_000);
    expect(results).toEqual([]);
    expect(clock.pending()).toBe(0);
    prober.start();
    await clock.advanceAsync(2_000);
    expect(results).toEqual([{ ok: true, durationMs: 2_000 }]);
    prober.stop();
  });

  it('contains an onResult that throws', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const clock = createFakeClock(0);
    const prober = createProber({
      targets: [{ provider: 'a', probe: async () => true }],
      intervalMs: 1_000,
      timeoutMs: 100,
      clock,
      onResult: () => {
        throw new Error('sink bug');
      },
      recovery: NO_RECOVERY,
    });
    await expect(prober.tick()).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});
