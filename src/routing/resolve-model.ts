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
  const ref =
    parseModelString(requested) ??
    (defaultProvider && requested.trim() ? { provider: defaultProvider, model: requested.trim() } : null);
  if (!ref)
    throw new ConfigError(`Model "${requested}" has no provider prefix and no defaultProvider is configured`);
  return {
    requested,
    alias: undefined,
    chain: [{ target: `${ref.provider}/${ref.model}`, provider: ref.provider, model: ref.model }],
  };
}
