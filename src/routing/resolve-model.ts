import type { AliasRegistry } from '../aliases/alias-registry.js';
import { isAlias, parseModelString } from '../aliases/model-string.js';
import type { AliasDefinition, ChainEntry } from '../aliases/schema.js';
import { ConfigError, UnknownAliasError } from '../errors.js';

/** A model string turned into the chain to walk. */
export interface Resolution {
  requested: string;
  alias: AliasDefinition | undefined;
  chain: readonly ChainEntry[];
}

/**
 * `mana/<x>` → that alias's chain; `provider/model` → one entry; bare `m` → `<defaultProvider>/m`;
 * omitted → the `default` alias.
 * @throws UnknownAliasError for an undefined alias, ConfigError when nothing says what to use
 */
export function resolveModel(
  model: string | undefined,
  aliases: AliasRegistry,
  defaultProvider: string | undefined,
): Resolution {
  const requested = model ?? aliases.default;
  if (requested === undefined)
    throw new ConfigError('The request has no model and the aliases file sets no default');
  if (isAlias(requested)) {
    const alias = aliases.get(requested);
    if (!alias) throw new UnknownAliasError(requested);
    return { requested, alias, chain: alias.chain };
  }
  let chain = DIRECT.get(requested);
  if (chain === undefined) {
    const ref = parseModelString(requested);
    if (ref) chain = remember(requested, ref);
    else if (defaultProvider && requested.trim())
      chain = single({ provider: defaultProvider, model: requested.trim() });
    else
      throw new ConfigError(
        `Model "${requested}" has no provider prefix and no defaultProvider is configured`,
      );
  }
  return { requested, alias: undefined, chain };
}

/**
 * `provider/model` strings already resolved: a backend calls with a handful of them, over and over, so each is
 * parsed once. Bounded: past 1000 distinct strings it starts again.
 */
const DIRECT = new Map<string, readonly ChainEntry[]>();

function single(ref: { provider: string; model: string }): readonly ChainEntry[] {
  return Object.freeze([
    Object.freeze({ target: `${ref.provider}/${ref.model}`, provider: ref.provider, model: ref.model }),
  ]);
}

function remember(requested: string, ref: { provider: string; model: string }): readonly ChainEntry[] {
  if (DIRECT.size >= 1000) DIRECT.clear();
  const chain = single(ref);
  DIRECT.set(requested, chain);
  return chain;
}
