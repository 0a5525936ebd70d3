/** A client's attempts in flight, as its health cache reaches them when a provider's breaker opens. */
export interface Waiting {
  /** Lets go of the attempts still waiting on `provider` (each is told once). */
  release(provider: string): void;
  /** How many attempts wait on `provider` (for tests: none may be left behind). */
  count(provider: string): number;
}

/**
 * Where the health cache says that a provider's breaker opened (by calls' failures, a probe or another process
 * through a shared store), so that the calls still waiting on it let go at once. The client's router looks for them
 * among its attempts in flight then: an attempt registers nothing of its own.
 */
export class OpenWatch {
  #waiting: Waiting | undefined;

  /** Sets the attempts to tell (one client's); returns a function that unsets them. */
  watch(waiting: Waiting): () => void {
    this.#waiting = waiting;
    return () => this.clear();
  }

  /** `provider`'s breaker opened: its waiting attempts are told. */
  fire(provider: string): void {
    this.#waiting?.release(provider);
  }

  count(provider: string): number {
    return this.#waiting?.count(provider) ?? 0;
  }

  clear(): void {
    this.#waiting = undefined;
  }
}
