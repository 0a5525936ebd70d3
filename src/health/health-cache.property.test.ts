import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ManaLLMEvents } from '../events.js';
import { createFakeClock } from './fake-clock.js';
import { HealthCache } from './health-cache.js';

type Command =
  | { kind: 'admit' }
  | { kind: 'success' }
  | { kind: 'failure' }
  | { kind: 'release' }
  | { kind: 'probe'; ok: boolean }
  | { kind: 'advance'; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.constant<Command>({ kind: 'admit' }),
  fc.constant<Command>({ kind: 'success' }),
  fc.constant<Command>({ kind: 'failure' }),
  fc.constant<Command>({ kind: 'release' }),
  fc.boolean().map((ok): Command => ({ kind: 'probe', ok })),
  fc.integer({ min: 0, max: 3_000 }).map((ms): Command => ({ kind: 'advance', ms })),
);

describe('HealthCache invariants', () => {
  it('hold for any sequence of calls, verdicts and elapsed time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.array(command, { maxLength: 60 }),
        (failureThreshold, cooldownMs, commands) => {
          const clock = createFakeClock(0);
          const cache = new HealthCache(['p'], { failureThreshold, cooldownMs }, clock);
          const flips: ManaLLMEvents['health'][] = [];
          cache.transitions.add((t) => flips.push(t));
          let trialOutstanding = false;
          for (const c of commands) {
            const before = cache.peek('p');
            if (c.kind === 'admit') {
              const verdict = cache.admit('p');
              if (verdict === 'trial') {
                expect(trialOutstanding).toBe(false);
                trialOutstanding = true;
              }
              if (before === 'open') expect(verdict).not.toBe('ready');
              expect(verdict === 'ready').toBe(before === 'closed');
            } else if (c.kind === 'advance') {
              clock.advance(c.ms);
            } else {
              if (c.kind === 'success') cache.recordSuccess('p');
              if (c.kind === 'failure') cache.recordFailure('p', 'boom');
              if (c.kind === 'release') cache.release('p');
              if (c.kind === 'probe') cache.recordProbe('p', { ok: c.ok });
              trialOutstanding = false;
              if (c.kind === 'success' || (c.kind === 'probe' && c.ok))
                expect(cache.peek('p')).toBe('closed');
              if (c.kind === 'release') expect(cache.peek('p')).toBe(before);
            }
            const p = cache.snapshot().providers.p;
            expect(p?.consecutiveFailures).toBeGreaterThanOrEqual(0);
            expect(p?.healthy).toBe(p?.state === 'closed');
            expect(cache.refuses('p')).toBe(
              p?.state === 'open' || (trialOutstanding && p?.state === 'half-open'),
            );
            if (p?.state === 'closed') expect(p.consecutiveFailures).toBeLessThan(failureThreshold);
          }
          // Each event is a real flip: healthy alternates, starting from the initial healthy state.
          flips.forEach((t, i) => {
            expect(t.healthy).toBe(i % 2 === 1);
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});
