#!/usr/bin/env node
import { text as readText } from 'node:stream/consumers';
import { createManaLLM } from '../create-mana-llm.js';
import {
  ConfigError,
  InvalidRequestError,
  isManaLLMError,
  NoHealthyProviderError,
  UnknownAliasError,
} from '../errors.js';
import { thrownText } from '../redact.js';
import { commandIndex, optionsFrom, parseCommandLine, refuseEmpty, UsageError } from './cli-options.js';
import { health } from './health-table.js';
import { serve } from './serve.js';
import { validate } from './validate.js';

const USAGE = `mana-llm — route LLM calls through model-class aliases with fallback

Usage: mana-llm <command> [options]

Commands:
  validate [aliases.yaml]   check an aliases file; prints every issue with its path
  aliases                   list the aliases and their chains
  health                    probe every configured provider once and print a table
  chat [--model m] "text"   stream an answer to stdout (reads stdin when no text)
  embed [--model m] "text"  print an embedding as JSON
  serve [aliases.yaml]      serve the OpenAI-compatible HTTP API (mana-llm serve --help)

Options (all commands):
  --aliases <file>   aliases file (default: ./aliases.yaml)
  --config <file>    JSON config: { "aliasesPath"?, "providers": {...}, ... }
  --help             help for a command

Providers come from the environment unless --config is given: OLLAMA_URL, OPENAI_API_KEY,
GROQ_API_KEY, OPENROUTER_API_KEY, TOGETHER_API_KEY, GOOGLE_API_KEY, ANTHROPIC_API_KEY.
Exit codes: 0 ok, 1 the call failed, 2 bad usage or config.`;

/** Each command's help (`mana-llm <command> --help`); serve has its own (serve.ts). */
const HELP: Record<string, string> = {
  validate:
    'Usage: mana-llm validate [--config file] [aliases.yaml]\n\nValidates an aliases file and prints every issue with its path. Exit 2 when invalid.\nWith --config: the aliases file the config names (unless one is given), the config itself, and a warning for\nevery chain entry no configured provider serves.',
  aliases:
    'Usage: mana-llm aliases [--aliases file] [--config file]\n\nLists the aliases, their chains and the default.',
  health:
    'Usage: mana-llm health [--aliases file] [--config file]\n\nRuns one probe round against every configured provider (but those with probe: false) and prints a table.',
  chat: 'Usage: mana-llm chat [--model mana/fast-text] [--json] ["text"]\n\nStreams the answer to stdout; reads the prompt from stdin when no text is given.\n--json prints the whole response (with routing) as JSON instead of streaming.',
  embed:
    'Usage: mana-llm embed [--model mana/embed] ["text"]\n\nPrints the embedding response as JSON; reads stdin when no text is given.',
};

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give the text as an argument or pipe it on stdin');
  return (await readText(process.stdin)).trim();
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = process.stdout;
  const err = process.stderr;
  const own = { model: { type: 'string', short: 'm' }, json: { type: 'boolean' } } as const;
  // serve has its own options (--host, --port) and runs until a signal: see serve.ts.
  const at = commandIndex(argv, own);
  if (argv[at] === 'serve') return serve(argv.toSpliced(at, 1), env);
  const parsed = parseCommandLine(argv, own);
  if (parsed instanceof Error) {
    err.write(`${parsed.message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (!command || !Object.hasOwn(HELP, command)) {
    if (command && !values.help) err.write(`mana-llm: unknown command ${JSON.stringify(command)}\n\n`);
    (values.help ? out : err).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.help) {
    out.write(`${HELP[command]}\n`);
    return 0;
  }
  try {
    refuseEmpty(values, ['model']);
    if (command === 'validate') {
      // `validate config/*.yaml` would check the first file alone and print ok.
      if (rest.length > 1) throw new UsageError('validate takes one aliases file: run it once per file');
      return validate(rest[0], values, env, out, err);
    }
    // `aliases other.yaml` would show ./aliases.yaml as if it were other.yaml.
    if ((command === 'aliases' || command === 'health') && rest.length > 0)
      throw new UsageError(`${command} takes no argument: name the aliases file with --aliases <file>`);
    const given = optionsFrom(values, env);
    // Only `health` probes: the other commands make one call and leave. The rest of the config's health block stays
    // (one that is not an object is passed on as is, for createManaLLM to refuse).
    const { health: h = {} } = given;
    const llm = createManaLLM({
      ...given,
      health: typeof h === 'object' && h !== null ? { ...h, probes: command === 'health' } : h,
    });
    try {
      if (command === 'aliases') {
        const { default: def, aliases } = llm.aliases();
        for (const a of aliases)
          out.write(`${a.name}${a.name === def ? ' (default)' : ''}\n  ${a.chain.join(' → ')}\n`);
        return 0;
      }
      if (command === 'health') {
        const off = Object.entries(given.providers ?? {}).filter(([, p]) => p?.probe === false);
        return await health(llm, out, new Set(off.map(([id]) => id)));
      }
      const text = rest.join(' ') || (await readStdin());
      if (!text) throw new UsageError('empty prompt');
      const model = values.model ? { model: values.model } : {};
      if (command === 'embed') {
        const res = await llm.embed({ ...model, input: text });
        out.write(`${JSON.stringify(res)}\n`);
        return 0;
      }
      const request = { ...model, messages: [{ role: 'user' as const, content: text }] };
      if (values.json) {
        out.write(`${JSON.stringify(await llm.chat(request), null, 2)}\n`);
        return 0;
      }
      const progress = err.isTTY
        ? spinner(err, `waiting for ${values.model ?? 'the default alias'}`)
        : () => undefined;
      let first = true;
      try {
        for await (const chunk of llm.stream(request)) {
          const piece = chunk.choices[0]?.delta.content;
          if (!piece) continue;
          if (first) {
            progress();
            err.write(`[${chunk.model}]\n`);
            first = false;
          }
          out.write(piece);
        }
      } finally {
        progress();
      }
      out.write('\n');
      return 0;
    } finally {
      await llm.close();
    }
  } catch (e) {
    // An alias no aliases file defines (`-m mana/fast-txt`) is the caller's mistake, refused before any call.
    const mistake = e instanceof UnknownAliasError || e instanceof InvalidRequestError;
    if (e instanceof UsageError || e instanceof ConfigError || mistake) {
      err.write(`mana-llm: ${e.message}\n`);
      return 2;
    }
    err.write(`mana-llm: ${isManaLLMError(e) ? e.message : thrownText(e, 500)}\n`);
    if (e instanceof NoHealthyProviderError) {
      for (const a of e.attempts)
        err.write(`  ${a.target}: ${a.reason}${a.error ? ` — ${a.error.message}` : ''}\n`);
    }
    return 1;
  }
}

function spinner(stream: NodeJS.WriteStream, label: string): () => void {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const t = setInterval(() => stream.write(`\r${frames[i++ % frames.length]} ${label}…`), 80);
  t.unref();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(t);
    stream.write('\r\x1b[K');
  };
}

const isMain =
  process.argv[1] !== undefined && /(?:^|[\\/])(?:mana-llm|main\.(?:c?js|ts))$/.test(process.argv[1]);
if (isMain) {
  // The reader went away (`mana-llm chat … | head`): stop quietly, as other command-line tools do. Not `serve`: a
  // server whose log pipe broke fails (exit 1), so that a supervisor restarts it.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' || process.argv[2] === 'serve') throw e;
    process.exit(0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`mana-llm: ${thrownText(e, 500)}\n`);
      process.exitCode = 1;
    },
  );
}
