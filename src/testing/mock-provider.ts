import { once } from 'node:events';
import {
  ProviderAuthError,
  ProviderBlockedError,
  ProviderConnectionError,
  type ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
} from '../errors.js';
import {
  type AdapterChatRequest,
  type AdapterEmbedRequest,
  ALL_CAPABILITIES,
  type Capabilities,
  type ProviderAdapter,
} from '../providers/adapter.js';
import { chunksOf, completion } from '../providers/json-shapes.js';
import type { ChatChunk, ChatCompletion, Embeddings } from '../types.js';
import { replyPieces } from './mock-server.js';

/** A failure of the taxonomy, as the mock provider throws it (spelled out: it is public, and read in editors). */
export type MockFailure =
  | 'connection'
  | 'timeout'
  | 'server-error'
  | 'rate-limit'
  | 'auth'
  | 'bad-request'
  | 'model-not-found'
  | 'blocked'
  | 'bad-response';

/** Each failure of the taxonomy, as the mock provider throws it. */
const FAILURES = {
  connection: (m, i) =>
    new ProviderConnectionError(m, {
      ...i,
      cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
    }),
  timeout: (m, i) => new ProviderTimeoutError(m, i),
  'server-error': (m, i) => new ProviderHTTPError(m, { ...i, status: 500 }),
  'rate-limit': (m, i, retryAfterMs) => new ProviderRateLimitError(m, { ...i, status: 429, retryAfterMs }),
  auth: (m, i) => new ProviderAuthError(m, { ...i, status: 401 }),
  'bad-request': (m, i) => new ProviderHTTPError(m, { ...i, status: 400 }),
  'model-not-found': (m, i) => new ProviderHTTPError(m, { ...i, status: 404 }),
  blocked: (m, i) => new ProviderBlockedError(m, { ...i, reason: 'SAFETY' }),
  'bad-response': (m, i) => new ProviderResponseError(m, i),
} satisfies Record<
  MockFailure,
  (message: string, info: { provider: string; model: string }, retryAfterMs?: number) => ProviderError
>;

/** What the mock provider does with one call. */
export type MockStep =
  /** Answer with this text (streamed in `chunks` pieces, default 3). */
  | { reply: string; chunks?: number | undefined }
  /** Fail before any content. `retryAfterMs` applies to `rate-limit`. */
  | { fail: MockFailure; retryAfterMs?: number | undefined }
  /** Stream `chunks` pieces of `reply` (or filler), then fail. */
  | { streamThenFail: number; fail?: MockFailure | undefined; reply?: string | undefined }
  /** Never answer until the call's signal aborts. */
  | { stall: true };

/** A scriptable `type: 'custom'` adapter for testing fallback logic without sockets or keys. */
export interface MockProvider extends ProviderAdapter {
  /** Every call received, in order. */
  readonly calls: { kind: 'chat' | 'stream' | 'embed' | 'probe'; model: string }[];
  /** Steps used one per call; when empty the default step is used. */
  enqueue(...steps: MockStep[]): void;
  setDefault(step: MockStep): void;
  /** What `probe()` answers (default true). */
  setAlive(alive: boolean): void;
}

function failure(kind: MockFailure, provider: string, model: string, retryAfterMs?: number): ProviderError {
  return FAILURES[kind](`${provider}/${model}: mock ${kind}`, { provider, model }, retryAfterMs);
}

/**
 * Creates a scriptable provider: plug it in with `providers: { mock: { type: 'custom', adapter } }` and script
 * replies, failures of any class, partial streams and stalls.
 */
export function createMockProvider(
  opts: {
    provider?: string | undefined;
    capabilities?: Partial<Capabilities> | undefined;
    dimensions?: number | undefined;
  } = {},
): MockProvider {
  const provider = opts.provider ?? 'mock';
  const caps: Capabilities = Object.freeze({ ...ALL_CAPABILITIES, ...opts.capabilities });
  const queue: MockStep[] = [];
  let fallback: MockStep = { reply: 'Hello from the mock provider.' };
  let alive = true;
  let seq = 0;
  const calls: MockProvider['calls'] = [];
  const next = () => queue.shift() ?? fallback;
  const now = () => Math.floor(Date.now() / 1000);

  async function settle(step: MockStep, model: string, signal: AbortSignal): Promise<string> {
    if (signal.aborted) throw signal.reason;
    if ('stall' in step) {
      await once(signal, 'abort');
      throw signal.reason;
    }
    // A call that does not stream cannot be cut mid-answer: a partial-stream step fails it outright.
    if ('streamThenFail' in step) throw failure(step.fail ?? 'connection', provider, model);
    if ('fail' in step) throw failure(step.fail, provider, model, step.retryAfterMs);
    return 'reply' in step ? (step.reply ?? '') : '';
  }

  return {
    calls,
    enqueue: (...steps) => void queue.push(...steps),
    setDefault: (step) => void (fallback = step),
    setAlive: (a) => void (alive = a),
    capabilities: () => caps,
    async chat(req: AdapterChatRequest, ctx): Promise<ChatCompletion> {
      calls.push({ kind: 'chat', model: req.model });
      const content = await settle(next(), req.model, ctx.signal);
      const usage = { prompt_tokens: 1, completion_tokens: content.length, total_tokens: 1 + content.length };
      const answer = { content, reasoning: '', toolCalls: [] };
      return completion(`mock-${++seq}`, now(), `${provider}/${req.model}`, answer, 'stop', usage);
    },
    async *stream(req: AdapterChatRequest, ctx): AsyncGenerator<ChatChunk> {
      calls.push({ kind: 'stream', model: req.model });
      const step = next();
      const chunk = chunksOf(`mock-${++seq}`, now(), `${provider}/${req.model}`);
      const partial = 'streamThenFail' in step;
      const text = partial
        ? (step.reply ?? 'x'.repeat(step.streamThenFail * 4))
        : await settle(step, req.model, ctx.signal);
      yield chunk({ role: 'assistant' });
      const n = partial ? step.streamThenFail : 'chunks' in step && step.chunks ? step.chunks : 3;
      for (const p of replyPieces({ reply: text, chunks: n })) yield chunk({ content: p });
      if (partial) throw failure(step.fail ?? 'connection', provider, req.model);
      yield chunk({}, 'stop');
    },
    async embed(req: AdapterEmbedRequest, ctx): Promise<Embeddings> {
      calls.push({ kind: 'embed', model: req.model });
      await settle(next(), req.model, ctx.signal);
      const dims = opts.dimensions ?? 4;
      return {
        object: 'list',
        data: req.input.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: Array.from({ length: dims }, (_, i) => ((text.length + i) % 7) / 7),
        })),
        model: `${provider}/${req.model}`,
        usage: { prompt_tokens: req.input.length, total_tokens: req.input.length },
      };
    },
    async probe() {
      calls.push({ kind: 'probe', model: '' });
      return alive ? { ok: true } : { ok: false, error: 'mock provider is down' };
    },
    async models() {
      return ['mock-model'];
    },
  };
}
