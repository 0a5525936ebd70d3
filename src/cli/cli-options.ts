import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import type { ManaLLMOptions, ProviderOptions } from '../options.js';
import { isJsonObject } from '../providers/json-shapes.js';
import { WELL_KNOWN } from '../providers/registry.js';

/** Where the CLI's options come from: a `--config` JSON file, or the environment and an aliases file. */

/** A mistake on the command line: exit code 2 with the message. */
export class UsageError extends Error {}

const SHARED = {
  aliases: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = NonNullable<ParseArgsConfig['options']>;
/** What `parseArgs` reads from a command line with the shared flags and a command's own. */
type CommandLine<O extends Flags> = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof SHARED & O }>
>;

/** The command line with the flags every command takes and a command's own; the parser's error on a bad flag. */
export function parseCommandLine<const O extends Flags>(argv: string[], options: O): CommandLine<O> | Error {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: { ...SHARED, ...options } });
  } catch (e) {
    return e as Error;
  }
}

/**
 * Where the command is in `argv`: its first positional, read past the shared flags (with the values they take), so
 * that `mana-llm --config c.json serve` finds serve as `--config c.json aliases` finds aliases.
 */
export function commandIndex<const O extends Flags>(argv: string[], options: O): number {
  const { tokens } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: { ...SHARED, ...options },
  });
  return tokens.find((t) => t.kind === 'positional')?.index ?? -1;
}

/**
 * Refuses a flag given empty (`--config=$CONFIG` with CONFIG unset), which would otherwise read as not given at all:
 * the environment's providers instead of the config, the default alias instead of the model.
 */
export function refuseEmpty(values: Readonly<Record<string, unknown>>, names: readonly string[]): void {
  for (const name of names) {
    const v = values[name];
    if (typeof v === 'string' && v.trim() === '') throw new UsageError(`--${name} is empty: give a value`);
  }
}

/** Providers from the environment: Ollama always (OLLAMA_URL or localhost), a well-known cloud with `<ID>_API_KEY`. */
function providersFromEnv(env: NodeJS.ProcessEnv): Record<string, ProviderOptions> {
  const providers: Record<string, ProviderOptions> = {
    ollama: env.OLLAMA_URL ? { baseUrl: env.OLLAMA_URL } : {},
  };
  for (const id of Object.keys(WELL_KNOWN)) {
    const key = env[`${id.toUpperCase()}_API_KEY`];
    if (id !== 'ollama' && key) providers[id] = { apiKey: key };
  }
  return providers;
}

/** The options of `--config` (its aliasesPath relative to it), or the environment's providers and `--aliases`. */
export function optionsFrom(
  values: { aliases?: string | undefined; config?: string | undefined },
  env: NodeJS.ProcessEnv,
): ManaLLMOptions {
  refuseEmpty(values, ['config', 'aliases']);
  if (values.config !== undefined) {
    const file = resolve(values.config);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
    }
    let parsed: ManaLLMOptions;
    try {
      parsed = JSON.parse(text) as ManaLLMOptions;
    } catch (err) {
      // V8 quotes the text around a bad token (`Unexpected token 'g', …"apiKey":gsk_…"… is not valid JSON`),
      // which may be an unquoted key: only the token is kept.
      const why = (err as Error).message.replace(/,\s*(?:\.\.\.)?".*$/s, '');
      throw new ConfigError(`config ${file} is not valid JSON: ${why}`);
    }
    if (!isJsonObject(parsed)) throw new ConfigError(`config ${file} must be a JSON object`);
    if (parsed.aliasesPath !== undefined && typeof parsed.aliasesPath !== 'string')
      throw new ConfigError(`config ${file}`, [{ path: 'aliasesPath', message: 'must be a string' }]);
    // The command line wins: --aliases replaces the config's aliases, named by aliasesPath or inline.
    if (values.aliases !== undefined) {
      const { aliases: _, ...rest } = parsed;
      return { ...rest, aliasesPath: values.aliases };
    }
    return parsed.aliasesPath
      ? { ...parsed, aliasesPath: resolve(dirname(file), parsed.aliasesPath) }
      : parsed;
  }
  const aliasesPath = resolve(values.aliases ?? 'aliases.yaml');
  if (!existsSync(aliasesPath))
    throw new UsageError(`no aliases file at ${aliasesPath} (use --aliases <file>)`);
  return { aliasesPath, providers: providersFromEnv(env) };
}
