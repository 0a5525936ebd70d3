import { describe, expect, it } from 'vitest';
import { type BreakerRecord, incomingWins, mergeBreaker } from './breaker.js';

const closed = (at: number | null, failures = 0): BreakerRecord => ({
  consecutiveFailures: failures,
  openedUntil: null,
  trialInFlight: false,
  lastError: failures > 0 ? 'HTTP 500' : null,
  lastCheckedAt: at,
});
const open = (at: number, until: number, trialInFlight = false): BreakerRecord => ({
  consecutiveFailures: 2,
  openedUntil: until,
  trialInFlight,
  lastError: 'ECONNREFUSED',
  lastCheckedAt: at,
});

describe('mergeBreaker', () => {
  it('takes whatever arrives when nothing is known yet', () => {
    expect(mergeBreaker(undefined, open(100, 1_000))).toEqual(open(100, 1_000));
    expect(mergeBreaker(undefined, closed(100, 1))).toEqual(closed(100, 1));
  });

  it('moves an open-until only later', () => {
    const current = open(100, 5_000);
    expect(mergeBreaker(current, open(200, 9_000)).openedUntil).toBe(9_000);
    expect(mergeBreaker(current, open(300, 4_000))).toBe(current);
    expect(mergeBreaker(current, open(300, 5_000))).toBe(current);
  });

  it('applies a close only when it is newer than the open it closes', () => {
    const current = open(100, 5_000);
    expect(mergeBreaker(current, closed(50))).toBe(current);
    expect(mergeBreaker(current, closed(100))).toBe(current);
    expect(mergeBreaker(current, closed(150))).toEqual(closed(150));
  });

  it('opens a closed breaker unless the open is older than the close', () => {
    const current = closed(200);
    expect(mergeBreaker(current, open(150, 60_150))).toBe(current);
    expect(mergeBreaker(current, open(200, 60_200)).openedUntil).toBe(60_200);
    expect(mergeBreaker(current, open(250, 60_250)).openedUntil).toBe(60_250);
  });

  it('between closed records, the newer count wins', () => {
    const current = closed(100, 1);
    expect(mergeBreaker(current, closed(200, 0))).toEqual(closed(200, 0));
    expect(mergeBreaker(current, closed(50, 0))).toBe(current);
    expect(mergeBreaker(closed(null), closed(10, 1))).toEqual(closed(10, 1));
  });

  it('keeps this process’s own trial in flight through a remote re-open, never through a close', () => {
    const trial = open(100, 1_000, true);
    expect(mergeBreaker(trial, open(2_000, 62_000)).trialInFlight).toBe(true);
    expect(mergeBreaker(trial, closed(2_000)).trialInFlight).toBe(false);
    expect(mergeBreaker(undefined, { ...open(1, 2), trialInFlight: true }).trialInFlight).toBe(false);
  });

  it('is idempotent and order-independent for a stream of opens and a later close', () => {
    const updates = [open(100, 60_100), open(200, 60_200), closed(300), open(150, 60_150)];
    const orders = [updates, [...updates].reverse(), [updates[2]!, updates[0]!, updates[3]!, updates[1]!]];
    for (const order of orders) {
      let r: BreakerRecord | undefined;
      for (const u of [...order, ...order]) r = mergeBreaker(r, u);
      expect(r).toEqual(closed(300));
    }
  });

  it('incomingWins says whether the record would change', () => {
    expect(incomingWins(open(1, 10), open(2, 11))).toBe(true);
    expect(incomingWins(open(1, 10), closed(1))).toBe(false);
  });
});
