/**
 * Where the health cache says that a provider's breaker opened (by calls' failures, a probe or another process
 * through a shared store), so that the calls still waiting on it let go at once: the client's router looks for them
 * among its attempts in flight then (an attempt registers nothing of its own).
 */
export class OpenWatch {
  #release: ((provider: string) => void) | undefined;

  /** Sets who lets go of the attempts waiting on a provider (one client's router); returns a function that unsets it. */
  watch(release: (provider: string) => void): () => void {
    this.#release = release;
    return () => this.clear();
  }

  /** `provider`'s breaker opened. */
  fire(provider: string): void {
    this.#release?.(provider);
  }

  clear(): void {
    this.#release = undefined;
  }
}
