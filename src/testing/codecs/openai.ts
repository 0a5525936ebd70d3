import { type MockBehavior, type MockCodec, replyPieces, splitReply, tokensOf } from '../mock-server.js';

const ID = 'chatcmpl-mock';
const CREATED = 1_700_000_000;

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function chunk(model: string, delta: unknown, finish: string | null = null) {
  return {
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
}

/** The request asks for a usage frame (`stream_options.include_usage`), as OpenAI reads it. */
function wantsUsage(request: unknown): boolean {
  const options = (request as { stream_options?: { include_usage?: unknown } } | undefined)?.stream_options;
  return options?.include_usage === true;
}

function usageOf(b: MockBehavior) {
  const u = tokensOf(b);
  return { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion };
}

function toolCall(b: { toolCall: { id?: string | undefined; name: string } }, args: string) {
  return {
    id: b.toolCall.id ?? 'call_mock1',
    type: 'function',
    function: { name: b.toolCall.name, arguments: args },
  };
}

function finishOf(b: MockBehavior): string {
  if ('toolCall' in b) return 'tool_calls';
  return 'finish' in b && b.finish ? b.finish : 'stop';
}

const IN_BAND = {
  'rate-limit': { message: 'Rate limit reached for requests', type: 'rate_limit_error', code: 429 },
  server: {
    message: 'The server had an error while processing your request.',
    type: 'server_error',
    code: 502,
  },
  auth: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 401 },
  invalid: { message: "Invalid value for 'messages'.", type: 'invalid_request_error', code: 400 },
} as const;

/** OpenAI Chat Completions wire format (also Groq, OpenRouter, Together, vLLM, LM Studio, llama.cpp). */
export const openaiCodec: MockCodec = {
  basePath: '/v1',
  route(method, pathAndQuery, body) {
    // A query string does not change the route, as on the real API.
    const path = pathAndQuery.split('?')[0];
    const b = (body ?? {}) as { model?: string; stream?: boolean };
    if (method === 'GET' && path === '/models') return { op: 'models' };
    if (method !== 'POST') return null;
    if (path === '/chat/completions') return { op: b.stream ? 'stream' : 'chat', model: String(b.model) };
    return path === '/embeddings' ? embedRoute(b) : null;
  },
  chat(b, model) {
    const message =
      'toolCall' in b
        ? { role: 'assistant', content: null, tool_calls: [toolCall(b, b.toolCall.arguments)] }
        : { role: 'assistant', content: 'reply' in b ? b.reply : '' };
    return {
      id: ID,
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [{ index: 0, message, finish_reason: finishOf(b), logprobs: null }],
      usage: usageOf(b),
    };
  },
  stream(b, model, request) {
    // As api.openai.com: only a request asking include_usage gets the usage frame (choices: []), and then every other
    // frame says `usage: null`.
    const usage = wantsUsage(request);
    const frame = (delta: unknown, finish: string | null = null) =>
      sse(usage ? { ...chunk(model, delta, finish), usage: null } : chunk(model, delta, finish));
    const content =
      'toolCall' in b
        ? [
            frame({ tool_calls: [{ index: 0, ...toolCall(b, '') }] }),
            ...splitReply(b.toolCall.arguments, 3).map((a) =>
              frame({ tool_calls: [{ index: 0, function: { arguments: a } }] }),
            ),
          ]
        : replyPieces(b).map((t) => frame({ content: t }));
    const end = [
      frame({}, finishOf(b)),
      ...(usage ? [sse({ ...chunk(model, {}), choices: [], usage: usageOf(b) })] : []),
      'data: [DONE]\n\n',
    ];
    return {
      contentType: 'text/event-stream',
      prelude: [frame({ role: 'assistant', content: '' })],
      content,
      end,
    };
  },
  embed(dimensions, inputs, model) {
    return {
      object: 'list',
      data: inputs.map((input, index) => ({
        object: 'embedding',
        index,
        embedding: vector(input, dimensions),
      })),
      model,
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    };
  },
  models(names) {
    return {
      object: 'list',
      data: names.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'mock' })),
    };
  },
  inBandError(kind, streaming) {
    const payload = { error: IN_BAND[kind] };
    return streaming ? sse(payload) : JSON.stringify(payload);
  },
  errorBody(status, message) {
    const type = status >= 500 ? 'server_error' : status === 429 ? 'requests' : 'invalid_request_error';
    return JSON.stringify({ error: { message, type, param: null, code: null } });
  },
  blocked() {
    // OpenAI-compatible servers report moderation as an HTTP error (Azure: 400 content_filter), streaming or not.
    return {
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({
        error: { message: 'flagged by moderation', type: 'invalid_request_error', code: 'content_filter' },
      }),
    };
  },
};

/** An embeddings body of OpenAI's shape (Ollama's too): its model, and its `input` (a string or a list). */
export function embedRoute(body: { model?: unknown; input?: unknown }) {
  const inputs: string[] = Array.isArray(body.input) ? body.input : [String(body.input)];
  return { op: 'embed' as const, model: String(body.model), inputs };
}

/** A deterministic unit-ish vector derived from the text, so tests can compare embeddings. */
export function vector(text: string, dimensions: number): number[] {
  const out: number[] = [];
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  for (let i = 0; i < dimensions; i++) {
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
    out.push(((h >>> 0) % 2000) / 1000 - 1);
  }
  return out;
}
