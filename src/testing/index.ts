import { anthropicCodec } from './codecs/anthropic.js';
import { googleCodec } from './codecs/google.js';
import { ollamaCodec } from './codecs/ollama.js';
import { openaiCodec } from './codecs/openai.js';
import { type MockBehavior, type MockCodec, type MockUpstream, startMockServer } from './mock-server.js';

export { createFakeClock, type FakeClock } from '../health/fake-clock.js';
export { createMockProvider, type MockFailure, type MockProvider, type MockStep } from './mock-provider.js';
export type { MockBehavior, MockCodec, MockRoute, MockUpstream, RecordedRequest } from './mock-server.js';
export { anthropicCodec, googleCodec, ollamaCodec, openaiCodec, startMockServer };

/** The wire protocols the mock upstreams speak. */
export type MockProtocol = 'openai' | 'ollama' | 'google' | 'anthropic';

const CODECS: Record<MockProtocol, MockCodec> = {
  openai: openaiCodec,
  ollama: ollamaCodec,
  google: googleCodec,
  anthropic: anthropicCodec,
};

/**
 * Starts a local upstream on 127.0.0.1 speaking a provider's real wire format; point a provider's `baseUrl`
 * at `upstream.url` and script it with `enqueue(...)` / `setDefault(...)`.
 */
export function startMockUpstream(
  protocol: MockProtocol,
  initial?: MockBehavior,
  opts: { port?: number | undefined } = {},
): Promise<MockUpstream> {
  return startMockServer(CODECS[protocol], initial, opts);
}
