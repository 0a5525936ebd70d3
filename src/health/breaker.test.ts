import { describe, expect, it } from 'vitest';
import {
  admitCall,
  type BreakerRecord,
  breakerFailure,
  breakerRelease,
  breakerState,
  breakerSuccess,
  closedBreaker,
} from './breaker.js';

const T0 = 1_000_000;
const opts = { failureThreshold: 2, cooldownMs: 1_000 };

function failTimes(n: number, o = opts, r: BreakerRecord = closedBreaker, now = T0): BreakerRecord {
  for (let i = 0; i < n; i++) r = breakerFailure(r, `fail ${i}`, now, o);
  return r;
}

describe('breaker state machine', () => {
  it('starts closed and admits calls as ready', () => {
    expect(breakerState(closedBreaker, T0)).toBe('closed');
    expect(admitCall(closedBreaker, T0)).toEqual({ verdict: 'ready', next: closedBreaker });
  });

  it('opens on the first failure with threshold 1', () => {
    const r = failTimes(1, { failureThreshold: 1, cooldownMs: 500 });
    expect(breakerState(r, T0)).toBe('open');
    expect(r.openedUntil).toBe(T0 + 500);
  });

  it('stays closed below threshold 3 and opens on the third consecutive failure', () => {
    const o = { failureThreshold: 3, cooldownMs: 1_000 };
    const two = failTimes(2, o);
    expect(breakerState(two, T0)).toBe('closed');
    expect(two).toMatchObject({ consecutiveFailures: 2, lastError: 'fail 1', lastCheckedAt: T0 });
    expect(breakerState(failTimes(1, o, two), T0)).toBe('open');
  });

  it('forgets earlier failures after a success', () => {
    const r = breakerSuccess(failTimes(1), T0);
    expect(r.consecutiveFailures).toBe(0);
    expect(breakerState(failTimes(1, opts, r), T0)).toBe('closed');
  });

  it('refuses calls while open and turns half-open exactly when the cooldown ends', () => {
    const r = failTimes(2);
    expect(admitCall(r, T0 + 999).verdict).toBe('unhealthy');
    expect(breakerState(r, T0 + 999)).toBe('open');
    expect(breakerState(r, T0 + 1_000)).toBe('half-open');
  });

  it('re-arms the cooldown from now on a failure while open', () => {
    const r = breakerFailure(failTimes(2), 'again', T0 + 600, opts);
    expect(r.openedUntil).toBe(T0 + 1_600);
    expect(r.consecutiveFailures).toBe(3);
    expect(breakerState(r, T0 + 1_200)).toBe('open');
  });

  it('admits exactly one trial while half-open', () => {
    const first = admitCall(failTimes(2), T0 + 1_000);
    expect(first.verdict).toBe('trial');
    expect(first.next.trialInFlight).toBe(true);
    expect(admitCall(first.next, T0 + 1_001).verdict).toBe('unhealthy');
  });

  it('closes and resets when the trial succeeds', () => {
    const trial = admitCall(failTimes(2), T0 + 1_000).next;
    const r = breakerSuccess(trial, T0 + 1_050);
    expect(r).toEqual({
      consecutiveFailures: 0,
      openedUntil: null,
      trialInFlight: false,
      lastError: null,
      lastCheckedAt: T0 + 1_050,
    });
    expect(admitCall(r, T0 + 1_050).verdict).toBe('ready');
  });

  it('re-opens for a full cooldown from now when the trial fails', () => {
    const trial = admitCall(failTimes(2), T0 + 1_000).next;
    const r = breakerFailure(trial, 'HTTP 503', T0 + 1_200, opts);
    expect(r).toMatchObject({ openedUntil: T0 + 2_200, trialInFlight: false, lastError: 'HTTP 503' });
    expect(breakerState(r, T0 + 2_199)).toBe('open');
  });

  it('release ends the trial without a verdict, so the next caller gets the trial', () => {
    const trial = admitCall(failTimes(2), T0 + 1_000).next;
    const released = breakerRelease(trial);
    expect(released).toEqual({ ...trial, trialInFlight: false });
    expect(breakerState(released, T0 + 1_000)).toBe('half-open');
    expect(admitCall(released, T0 + 1_000).verdict).toBe('trial');
    expect(breakerRelease(closedBreaker)).toBe(closedBreaker);
  });

  it('with cooldown 0 is half-open right after opening', () => {
    const r = failTimes(1, { failureThreshold: 1, cooldownMs: 0 });
    expect(breakerState(r, T0)).toBe('half-open');
    expect(admitCall(r, T0).verdict).toBe('trial');
  });

  it('keeps a lastError given with a success and clears it otherwise', () => {
    expect(breakerSuccess(failTimes(2), T0, 'HTTP 401').lastError).toBe('HTTP 401');
    expect(breakerSuccess(failTimes(1), T0).lastError).toBeNull();
  });
});
