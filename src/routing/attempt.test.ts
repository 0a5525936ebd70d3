import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeClock } from '../health/fake-clock.js';
import { HealthCache } from '../health/health-cache.js';
import { AttemptSignal } from './attempt.js';
import type { ProviderSlot, RouterContext } from './context.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function setup() {
  const clock = createFakeClock();
  const health = new HealthCache(['a', 'b'], { failureThreshold: 1, cooldownMs: 60_000 }, clock);
  const live = new Set<AttemptSignal>();
  health.opened.add((p) => AttemptSignal.releaseWaiting(live, p));
  const ctx = { health, clock, live } as unknown as RouterContext;
  const slots = new Map<string, ProviderSlot>();
  const slot = (id: string) =>
    slots.get(id) ??
    slots.set(id, { config: { id }, inFlight: 0, unanswered: 0 } as unknown as ProviderSlot).get(id)!;
  // Late at once: a breaker that opens releases them without waiting.
  const attempt = (provider?: string) =>
    new AttemptSignal(ctx, undefined, provider === undefined ? undefined : slot(provider), clock.now());
  return { health, live, attempt, slot };
}

describe('AttemptSignal: its place in the slot', () => {
  it('counts in flight until end() and unanswered until answered(), each once', () => {
    const { attempt, slot } = setup();
    const [a, b] = [attempt('a'), attempt('a')];
    const counts = () => [slot('a').inFlight, slot('a').unanswered];
    expect(counts()).toEqual([2, 2]);
    a.answered();
    a.answered();
    expect(counts()).toEqual([2, 1]);
    a.end();
    a.end(true);
    expect(a.token.aborted).toBe(false);
    expect(counts()).toEqual([1, 1]);
    b.end(true);
    expect(b.token.aborted).toBe(true);
    expect(counts()).toEqual([0, 0]);
  });
});

describe('AttemptSignal.releaseWaiting: the attempts a breaker that opens releases', () => {
  it('releases the attempts waiting on that provider only, and none that was answered', () => {
    const { health, attempt } = setup();
    const [a1, a2, b, answered, none] = [attempt('a'), attempt('a'), attempt('b'), attempt('a'), attempt()];
    answered.answered();
    health.recordFailure('a', 'HTTP 500');
    expect([a1, a2, b, answered, none].map((x) => x.released)).toEqual([true, true, false, false, false]);
    expect(a1.token.aborted).toBe(true);
    // Told once: the breaker opening again (after half-open) finds them waiting on nothing.
    health.opened.emit('a');
    health.opened.emit('b');
    expect(b.released).toBe(true);
  });

  it('an attempt that ended is out of the set; one that throws while let go does not stop the others', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { health, live, attempt } = setup();
    const ended = attempt('a');
    ended.end();
    const throwing = attempt('a');
    throwing.token.on('abort', () => {
      throw new Error('boom');
    });
    const kept = attempt('a');
    expect(live.size).toBe(2);
    health.recordFailure('a', 'HTTP 500');
    expect(ended.released).toBe(false);
    expect(kept.released).toBe(true);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
