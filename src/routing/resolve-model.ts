import type { AliasRegistry } from '../aliases/alias-registry.js';
import { isAlias, parseModelString } from '../aliases/model-string.js';
import type { ChainEntry } from '../aliases/schema.js';
import { cutModel, InvalidRequestError, UnknownAliasError } from '../errors.js';
import { didYouMean } from '../unknown-keys.js';
import type { CallPlan } from './context.js';

/**
 * `mana/<x>` → that alias's chain; `provider/model` → one entry; bare `m` → `<defaultProvider>/m`;
 * omitted → the `default` alias.
 * @throws UnknownAliasError for an undefined alias, InvalidRequestError when nothing says what to use (the
 * caller's model is incomplete: a 400, not a configuration fault)
 */
export function resolveModel(
  model: string | undefined,
  aliases: AliasRegistry,
  defaultProvider: string | undefined,
  direct: DirectChains,
): Pick<CallPlan, 'requested' | 'alias' | 'chain'> {
  const requested = model ?? aliases.default;
  if (requested === undefined)
    throw new InvalidRequestError('The request names no model', [
      { path: 'model', message: 'is required: the aliases set no default' },
    ]);
  if (isAlias(requested)) {
    const alias = aliases.get(requested);
    if (!alias) throw new UnknownAliasError(requested, closeAlias(requested, aliases));
    return { requested, alias, chain: alias.chain };
  }
  const chain =
    direct.chain(requested) ??
    (defaultProvider && requested.trim()
      ? single({ provider: defaultProvider, model: requested.trim() })
      : undefined);
  if (chain === undefined)
    throw new InvalidRequestError(`Model "${cutModel(requested)}" names no provider`, [
      {
        path: 'model',
        message:
          'has no provider prefix and no defaultProvider is configured: use "provider/model" or "mana/<alias>"',
      },
    ]);
  return { requested, alias: undefined, chain };
}

/** The one defined alias a mistyped `mana/<x>` is close to (compared after `mana/`), if exactly one is. */
function closeAlias(requested: string, aliases: AliasRegistry): string | undefined {
  if (requested.length > 64) return undefined; // no one types that: no edit distance over a hostile string
  const hint = didYouMean(
    requested.slice(5),
    aliases.list().map((a) => a.name.slice(5)),
  );
  return hint === undefined ? undefined : `mana/${hint}`;
}

/** Longest model string kept in a client's cache of direct chains; a longer one is parsed on every call. */
const MAX_KEPT_CHARS = 256;
/** Most distinct model strings kept; past it the cache starts again. */
const MAX_KEPT = 1_000;

function single(ref: { provider: string; model: string }): readonly ChainEntry[] {
  return Object.freeze([
    Object.freeze({ target: `${ref.provider}/${ref.model}`, provider: ref.provider, model: ref.model }),
  ]);
}

/**
 * One client's `provider/model` strings already resolved: a backend calls with a handful of them, over and over,
 * so each is parsed once. Bounded by count and by size (at most 1000 strings of at most 256 characters), and
 * owned by the client, so a caller sending huge or ever-new model strings pins nothing past `close()`.
 */
export class DirectChains {
  readonly #chains = new Map<string, readonly ChainEntry[]>();

  /** The chain of a `provider/model` string (parsed once while it is kept), or undefined when it names no provider. */
  chain(requested: string): readonly ChainEntry[] | undefined {
    const kept = this.#chains.get(requested);
    if (kept) return kept;
    const ref = parseModelString(requested);
    if (!ref) return undefined;
    const chain = single(ref);
    if (requested.length > MAX_KEPT_CHARS) return chain;
    if (this.#chains.size >= MAX_KEPT) this.#chains.clear();
    this.#chains.set(requested, chain);
    return chain;
  }

  clear(): void {
    this.#chains.clear();
  }
}
