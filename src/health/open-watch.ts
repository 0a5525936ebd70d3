import { warnThrown } from '../warn.js';

/** Something waiting on a provider that lets go when the provider's breaker opens: an attempt in flight. */
export interface OpenWatcher {
  breakerOpened(provider: string): void;
}

/**
 * Who waits on each provider, told at once when its breaker opens (by calls' failures, a probe or another process
 * through a shared store). One set per provider, kept while the client lives: providers are configured, so the map
 * is bounded, and a call adds and removes itself without allocating.
 */
export class OpenWatch {
  readonly #byProvider = new Map<string, Set<OpenWatcher>>();

  /** `watcher` is told once if `provider`'s breaker opens before `unwatch`. */
  watch(provider: string, watcher: OpenWatcher): void {
    let set = this.#byProvider.get(provider);
    if (set === undefined) {
      set = new Set();
      this.#byProvider.set(provider, set);
    }
    set.add(watcher);
  }

  unwatch(provider: string, watcher: OpenWatcher): void {
    this.#byProvider.get(provider)?.delete(watcher);
  }

  /** Tells every watcher of `provider` and forgets them (each is told once). */
  fire(provider: string): void {
    const set = this.#byProvider.get(provider);
    if (set === undefined || set.size === 0) return;
    const watchers = [...set];
    set.clear();
    for (const w of watchers) {
      try {
        w.breakerOpened(provider);
      } catch (err) {
        // A watcher's failure must not stop the others, nor the health update that fired it.
        warnThrown('releasing an attempt', err);
      }
    }
  }

  /** How many watchers wait on `provider` (for tests: none may be left behind). */
  count(provider: string): number {
    return this.#byProvider.get(provider)?.size ?? 0;
  }

  clear(): void {
    this.#byProvider.clear();
  }
}
