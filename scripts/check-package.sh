#!/usr/bin/env bash
# Packaging check (CI, after `npm run build`): the tarball `npm pack` makes from a clean tree (prepack builds dist/)
# installs into a fresh project and works there.
#   publint and attw report no problems; ESM import, CommonJS require and a strict TypeScript compile (node16 and
#   bundler resolution) of every entry point work; errors are recognised across the ESM and CommonJS copies; the
#   `mana-llm` bin runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mana-llm-package.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
step() { printf '\n== %s\n' "$*"; }

[ -f dist/index.js ] || { echo "check-package: run npm run build first" >&2; exit 1; }

step "publint"
npx --no-install publint --strict

step "attw --pack"
npx --no-install attw --pack . --format ascii

step "npm pack from a clean tree (no dist/: prepack builds it)"
CLEAN="$TMP/clean"
mkdir -p "$CLEAN"
# Every file git would commit (tracked, and untracked but not ignored): what a fresh clone holds, never dist/.
{ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 cp --parents -t "$CLEAN"
ln -s "$ROOT/node_modules" "$CLEAN/node_modules"
[ ! -e "$CLEAN/dist" ] || { echo "check-package: the clean tree already has dist/" >&2; exit 1; }
TGZ=$(cd "$CLEAN" && npm pack --silent --pack-destination "$TMP" | tail -n 1)
TGZ="$TMP/$TGZ"
# The listing is read once into a file: `grep -q` stopping early would break a pipe under pipefail.
tar -tzf "$TGZ" > "$TMP/files.txt"
echo "  $(wc -l < "$TMP/files.txt") files, $(du -k "$TGZ" | cut -f1) kB"
for f in dist/index.js dist/index.cjs dist/index.d.ts dist/index.d.cts dist/cli/main.js LICENSE README.md aliases.example.yaml; do
  grep -qx "package/$f" "$TMP/files.txt" || { echo "check-package: the tarball lacks $f" >&2; exit 1; }
done
if grep -Eq '\.test\.|(^|/)(src|test|scripts)/' "$TMP/files.txt"; then
  echo "check-package: the tarball ships sources or tests" >&2
  exit 1
fi
tar -xzOf "$TGZ" --wildcards 'package/dist/*.map' > "$TMP/maps.txt"
if grep -q '"sourcesContent"' "$TMP/maps.txt"; then
  echo "check-package: source maps embed the sources" >&2
  exit 1
fi

step "install into a fresh project"
APP="$TMP/app"
mkdir -p "$APP"
cd "$APP"
printf '{ "name": "consumer", "version": "1.0.0", "private": true }\n' > package.json
dev() { node -p "require('$ROOT/package.json').devDependencies['$1']"; }
# @types/json-schema: @ai-sdk/provider's declarations import 'json-schema' types it does not depend on; a consumer
# that checks library declarations (skipLibCheck off, below) installs them, as here.
npm install "$TGZ" prom-client "@types/node@$(dev @types/node)" "ai@$(dev ai)" "@ai-sdk/provider@$(dev @ai-sdk/provider)" \
  "@opentelemetry/api@$(dev @opentelemetry/api)" @types/json-schema@7.0.15 --no-audit --no-fund --prefer-offline \
  --loglevel=error

# One smoke test for both module systems: every entry point loads, and a call goes through a mock upstream.
SMOKE='
  const upstream = await testing.startMockUpstream("openai", { reply: "packaged" });
  const llm = main.createManaLLM({
    aliases: { aliases: { "mana/x": { chain: ["local/m"] } } },
    providers: { local: { type: "openai", baseUrl: upstream.url } },
    health: { probes: false },
  });
  const registry = new (require("prom-client").Registry)();
  prometheus.registerPrometheusMetrics(llm, { registry });
  const res = await llm.chat({ model: "mana/x", messages: [{ role: "user", content: "hi" }] });
  if (res.choices[0].message.content !== "packaged") throw new Error("unexpected answer");
  if (!(await registry.metrics()).includes("mana_llm_llm_requests_total")) throw new Error("no metrics");
  if (typeof redis.createRedisHealthStore !== "function") throw new Error("no redis entry");
  const handle = http.createFetchHandler(llm);
  const served = await handle(new Request("http://local/v1/chat/completions", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "mana/x", messages: [{ role: "user", content: "hi" }] }) }));
  if (served.headers.get("x-mana-llm-resolved") !== "local/m") throw new Error("http entry");
  if (typeof http.createNodeHandler !== "function") throw new Error("no node handler");
  const stopTracing = otel.instrumentOpenTelemetry(llm);
  const model = aiSdk.createManaProvider(llm)("mana/x");
  const generated = await model.doGenerate({ prompt: [{ role: "user", content: [{ type: "text", text: "hi" }] }] });
  if (generated.content[0].text !== "packaged") throw new Error("ai-sdk entry");
  stopTracing();
  if (!main.isManaLLMError(new main.ConfigError("x"))) throw new Error("errors");
  await llm.close();
  await upstream.close();
  console.log("  ok:", res.model);
'

step "ESM import"
node --input-type=module -e "
  import { createRequire } from 'node:module';
  const require = createRequire(process.cwd() + '/');
  const main = await import('mana-llm');
  const testing = await import('mana-llm/testing');
  const prometheus = await import('mana-llm/prometheus');
  const redis = await import('mana-llm/redis');
  const http = await import('mana-llm/http');
  const otel = await import('mana-llm/otel');
  const aiSdk = await import('mana-llm/ai-sdk');
  $SMOKE"

step "CommonJS require"
node -e "
  const main = require('mana-llm');
  const testing = require('mana-llm/testing');
  const prometheus = require('mana-llm/prometheus');
  const redis = require('mana-llm/redis');
  const http = require('mana-llm/http');
  const otel = require('mana-llm/otel');
  const aiSdk = require('mana-llm/ai-sdk');
  (async () => { $SMOKE })().catch((e) => { console.error(e); process.exit(1); });"

step "ESM and CommonJS copies in one process: errors recognised across them"
node --input-type=module -e "
  import { createRequire } from 'node:module';
  const require = createRequire(process.cwd() + '/');
  const esm = await import('mana-llm');
  const cjs = require('mana-llm');
  if (esm.ProviderError === cjs.ProviderError) throw new Error('expected two copies of the package');
  const fromCjs = new cjs.ProviderRateLimitError('slow down', { provider: 'p', model: 'm' });
  const fromEsm = new esm.AliasConfigError('bad aliases');
  const checks = {
    'isManaLLMError (ESM) on a CJS error': esm.isManaLLMError(fromCjs),
    'isManaLLMError (CJS) on an ESM error': cjs.isManaLLMError(fromEsm),
    'instanceof ProviderError across copies': fromCjs instanceof esm.ProviderError,
    'instanceof ProviderRateLimitError across copies': fromCjs instanceof esm.ProviderRateLimitError,
    'instanceof ConfigError across copies': fromEsm instanceof cjs.ConfigError,
    'not instanceof a sibling class': !(fromCjs instanceof esm.ProviderAuthError) && !(fromEsm instanceof cjs.InvalidRequestError),
  };
  for (const [what, ok] of Object.entries(checks)) if (!ok) throw new Error('cross-copy check failed: ' + what);
  console.log('  ok: ' + Object.keys(checks).length + ' checks');"

step "TypeScript (strict, declarations checked: skipLibCheck off)"
cat > consumer.ts <<'EOF'
import {
  type ChatResponse,
  createManaLLM,
  isManaLLMError,
  type ManaLLM,
  type ManaLLMOptions,
  NoHealthyProviderError,
  type ProviderAdapter,
  StreamInterruptedError,
  toServerSentEvents,
} from 'mana-llm';
import { createManaProvider, type ManaProvider } from 'mana-llm/ai-sdk';
import { createFetchHandler, createNodeHandler, type HttpHandlerOptions } from 'mana-llm/http';
import { instrumentOpenTelemetry } from 'mana-llm/otel';
import { registerPrometheusMetrics } from 'mana-llm/prometheus';
import { createRedisHealthStore } from 'mana-llm/redis';
import { createFakeClock, createMockProvider, type MockUpstream, startMockUpstream } from 'mana-llm/testing';

const adapter: ProviderAdapter = createMockProvider();
const options: ManaLLMOptions = {
  aliases: { aliases: { 'mana/x': { chain: ['mock/m'] } } },
  providers: { mock: { type: 'custom', adapter } },
  clock: createFakeClock(),
};
const llm: ManaLLM = createManaLLM(options);
export async function use(): Promise<string | null | undefined> {
  const up: MockUpstream = await startMockUpstream('ollama');
  await up.close();
  registerPrometheusMetrics(llm);
  void createRedisHealthStore;
  const mana: ManaProvider = createManaProvider(llm);
  const stopTracing: () => void = instrumentOpenTelemetry(llm);
  stopTracing();
  void mana('mana/x').doStream;
  const httpOptions: HttpHandlerOptions = { apiKeys: ['k'], cors: '*' };
  const handle: (request: Request) => Promise<Response> = createFetchHandler(llm, httpOptions);
  void handle;
  void createNodeHandler(llm);
  const opened = await llm.openStream({ messages: [{ role: 'user', content: 'hi' }] });
  void opened.routing.resolved;
  try {
    const res: ChatResponse = await llm.chat({ model: 'mana/x', messages: [{ role: 'user', content: 'hi' }] });
    for await (const frame of toServerSentEvents(llm.stream({ messages: [{ role: 'user', content: 'hi' }] })))
      void frame.length;
    return res.choices[0]?.message.content;
  } catch (err) {
    if (err instanceof NoHealthyProviderError) return err.attempts[0]?.reason;
    if (err instanceof StreamInterruptedError) return err.partial.content;
    return isManaLLMError(err) ? err.code : null;
  }
}
EOF
cp consumer.ts consumer.cts
tsc() { node "$ROOT/node_modules/typescript/bin/tsc" "$@"; }
BASE='"strict": true, "noEmit": true, "skipLibCheck": false, "target": "ES2022", "lib": ["ES2023"], "types": ["node"], "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true'
printf '{ "compilerOptions": { %s, "module": "node16", "moduleResolution": "node16" }, "files": ["consumer.ts"] }\n' "$BASE" > tsconfig.esm.json
printf '{ "compilerOptions": { %s, "module": "node16", "moduleResolution": "node16" }, "files": ["consumer.cts"] }\n' "$BASE" > tsconfig.cjs.json
printf '{ "compilerOptions": { %s, "module": "esnext", "moduleResolution": "bundler" }, "files": ["consumer.ts"] }\n' "$BASE" > tsconfig.bundler.json
npm pkg set type=module >/dev/null
# Each on its own line: under `set -e` a failure on the left of `&&` would not stop the script.
tsc -p tsconfig.esm.json
echo "  ok: node16, ESM consumer"
tsc -p tsconfig.cjs.json
echo "  ok: node16, CommonJS consumer (.cts)"
tsc -p tsconfig.bundler.json
echo "  ok: bundler resolution"
npm pkg delete type >/dev/null

step "bin"
./node_modules/.bin/mana-llm --help | head -n 3
# The README points at the example the package ships.
npx --no-install mana-llm validate node_modules/mana-llm/aliases.example.yaml

step "bin: serve answers, then drains on SIGTERM and exits 0"
printf 'aliases:\n  mana/x:\n    chain: [ollama/m]\n' > serve-aliases.yaml
./node_modules/.bin/mana-llm serve --port 0 serve-aliases.yaml > serve.log 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q 'listening on' serve.log && break; sleep 0.1; done
SERVE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' serve.log | head -n 1)
node -e "fetch('$SERVE_URL/v1/aliases').then(async (r) => { const b = await r.json(); if (r.status !== 200 || b.aliases[0].name !== 'mana/x') process.exit(1); console.log('  ok: GET /v1/aliases'); })"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" && echo "  ok: exit 0 after SIGTERM"

printf '\ncheck-package: ok\n'
