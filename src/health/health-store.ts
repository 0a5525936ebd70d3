import type { BreakerRecord } from './breaker.js';

/**
 * Where breaker records and target cool-downs live; synchronous so routing decisions stay local,
 * which lets a shared store (Redis) mirror its state in memory and replicate in the background.
 */
export interface HealthStore {
  getProvider(provider: string): BreakerRecord | undefined;
  setProvider(provider: string, record: BreakerRecord): void;
  getTargetCooldown(target: string): number | undefined;
  setTargetCooldown(target: string, untilMs: number): void;
  /** Every stored cool-down, expired or not; the caller filters by its clock. */
  listTargetCooldowns(): { target: string; until: number }[];
}

/** A store that keeps everything in this process, owned by one client. */
export function createMemoryHealthStore(): HealthStore {
  const providers = new Map<string, BreakerRecord>();
  const targets = new Map<string, number>();
  return {
    getProvider: (provider) => providers.get(provider),
    setProvider: (provider, record) => void providers.set(provider, record),
    getTargetCooldown: (target) => targets.get(target),
    setTargetCooldown: (target, untilMs) => void targets.set(target, untilMs),
    listTargetCooldowns: () => [...targets].map(([target, until]) => ({ target, until })),
  };
}
