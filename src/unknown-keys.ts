import type * as v from 'valibot';
import { ConfigError, type ConfigIssue } from './errors.js';
import { shown } from './issue-list.js';

/**
 * Unknown keys are reported, never dropped: a typo such as `timeout` for `timeouts` or `dimensons` for
 * `dimensions` would otherwise switch a setting off without a word.
 */

/** Edit distance (insertions, deletions, substitutions and swaps of neighbours; case-insensitive), or `max + 1`. */
function distance(a: string, b: string, max: number): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (Math.abs(x.length - y.length) > max) return max + 1;
  let before: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        d = Math.min(d, (before[j - 2] as number) + 1);
      cur.push(d);
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    before = prev;
    prev = cur;
  }
  return prev[y.length] as number;
}

/** The one known key close to `key` (a case slip or about one typo in three letters), if exactly one is. */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const max = Math.max(1, Math.floor(key.length / 3));
  const ds = known.map((k) => distance(key, k, max));
  const best = Math.min(...ds);
  return best <= max && ds.indexOf(best) === ds.lastIndexOf(best) ? known[ds.indexOf(best)] : undefined;
}

/** The message of an unknown-key issue: a suggestion when one key is close, else the keys allowed there. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const hint = didYouMean(key, known);
  if (hint !== undefined) return `unknown key ${shown(key, KEY_SHOWN)}: did you mean "${hint}"?`;
  const list = known.slice(0, 12).join(', ');
  return `unknown key ${shown(key, KEY_SHOWN)} (known keys: ${list}${known.length > 12 ? ', …' : ''})`;
}

/** How much of a key from outside (an aliases file's, an alias name) a path or message quotes, cleaned. */
const KEY_SHOWN = 100;

/** `providers.groq.baseUrl`, `aliases["mana/x"].chain[1]`: how every issue spells a path, below `root`. */
export function issuePath(keys: readonly unknown[], root = ''): string {
  let out = root;
  for (const k of keys) {
    const key = String(k);
    if (typeof k === 'number') out += `[${k}]`;
    // A name too long to show whole is quoted and cut like any odd key.
    else if (key.length <= KEY_SHOWN && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${shown(key, KEY_SHOWN)}]`;
  }
  return out;
}

/** valibot's issues as ConfigIssues, each path spelled by `issuePath` below `root`. */
export function configIssues(issues: readonly v.BaseIssue<unknown>[], root = ''): ConfigIssue[] {
  return issues.map((i) => ({
    path: issuePath(
      (i.path ?? []).map((p) => p.key),
      root,
    ),
    message: i.message,
  }));
}

/** The shape of a valibot schema this walker reads (structural, so no valibot type leaks into callers). */
interface SchemaNode {
  readonly type: string;
  readonly entries?: Record<string, SchemaNode>;
  readonly wrapped?: SchemaNode;
  readonly value?: SchemaNode;
  readonly pipe?: readonly SchemaNode[];
}

/** The collections valibot reads as an object with no keys: a Map's entries would be dropped without a word. */
const COLLECTIONS = [Map, Set, WeakMap, WeakSet];

/** Why `x`, given where an object is expected, is not one (an array, a collection), else undefined. */
function notAnObject(x: unknown): string | undefined {
  if (Array.isArray(x)) return 'must be an object, not an array';
  const type = COLLECTIONS.find((c) => x instanceof c);
  return type && `must be a plain object, not a ${type.name}`;
}

/**
 * Every key of `input` that no object schema in `schema` declares, each as an issue at its path below `root`, and
 * every array given where an object or map is expected (valibot would read its indexes as keys).
 * Generic over the schema: a key added to any `v.object` is known without touching this file.
 */
export function unknownKeys(
  schema: SchemaNode,
  input: unknown,
  root = '',
  out: ConfigIssue[] = [],
): ConfigIssue[] {
  let s = schema;
  // optional/nullable/nullish wrap the shape that holds keys; in a pipe, the first schema with entries holds them.
  while (s.wrapped) s = s.wrapped;
  // A pipe checks its own shape first (an alias's hedge: isMapping).
  const piped = s.pipe !== undefined;
  s = s.pipe?.find((p) => p.entries) ?? s;
  if (typeof input !== 'object' || input === null) return out;
  const map = s.type === 'object' || s.type === 'record';
  // valibot reads an array or a Map as an object: `providers: [{ id, … }]` made a provider "0" and dropped `id`
  // unseen, `timeouts: new Map([['totalMs', 5]])` kept every default. A class instance is read as an object is.
  const wrong = notAnObject(input);
  if (wrong !== undefined) {
    if (map && !piped) out.push({ path: root, message: wrong });
    return out;
  }
  const fields = input as Record<string, unknown>;
  if (s.entries && s.type === 'object') {
    const known = Object.keys(s.entries);
    for (const key of Object.keys(input)) {
      const entry = Object.hasOwn(s.entries, key) ? s.entries[key] : undefined;
      const path = issuePath([key], root);
      if (entry === undefined) out.push({ path, message: unknownKeyMessage(key, known) });
      else unknownKeys(entry, fields[key], path, out);
    }
  } else if (s.type === 'record' && s.value) {
    for (const key of Object.keys(input)) unknownKeys(s.value, fields[key], issuePath([key], root), out);
  }
  return out;
}

/**
 * Throws a ConfigError titled `title` naming each key of a flat options object outside `known` (with a suggestion):
 * a misspelt key would otherwise leave its setting at the default without a word.
 */
export function refuseUnknownKeys(title: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError(
      title,
      unknown.map((k) => ({ path: issuePath([k]), message: unknownKeyMessage(k, known) })),
    );
  }
}
