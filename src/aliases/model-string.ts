/** `mana/<name>` is always an alias: a provider of this id could sit in no chain (docs/options.md#providers). */
export const ALIAS_PROVIDER = 'mana';

/** The prefix that marks a model string as a mana-llm alias. */
const ALIAS_PREFIX = `${ALIAS_PROVIDER}/`;

/** Splits `provider/model` at the first `/` (provider trimmed and lower-cased); null when either side is blank. */
export function parseModelString(s: string): { provider: string; model: string } | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const provider = s.slice(0, slash).trim().toLowerCase();
  // The model keeps any further `/` and `:` (openrouter/anthropic/claude-3-haiku, ollama/qwen2.5:7b).
  const model = s.slice(slash + 1).trim();
  if (provider === '' || model === '') return null;
  return { provider, model };
}

/** True when `s` names an alias (`mana/<name>`) rather than a concrete model. */
export function isAlias(s: string): boolean {
  return s.startsWith(ALIAS_PREFIX);
}
