import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The environment without any provider configuration, so every example starts its local mock upstreams. */
function envWithoutKeys(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/_API_KEY$|^OLLAMA_URL$|^PORT$/.test(name)) env[name] = value;
  }
  return env;
}

/** Runs `examples/<name>.ts --self-test` as its own process, the way a user runs it (through tsx). */
function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `examples/${name}.ts`, '--self-test'],
      { cwd: process.cwd(), env: envWithoutKeys(), timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

async function expectSuccess(name: string): Promise<string> {
  const { code, stdout, stderr } = await runExample(name);
  expect({ code, stderr }, stdout).toEqual({ code: 0, stderr: '' });
  return stdout;
}

describe.concurrent('examples (run as child processes with no API keys and no network)', {
  timeout: 40_000,
}, () => {
  it('script.ts chats on an alias, prints the routing, streams, and exits without llm.close()', async () => {
    const out = await expectSuccess('script');
    expect(out).toContain('answer: Hello from the local GPU box (mock Ollama).');
    expect(out).toContain('served by ollama/qwen2.5:7b (asked for mana/fast-text)');
    expect(out).toContain('  ollama/qwen2.5:7b: ok');
    expect(out).toContain('stream: Hello from the local GPU box (mock Ollama).');
  });

  for (const name of ['http-backend', 'fastify-backend']) {
    it(`${name}.ts serves /chat as JSON, /chat/stream as SSE, maps errors to their status, and reports health`, async () => {
      const out = await expectSuccess(name);
      expect(out).toMatch(
        /POST \/chat -> 200 application\/json[^\n]*\n\{[^\n]*"model":"ollama\/qwen2.5:7b"[^\n]*"routing"/,
      );
      expect(out).toContain('POST /chat/stream -> 200 text/event-stream');
      expect(out).toMatch(/data: \{"id":[^\n]*"content":"Hello from the "/);
      expect(out).toContain('data: [DONE]');
      expect(out).toMatch(
        /-> 404 application\/json[^\n]*\n\{"error":\{"message":"Unknown model alias[^\n]*"type":"unknown_alias"\}\}/,
      );
      expect(out).toMatch(
        /POST \/chat -> 400 application\/json[^\n]*\n\{"error":\{[^\n]*"type":"invalid_request"\}\}/,
      );
      expect(out).toMatch(
        /GET \/health -> 200 application\/json[^\n]*\n\{"status":"healthy","providers":\{"ollama"/,
      );
    });
  }

  it('metrics.ts exposes the mana_llm_ series on /metrics', async () => {
    const out = await expectSuccess('metrics');
    expect(out).toContain('GET /metrics -> 200 text/plain');
    expect(out).toContain(
      'mana_llm_llm_requests_total{provider="ollama",model="qwen2.5:7b",streaming="false"} 1',
    );
    expect(out).toContain(
      'mana_llm_llm_requests_total{provider="ollama",model="qwen2.5:7b",streaming="true"} 1',
    );
    expect(out).toContain(
      // together/some-model is named by no alias and no configured provider: labelled other/other (docs/metrics.md).
      'mana_llm_llm_errors_total{provider="other",model="other",error_type="no_healthy_provider"} 1',
    );
    expect(out).toContain(
      'mana_llm_alias_resolved_total{alias="mana/fast-text",target="ollama/qwen2.5:7b"} 2',
    );
    expect(out).toContain('mana_llm_provider_healthy{provider="groq"} 1');
  });

  it('events-logging.ts logs one JSON line per event, errors by code, never the key', async () => {
    const out = await expectSuccess('events-logging');
    const lines = out.trim().split('\n');
    const events = lines.map((line) => JSON.parse(line) as { event: string; error?: { code?: string } });
    const names = new Set(events.map((e) => e.event));
    for (const name of ['request', 'fallback', 'health', 'resolved', 'response', 'failure', 'reload']) {
      expect(names, name).toContain(name);
    }
    expect(events.find((e) => e.event === 'failure')?.error?.code).toBe('NO_HEALTHY_PROVIDER');
    expect(out).not.toContain('mock-key-not-a-secret');
  });
});

// One at a time, after the others: each loads the AI SDK or the OpenTelemetry SDK in its own child process.
describe('examples of the integrations (run as child processes)', { timeout: 40_000 }, () => {
  it('ai-sdk.ts runs generateText, streamText, a tool loop and a UI message stream through aliases', async () => {
    const out = await expectSuccess('ai-sdk');
    expect(out).toContain('answer: Hello from the local GPU box (mock Ollama).');
    expect(out).toContain('served by ollama/qwen2.5:7b: ollama/qwen2.5:7b ok');
    expect(out).toContain('usage: 5 in, 7 out');
    expect(out).toContain('stream: Hello from the local GPU box (mock Ollama).');
    expect(out).toMatch(/UI message stream: 200 text\/event-stream, \d+ bytes/);
  });

  it('tracing.ts prints a call span with a failed and a served attempt under it', async () => {
    const out = await expectSuccess('tracing');
    expect(out).toContain('diagnostics_channel: chat mana/fast-text -> groq/llama-3.1-8b-instant');
    expect(out).toMatch(/chat mana\/fast-text {2}[\d.]+ ms {2}served by groq\/llama-3.1-8b-instant \(groq\)/);
    expect(out).toContain('gen_ai.request.temperature = 0.2');
    expect(out).toContain(
      '  attempt ollama/qwen2.5:7b  ERROR http-error 503\n  attempt groq/llama-3.1-8b-instant  ok',
    );
    expect(out).toContain('gen_ai.request.stream = true');
    expect(out).toContain('event gen_ai.first_chunk');
  });
});
