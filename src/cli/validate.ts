import { resolve } from 'node:path';
import { loadAliases } from '../aliases/load-aliases.js';
import { resolveOptions } from '../resolve-options.js';
import { optionsFrom, refuseEmpty } from './cli-options.js';

/**
 * `validate [file]`: the aliases file (the positional, --aliases, the config's aliasesPath, or ./aliases.yaml). With
 * --config, the options are validated too and every chain entry no configured provider serves is a warning.
 */
export function validate(
  positional: string | undefined,
  values: { aliases?: string | undefined; config?: string | undefined },
  env: NodeJS.ProcessEnv,
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
): number {
  const chosen = { ...values, aliases: positional ?? values.aliases };
  refuseEmpty(chosen, ['config', 'aliases']);
  const given = values.config !== undefined ? optionsFrom(chosen, env) : undefined;
  const file = resolve(chosen.aliases ?? given?.aliasesPath ?? 'aliases.yaml');
  // A config may hold its aliases inline instead of naming a file.
  const inline = given && given.aliasesPath === undefined ? given.aliases : undefined;
  const source =
    inline === undefined
      ? { path: file }
      : typeof inline === 'string'
        ? { text: inline }
        : { object: inline };
  const config = loadAliases(source);
  const where = inline === undefined ? file : `${resolve(values.config ?? '')} (inline aliases)`;
  let warnings = 0;
  if (given) {
    // The options as createManaLLM reads them (unknown keys, keyless clouds, aliases given twice); it reads no aliases.
    const resolved = resolveOptions(given.aliases === undefined ? { ...given, aliasesPath: file } : given);
    const served = new Set(resolved.providers.map((p) => p.id));
    for (const alias of config.aliases.values()) {
      alias.chain.forEach((entry, i) => {
        if (served.has(entry.provider)) return;
        const why = resolved.keyless.includes(entry.provider)
          ? `"${entry.provider}" has no API key, so it is not configured`
          : `no provider "${entry.provider}" is configured`;
        err.write(
          `warning: aliases[${JSON.stringify(alias.name)}].chain[${i}] ${entry.target}: ${why}; it is always skipped\n`,
        );
        warnings++;
      });
    }
  }
  const note = warnings > 0 ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : '';
  out.write(
    `${where}: ok — ${config.aliases.size} aliases${config.default ? `, default ${config.default}` : ''}${note}\n`,
  );
  return 0;
}
