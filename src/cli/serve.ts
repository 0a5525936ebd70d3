import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_TIMER_MS } from '../clock.js';
import { createManaLLM } from '../create-mana-llm.js';
import { createNodeHandler, type RequestLogEntry } from '../http/index.js';
import { SERVE_DEFAULTS } from '../options.js';
import { textOf } from '../redact.js';
import { optionsFrom, parseCommandLine } from './cli-options.js';

/** Help text of `mana-llm serve`. */
const SERVE_HELP = `Usage: mana-llm serve [--host ${SERVE_DEFAULTS.host}] [--port ${SERVE_DEFAULTS.port}] [--config file] [aliases.yaml]

Serves the OpenAI-compatible API (POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models[/{id}])
plus GET /v1/aliases, /v1/health, /health and /metrics (when prom-client is installed).

Options:
  --host <addr>      interface to listen on (default ${SERVE_DEFAULTS.host})
  --port <n>         port (default ${SERVE_DEFAULTS.port}; 0 picks a free one)
  --config <file>    JSON config: { "aliasesPath"?, "providers": {...}, ... }
  --aliases <file>   aliases file (default: ./aliases.yaml), or give it as the last argument
  --drain-ms <n>     on SIGTERM, how long in-flight requests may finish (default ${SERVE_DEFAULTS.drainMs})

Environment: providers as for the other commands; MANA_LLM_API_KEYS (comma-separated) turns on the key check
(Authorization: Bearer <key> or X-API-Key); MANA_LLM_CORS_ORIGINS (comma-separated, or *) allows browsers.
Signals: SIGHUP reloads the aliases file; SIGTERM or SIGINT stop accepting, drain, and exit 0.
Logs one line per request to stdout: time, request id, method, path, status, duration, resolved model.`;

const list = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function logLine(e: RequestLogEntry): string {
  const { requestId, method, path, status, durationMs, stream, resolved, error } = e;
  const extra = [stream && 'stream', resolved && `resolved=${resolved}`, error && `error=${error}`];
  const time = new Date().toISOString();
  return `${[time, requestId, method, path, status, `${durationMs}ms`, ...extra.filter(Boolean)].join(' ')}\n`;
}

/**
 * `mana-llm serve`: the HTTP handler on node:http until SIGTERM/SIGINT; resolves to the exit code (0 after a drain,
 * 2 for bad usage or config).
 */
export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout: out, stderr: err } = process;
  const parsed = parseCommandLine(argv, {
    host: { type: 'string' },
    port: { type: 'string' },
    'drain-ms': { type: 'string' },
  });
  if (parsed instanceof Error) {
    err.write(`mana-llm serve: ${parsed.message}\n\n${SERVE_HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(`${SERVE_HELP}\n`);
    return 0;
  }
  const host = values.host ?? SERVE_DEFAULTS.host;
  // Not Number(''), which is 0: `--port=$PORT` with PORT unset is a mistake, not a random free port.
  const num = (s: string | undefined, absent: number) =>
    s === undefined ? absent : s.trim() === '' ? Number.NaN : Number(s);
  const port = num(values.port, SERVE_DEFAULTS.port);
  const drainMs = num(values['drain-ms'], SERVE_DEFAULTS.drainMs);
  // A timer waits at most 2^31-1 ms: a longer drain would cut every stream at once.
  if (!(drainMs >= 0 && drainMs <= MAX_TIMER_MS)) {
    err.write(`mana-llm serve: --drain-ms must be a number of milliseconds up to ${MAX_TIMER_MS}\n`);
    return 2;
  }
  // An empty host would make node:http listen on every interface: `--host=$HOST` with HOST unset is a mistake too.
  if (host.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535 || positionals.length > 1) {
    err.write(`mana-llm serve: bad arguments\n\n${SERVE_HELP}\n`);
    return 2;
  }
  let llm: ReturnType<typeof createManaLLM>;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const keys = list(env.MANA_LLM_API_KEYS);
  const origins = list(env.MANA_LLM_CORS_ORIGINS);
  // Set but empty (`MANA_LLM_API_KEYS=$KEYS` with KEYS unset) would serve with no key check.
  if (env.MANA_LLM_API_KEYS !== undefined && keys.length === 0) {
    err.write('mana-llm serve: MANA_LLM_API_KEYS holds no key (unset it to serve without a key check)\n');
    return 2;
  }
  let fromFile = false;
  try {
    const options = optionsFrom({ aliases: positionals[0] ?? values.aliases, config: values.config }, env);
    fromFile = options.aliasesPath !== undefined;
    llm = createManaLLM({ ...options, ...(fromFile ? { reloadOnSignal: 'SIGHUP' as const } : {}) });
    // /metrics when prom-client (an optional peer) is installed; the process serves one client, so prom-client's
    // global registry is its own.
    const metrics = await import('../prometheus/index.js')
      .then((m) => m.registerPrometheusMetrics(llm).registry)
      .catch(() => undefined);
    handler = createNodeHandler(llm, {
      ...(keys.length > 0 ? { apiKeys: keys } : {}),
      ...(origins.length > 0 ? { cors: origins.includes('*') ? '*' : origins } : {}),
      ...(metrics ? { metrics } : {}),
      onRequest: (e) => out.write(logLine(e)),
    });
  } catch (e) {
    err.write(`mana-llm serve: ${textOf(e)}\n`);
    return 2;
  }
  llm.on('reload', (r) =>
    err.write(
      r.ok
        ? `mana-llm serve: aliases reloaded (${r.aliases} aliases)\n`
        : `mana-llm serve: alias reload rejected, keeping the previous aliases: ${r.error?.message}\n`,
    ),
  );

  let inFlight = 0;
  let stopping = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      // Draining: a keep-alive connection must not wait for a next request that will never be served.
      if (stopping && inFlight === 0) server.closeAllConnections();
    });
    if (stopping) res.shouldKeepAlive = false;
    handler(req, res);
  };
  const server = createServer(onRequest);
  // `Expect: 100-continue`: the handler sends the 100 when it reads the body, so a request refused on its head (401,
  // 413, 415, 404) is answered before the client uploads anything.
  server.on('checkContinue', onRequest);
  server.requestTimeout = SERVE_DEFAULTS.requestTimeoutMs;
  try {
    server.listen(port, host);
    // Rejects with the 'error' (EADDRINUSE, EACCES) emitted instead of 'listening'.
    await once(server, 'listening');
  } catch (e) {
    err.write(`mana-llm serve: cannot listen on ${host}:${port}: ${(e as Error).message}\n`);
    await llm.close();
    return 2;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return new Promise<number>((resolve) => {
    // Aliases inline in the config: nothing to reload, but SIGHUP's default action would end the server undrained.
    const noReload = () =>
      err.write('mana-llm serve: SIGHUP: the aliases are inline in the config, nothing to reload\n');
    if (!fromFile) process.on('SIGHUP', noReload);
    // A signal listener receives the signal's name.
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      err.write(
        `mana-llm serve: ${signal}: draining ${inFlight} in-flight request(s), at most ${drainMs}ms\n`,
      );
      // Bounded: after drainMs the remaining connections (long streams) are cut, which cancels their upstreams.
      const cut = setTimeout(() => server.closeAllConnections(), drainMs);
      server.close(() => {
        clearTimeout(cut);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        process.off('SIGHUP', noReload);
        void llm.close().then(() => {
          err.write('mana-llm serve: stopped\n');
          resolve(0);
        });
      });
      // Nothing in flight: every connection goes, as when the last request ends (one that sent nothing yet, or half a
      // request head, is not idle to node:http and would hold the exit for drainMs).
      if (inFlight === 0) server.closeAllConnections();
      else server.closeIdleConnections();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Announced once every signal is handled: a supervisor may signal as soon as it reads this line.
    out.write(
      `mana-llm serve: listening on http://${shownHost}:${address.port} (${llm.aliases().aliases.length} aliases, providers ${Object.keys(llm.health().providers).join(', ')}, key check ${keys.length > 0 ? 'on' : 'off'})\n`,
    );
    if (keys.length === 0) err.write('mana-llm serve: MANA_LLM_API_KEYS is not set: no key check\n');
  });
}
