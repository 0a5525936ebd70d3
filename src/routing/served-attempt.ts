import type { ChainEntry } from '../aliases/schema.js';
import type { Attempt } from '../errors.js';
import type { AttemptSignal } from './attempt.js';
import type { Served } from './walk-chain.js';

/** The entry that served a call, its attempt still open until `done()` (which ends it once). */
export class ServedAttempt<T> implements Served<T> {
  constructor(
    readonly value: T,
    readonly entry: ChainEntry,
    readonly attempts: Attempt[],
    readonly attempt: AttemptSignal,
  ) {}

  done(cancel = false): void {
    this.attempt.end(cancel);
  }
}
