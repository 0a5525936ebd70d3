import { type MockBehavior, type MockCodec, replyPieces, tokensOf, toolArgs } from '../mock-server.js';
import { embedRoute, vector } from './openai.js';

const CREATED_AT = '2024-07-22T20:33:28.123648Z';

function line(payload: unknown): string {
  return `${JSON.stringify(payload)}\n`;
}

/** The last line of an answer: finish reason, timings (nanoseconds) and token counts. */
function done(b: MockBehavior, model: string, message: unknown) {
  const u = tokensOf(b);
  return {
    model,
    created_at: CREATED_AT,
    message,
    done_reason: 'finish' in b && b.finish ? b.finish : 'stop',
    done: true,
    total_duration: 4883583458,
    load_duration: 1334875,
    prompt_eval_duration: 342546000,
    eval_duration: 4535599000,
    prompt_eval_count: u.prompt,
    eval_count: u.completion,
  };
}

function toolCalls(b: { toolCall: { id?: string | undefined; name: string; arguments: string } }) {
  return [
    {
      ...(b.toolCall.id === undefined ? {} : { id: b.toolCall.id }),
      function: { name: b.toolCall.name, arguments: toolArgs(b) },
    },
  ];
}

// Ollama reports errors as a bare string; when the runner failed with a status (a cloud model's 429 or 401, a
// full queue's 503) the stream line carries it beside the text as `status`.
const IN_BAND = {
  'rate-limit': { error: 'too many requests, please try again later', status: 429 },
  server: { error: 'server busy, please try again.  maximum pending requests exceeded', status: 503 },
  auth: { error: 'unauthorized', status: 401 },
  invalid: { error: 'invalid tool call arguments', status: 400 },
} as const;

/** Ollama native API wire format (`/api/chat` JSON and NDJSON, `/api/embed`, `/api/tags`). */
export const ollamaCodec: MockCodec = {
  basePath: '',
  route(method, pathAndQuery, body) {
    // A query string does not change the route, as on the real API.
    const path = pathAndQuery.split('?')[0];
    const b = (body ?? {}) as { model?: string; stream?: boolean };
    if (method === 'GET' && path === '/api/tags') return { op: 'models' };
    if (method !== 'POST') return null;
    // Ollama streams unless told `stream: false`.
    if (path === '/api/chat') return { op: b.stream === false ? 'chat' : 'stream', model: String(b.model) };
    return path === '/api/embed' ? embedRoute(b) : null;
  },
  chat(b, model) {
    const message =
      'toolCall' in b
        ? { role: 'assistant', content: '', tool_calls: toolCalls(b) }
        : { role: 'assistant', content: 'reply' in b ? b.reply : '' };
    return done(b, model, message);
  },
  stream(b, model) {
    const frame = (message: unknown) => line({ model, created_at: CREATED_AT, message, done: false });
    const content =
      'toolCall' in b
        ? // Ollama sends each tool call whole, in one line.
          [frame({ role: 'assistant', content: '', tool_calls: toolCalls(b) })]
        : replyPieces(b).map((t) => frame({ role: 'assistant', content: t }));
    const end = [line(done(b, model, { role: 'assistant', content: '' }))];
    return { contentType: 'application/x-ndjson', prelude: [], content, end };
  },
  embed(dimensions, inputs, model) {
    return {
      model,
      embeddings: inputs.map((input) => vector(input, dimensions)),
      total_duration: 14143917,
      load_duration: 1019500,
      prompt_eval_count: inputs.length * 2,
    };
  },
  models(names) {
    return {
      models: names.map((name) => ({
        name,
        model: name,
        modified_at: '2024-06-04T14:38:31.83753-07:00',
        size: 4661211808,
        digest: 'e1b0c8f3a2d4b5c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e',
        details: {
          parent_model: '',
          format: 'gguf',
          family: 'llama',
          families: ['llama'],
          parameter_size: '8.0B',
          quantization_level: 'Q4_0',
        },
      })),
    };
  },
  inBandError(kind, streaming) {
    return streaming ? line(IN_BAND[kind]) : JSON.stringify(IN_BAND[kind]);
  },
  errorBody(_status, message) {
    // Ollama's own errors are a bare string: {"error":"model 'x' not found"}.
    return JSON.stringify({ error: message });
  },
  blocked() {
    // Ollama has no safety filter of its own (a model that refuses just says so). What reaches the adapter is a
    // moderating gateway in front of Ollama (the bearer-key proxy case) refusing the prompt.
    return {
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ error: { message: 'prompt flagged by moderation', code: 'content_filter' } }),
    };
  },
};
