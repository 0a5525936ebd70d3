import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { AliasConfigError, type ConfigIssue } from '../errors.js';
import { thrownText } from '../redact.js';
import { type AliasConfig, capped, validateAliasConfig } from './schema.js';

/** Where aliases come from: a YAML file, YAML text, or an already-parsed object. */
export type AliasSource = { path: string } | { text: string } | { object: unknown };

/** Largest aliases file or text accepted (1 MiB); anything bigger is refused before parsing. */
export const MAX_ALIAS_BYTES = 1024 * 1024;

/** Bound on YAML alias expansion, so an alias bomb ("billion laughs") fails fast. */
const MAX_YAML_ALIAS_COUNT = 100;

/** An AliasConfigError with one issue at the root. */
function fail(title: string, message: string, cause?: unknown): AliasConfigError {
  return new AliasConfigError(title, [{ path: '(root)', message }], { cause });
}

function tooLarge(origin: string, bytes: number): AliasConfigError {
  return fail(`Refusing ${origin}`, `is ${bytes} bytes; the limit is ${MAX_ALIAS_BYTES} bytes (1 MiB)`);
}

/** A file that cannot be used: missing, unreadable, not a regular file or too big (an AliasConfigError passes as is). */
function unreadable(path: string, err: unknown): AliasConfigError {
  if (err instanceof AliasConfigError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = isAbsolute(path)
    ? ''
    : ` (looked for ${resolve(path)}: a relative aliasesPath is read from the working directory)`;
  const message =
    code === 'ENOENT'
      ? `file not found: ${path}${where}`
      : `cannot read file ${path} (${code ?? String(err)})`;
  return fail(`Cannot read aliases file "${path}"`, message, err);
}

// Checked before reading: a FIFO or device would block the read, a huge file would be read whole.
function checkFile(path: string, st: { isFile(): boolean; size: number }): void {
  if (!st.isFile()) throw fail(`Cannot read aliases file "${path}"`, `not a file: ${path}`);
  if (st.size > MAX_ALIAS_BYTES) throw tooLarge(`aliases file "${path}"`, st.size);
}

function parseYaml(text: string, origin: string): unknown {
  // Length in UTF-16 units never exceeds the UTF-8 byte count, so the cheap test runs first.
  if (text.length > MAX_ALIAS_BYTES || Buffer.byteLength(text, 'utf8') > MAX_ALIAS_BYTES) {
    throw tooLarge(origin, Buffer.byteLength(text, 'utf8'));
  }
  // The parser's own `uniqueKeys` check and `prettyErrors` are quadratic (every key compared with every other; each
  // error quoting its line): within 1 MiB, 60,000 keys took 25 s and a line of garbage far longer. Both are done here.
  const lines = new LineCounter();
  // `logLevel: 'silent'`: yaml's warnings went to the host's stderr as process warnings (a key that is a list,
  // `? [p]`, which is stringified to "[ p ]" and then refused as an alias name).
  const doc = parseDocument(text, {
    uniqueKeys: false,
    prettyErrors: false,
    lineCounter: lines,
    logLevel: 'silent',
  });
  const issues: ConfigIssue[] = [];
  const syntax = (offset: number, what: string) => {
    const { line, col } = lines.linePos(offset);
    issues.push({ path: '(root)', message: `YAML syntax error at line ${line}, column ${col}: ${what}` });
  };
  // The parser's stack ran out (thousands of nested `[`): said once, in words, not as "Maximum call stack size exceeded".
  const deep = doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION');
  if (deep) syntax(deep.pos[0], 'lists or mappings are nested too deeply');
  else for (const e of doc.errors) syntax(e.pos[0], e.message);
  visit(doc, {
    Map(_, map) {
      const keys = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (keys.has(key.value)) syntax(key.range?.[0] ?? 0, 'Map keys must be unique');
        keys.add(key.value);
      }
    },
  });
  if (issues.length > 0)
    throw new AliasConfigError(`Invalid YAML in ${origin}`, capped(issues), { cause: doc.errors[0] });
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    // yaml's own words for the bound; anything else (`*m` with no `&m` before it) is the document's mistake, said as is.
    if (!thrownText(err).startsWith('Excessive alias count'))
      throw fail(`Invalid YAML in ${origin}`, thrownText(err), err);
    const message = `YAML anchors/aliases expand too much (limit ${MAX_YAML_ALIAS_COUNT} alias uses)`;
    throw fail(`Refusing ${origin}`, message, err);
  }
}

// Anything unexpected (a throwing getter in a caller's object, a stack overflow on absurd nesting)
// still surfaces as an AliasConfigError, never as a stray TypeError.
function validate(produce: () => unknown, origin: string): AliasConfig {
  try {
    return validateAliasConfig(produce(), origin);
  } catch (err) {
    if (err instanceof AliasConfigError) throw err;
    const message = `could not be validated: ${thrownText(err)}`;
    throw fail(`Invalid ${origin}`, message, err);
  }
}

/** Validates aliases given as text, or as the text of the file at `path`. */
function fromText(text: string, path?: string): AliasConfig {
  const origin = path === undefined ? 'aliases text' : `aliases file "${path}"`;
  return validate(() => parseYaml(text, origin), origin);
}

/**
 * Reads and validates aliases synchronously from a file, YAML text or an object.
 * @throws AliasConfigError for a missing, unreadable, oversized or invalid source, listing every issue.
 */
export function loadAliases(source: AliasSource): AliasConfig {
  if ('object' in source) return validate(() => source.object, 'aliases object');
  if ('text' in source) return fromText(source.text);
  const { path } = source;
  try {
    checkFile(path, statSync(path));
    return fromText(readFileSync(path, 'utf8'), path);
  } catch (err) {
    throw unreadable(path, err);
  }
}

/**
 * Like `loadAliases`, but reads a file with `fs/promises` so a reload never blocks the event loop.
 * @throws AliasConfigError for a missing, unreadable, oversized or invalid source, listing every issue.
 */
export async function loadAliasesAsync(source: AliasSource): Promise<AliasConfig> {
  if (!('path' in source)) return loadAliases(source);
  const { path } = source;
  try {
    checkFile(path, await stat(path));
    return fromText(await readFile(path, 'utf8'), path);
  } catch (err) {
    throw unreadable(path, err);
  }
}
