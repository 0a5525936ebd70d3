import { warnThrown } from '../warn.js';

/** A set of listeners called in turn; one that throws is reported with a warning and never stops the others. */
export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();

  /** `what` names the listeners in the warning (`'health'` → "a health listener threw"). */
  constructor(readonly what: string) {}

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (value: T) => void): () => void {
    this.#set.add(listener);
    return () => {
      this.#set.delete(listener);
    };
  }

  /** Calls every listener with `value` (a copy of the set: one may remove itself or another). */
  emit(value: T): void {
    if (this.#set.size === 0) return;
    for (const listener of [...this.#set]) {
      try {
        listener(value);
      } catch (err) {
        warnThrown(`a ${this.what} listener`, err);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#set.clear();
  }
}
