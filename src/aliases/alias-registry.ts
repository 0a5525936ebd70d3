import { type AliasSource, loadAliases, loadAliasesAsync } from './load-aliases.js';
import type { AliasConfig, AliasDefinition } from './schema.js';

/** One alias as listed by `AliasRegistry.list()`. */
export interface AliasSummary {
  readonly name: string;
  readonly description?: string;
  readonly chain: readonly string[];
}

function summarize(config: AliasConfig): readonly AliasSummary[] {
  const defs = [...config.aliases.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return Object.freeze(
    defs.map((def) =>
      Object.freeze({
        name: def.name,
        ...(def.description !== undefined ? { description: def.description } : {}),
        chain: Object.freeze(def.chain.map((e) => e.target)),
      }),
    ),
  );
}

/** The live, immutable set of aliases from one source, with keep-last-good reloading. */
export class AliasRegistry {
  readonly #source: AliasSource;
  #config: AliasConfig;
  #list: readonly AliasSummary[];
  #reloading: Promise<unknown> = Promise.resolve();

  /**
   * Loads and validates `source` synchronously.
   * @throws AliasConfigError when the source is missing, unreadable or invalid.
   */
  constructor(source: AliasSource) {
    this.#source = source;
    this.#config = loadAliases(source);
    this.#list = summarize(this.#config);
  }

  /** The alias called `name`, or undefined when none is defined. */
  get(name: string): AliasDefinition | undefined {
    return this.#config.aliases.get(name);
  }

  /** The `default` alias name, if the source declares one. */
  get default(): string | undefined {
    return this.#config.default;
  }

  /** Every alias sorted by name, chains as `provider/model` strings (all frozen). */
  list(): readonly AliasSummary[] {
    return this.#list;
  }

  /**
   * Re-reads the same source and swaps aliases and default atomically; reloads run one at a time, in call order.
   * @throws AliasConfigError (as a rejection) when the source is now missing or invalid; the previous config keeps serving.
   */
  reload(): Promise<AliasConfig> {
    const next = this.#reloading.then(async () => {
      const config = await loadAliasesAsync(this.#source);
      this.#list = summarize(config);
      this.#config = config;
      return config;
    });
    this.#reloading = next.catch(() => undefined);
    return next;
  }
}
