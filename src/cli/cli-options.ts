import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import type { ManaLLMOptions, ProviderOptions } from '../options.js';

/** Where the CLI's options come from: a `--config` JSON file, or the environment and an aliases file. */

const ENV_KEYS: Record<string, string> = {
  openai: 'OPENAI_API_KEY',
  groq: 'GROQ_API_KEY',
  openrouter: 'OPENROUTER_API_KEY',
  together: 'TOGETHER_API_KEY',
  google: 'GOOGLE_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
};

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

/** Providers from the environment: Ollama always (OLLAMA_URL or localhost), each cloud provider with a key. */
function providersFromEnv(env: NodeJS.ProcessEnv): Record<string, ProviderOptions> {
  const providers: Record<string, ProviderOptions> = {
    ollama: env.OLLAMA_URL ? { baseUrl: env.OLLAMA_URL } : {},
  };
  for (const [id, name] of Object.entries(ENV_KEYS)) {
    const key = env[name];
    if (key) providers[id] = { apiKey: key };
  }
  return providers;
}

/** The options of `--config` (its aliasesPath relative to it), or the environment's providers and `--aliases`. */
export function optionsFrom(
  values: { aliases?: string | undefined; config?: string | undefined },
  env: NodeJS.ProcessEnv,
): ManaLLMOptions {
  if (values.config) {
    const file = resolve(values.config);
    let parsed: ManaLLMOptions;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as ManaLLMOptions;
    } catch (err) {
      throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
    }
    const aliasesPath =
      values.aliases ?? (parsed.aliasesPath ? resolve(dirname(file), parsed.aliasesPath) : undefined);
    return { ...parsed, ...(aliasesPath ? { aliasesPath } : {}) };
  }
  const aliasesPath = resolve(values.aliases ?? 'aliases.yaml');
  if (!existsSync(aliasesPath))
    throw new UsageError(`no aliases file at ${aliasesPath} (use --aliases <file>)`);
  return { aliasesPath, providers: providersFromEnv(env) };
}
