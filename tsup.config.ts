import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    prometheus: 'src/prometheus/index.ts',
    testing: 'src/testing/index.ts',
    redis: 'src/redis/index.ts',
    http: 'src/http/index.ts',
    otel: 'src/otel/index.ts',
    'ai-sdk': 'src/ai-sdk/index.ts',
    'cli/main': 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  tsconfig: 'tsconfig.build.json',
  clean: true,
  target: 'node20',
  // Maps for stack traces (file and line in src/), without embedding the sources: the tarball stays small and ships
  // no TypeScript.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  splitting: true,
  // import.meta.url in the CommonJS build (mana-llm/prometheus and mana-llm/redis load prom-client / ioredis lazily
  // with createRequire).
  shims: true,
});
