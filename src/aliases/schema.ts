import * as v from 'valibot';
import { AliasConfigError, type ConfigIssue } from '../errors.js';
import { kindOf, shown } from '../issue-list.js';
import { isJsonObject, type JsonObject as Mapping } from '../providers/json-shapes.js';
import { configIssues, issuePath, unknownKeyMessage, unknownKeys } from '../unknown-keys.js';
import { ALIAS_PROVIDER, parseModelString } from './model-string.js';

/** One member of an alias chain: the normalised `provider/model` target and its two halves. */
export interface ChainEntry {
  readonly target: string;
  readonly provider: string;
  readonly model: string;
}

/** A validated, frozen aliases configuration. */
export interface AliasConfig {
  readonly default?: string;
  readonly aliases: ReadonlyMap<string, AliasDefinition>;
}

/** More issues than this are summarised in one final issue, so hostile input cannot build a huge message. */
export const MAX_ISSUES = 100;

const ROOT = '(root)';
const NAME_RE = /^mana\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const CHAIN_MSG = 'must be a non-empty list of "provider/model" strings';
const POSITIVE_INT_MSG = 'must be a positive integer (the embedding vector length)';

const entrySchema = v.pipe(
  v.string('must be a "provider/model" string'),
  v.check((s) => s.trim() !== '', 'is blank: expected provider/model'),
  v.check(
    (s) => parseModelString(s) !== null,
    (issue) => `${shown(issue.input, 60)} has no provider prefix: expected provider/model`,
  ),
  // `mana/b` would be read as provider "mana" and always skipped: aliases do not nest.
  v.check(
    (s) => parseModelString(s)?.provider !== ALIAS_PROVIDER,
    (issue) =>
      `${shown(issue.input, 60)} names an alias: a chain lists provider/model entries (aliases do not nest; copy that alias's entries here)`,
  ),
  v.transform((s): ChainEntry => {
    const { provider, model } = parseModelString(s)!;
    return Object.freeze({ target: `${provider}/${model}`, provider, model });
  }),
);
// An alias's hedging: start the next entry beside one that has not answered after `afterMs` (docs/tail-latency.md).
const hedgeSchema = v.pipe(
  v.custom<Mapping>(isMapping, "must be a mapping like { afterMs: 300 } or { afterMs: 'auto' }"),
  v.object(
    {
      afterMs: v.custom<number | 'auto'>(
        (x) => x === 'auto' || (typeof x === 'number' && Number.isFinite(x) && x > 0),
        "must be a number of milliseconds > 0, or 'auto'",
      ),
    },
    "is required: a number of milliseconds > 0, or 'auto'",
  ),
);
/** One alias body; its keys are the only ones allowed (a typo must not silently drop a setting). */
const aliasSchema = v.object(
  {
    chain: v.pipe(v.array(entrySchema, CHAIN_MSG), v.nonEmpty(CHAIN_MSG), v.readonly()),
    description: v.optional(v.string('must be a string')),
    dimensions: v.optional(
      v.pipe(v.number(POSITIVE_INT_MSG), v.safeInteger(POSITIVE_INT_MSG), v.minValue(1, POSITIVE_INT_MSG)),
    ),
    cache: v.optional(v.boolean('must be true or false')),
    hedge: v.optional(hedgeSchema),
  },
  // The body is known to be a mapping here: the only issue of the object itself is a missing chain.
  CHAIN_MSG,
);

/** One validated alias: its ordered chain (first healthy entry wins) and optional settings. */
export type AliasDefinition = Readonly<v.InferOutput<typeof aliasSchema> & { name: string }>;

// yaml reads `!!omap` as a Map, `!!set` as a Set, `!!timestamp` as a Date and `!!binary` as bytes: objects with no own
// keys (or with "0", "1"… as keys), which read as a mapping would be refused as empty or missing everything.
const YAML_KINDS: ReadonlyArray<readonly [new (...a: never[]) => object, string]> = [
  [Map, 'a Map (YAML !!omap)'],
  [Set, 'a Set (YAML !!set)'],
  [Date, 'a Date (YAML !!timestamp)'],
  [Uint8Array, 'binary data (YAML !!binary)'],
];
const yamlKind = (x: unknown) => YAML_KINDS.find(([type]) => x instanceof type)?.[1];

function isMapping(x: unknown): x is Mapping {
  return isJsonObject(x) && yamlKind(x) === undefined;
}

/** What `x` is, for a message: a list, a Map (YAML !!omap), a string… */
const kind = (x: unknown) => yamlKind(x) ?? kindOf(x, 'a list');

// Own properties only: an inherited `chain` or `aliases` (a polluted prototype) must not count.
function own(obj: Mapping, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function validateAlias(name: string, body: unknown, issues: ConfigIssue[]): AliasDefinition | undefined {
  // Always quoted: aliases["mana/x"] (JSON quoting escapes quotes and control characters; cut and cleaned).
  const at = `aliases[${shown(name, 100)}]`;
  const before = issues.length;
  if (!NAME_RE.test(name))
    issues.push({
      path: at,
      message:
        'is not a valid alias name: expected "mana/<name>" (one segment of letters, digits, ".", "_", "-")',
    });
  if (!isMapping(body)) {
    issues.push({
      path: at,
      message: 'must be a mapping with a "chain" list (and optionally "description")',
    });
    return undefined;
  }
  unknownKeys(aliasSchema, body, at, issues);
  // A copy of the own properties: valibot would also read inherited ones.
  const result = v.safeParse(aliasSchema, { ...body }, { abortPipeEarly: true });
  if (!result.success) issues.push(...configIssues(result.issues, at));
  if (issues.length > before || !result.success) return undefined;
  const { hedge, chain, ...rest } = result.output;
  return Object.freeze({
    ...rest,
    name,
    chain: Object.freeze(chain),
    ...(hedge ? { hedge: Object.freeze(hedge) } : {}),
  });
}

/** `issues`, the ones past MAX_ISSUES summarised in one. */
export function capped(issues: ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const more = issues.length - MAX_ISSUES;
  return [...issues.slice(0, MAX_ISSUES), { path: ROOT, message: `and ${more} more issue(s) not shown` }];
}

/**
 * Validates a parsed aliases document against every rule of docs/aliases-yaml.md.
 * @throws AliasConfigError listing every violation, each with its path.
 */
export function validateAliasConfig(input: unknown, origin: string): AliasConfig {
  if (!isMapping(input)) {
    const got = input === null || input === undefined ? 'nothing (empty document)' : kind(input);
    const message = `must be a mapping with an "aliases" key, got ${got}`;
    throw new AliasConfigError(`Invalid ${origin}`, [{ path: ROOT, message }]);
  }
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(input)) {
    if (key !== 'aliases' && key !== 'default')
      issues.push({ path: issuePath([key]), message: unknownKeyMessage(key, ['aliases', 'default']) });
  }
  const aliases = own(input, 'aliases');
  const defs = new Map<string, AliasDefinition>();
  if (!isMapping(aliases)) {
    const message = aliases === undefined ? 'is required' : `must be a mapping, got ${kind(aliases)}`;
    issues.push({ path: 'aliases', message: `${message}: a mapping of "mana/<name>" to { chain: [...] }` });
  } else if (Object.keys(aliases).length === 0) {
    issues.push({ path: 'aliases', message: 'must define at least one alias' });
  } else {
    for (const name of Object.keys(aliases)) {
      const def = validateAlias(name, aliases[name], issues);
      if (def) defs.set(name, def);
    }
  }
  const rawDefault = own(input, 'default');
  const dflt = typeof rawDefault === 'string' ? rawDefault : undefined;
  if (rawDefault !== undefined && dflt === undefined)
    issues.push({ path: 'default', message: 'must be the name of a defined alias (a string)' });
  // With no usable `aliases` mapping, "unknown default" would only repeat that problem.
  if (dflt !== undefined && isMapping(aliases) && !Object.hasOwn(aliases, dflt)) {
    const known = Object.keys(aliases)
      .filter((n) => NAME_RE.test(n))
      .slice(0, 10);
    const hint = known.length > 0 ? ` (defined: ${known.join(', ')})` : '';
    issues.push({
      path: 'default',
      message: `names ${shown(dflt, 60)}, which is not a defined alias${hint}`,
    });
  }
  if (issues.length > 0) throw new AliasConfigError(`Invalid ${origin}`, capped(issues));
  return Object.freeze({
    ...(dflt !== undefined ? { default: dflt } : {}),
    aliases: defs,
  });
}
