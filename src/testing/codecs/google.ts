import { type MockBehavior, type MockCodec, replyPieces, tokensOf, toolArgs } from '../mock-server.js';
import { vector } from './openai.js';

const RESPONSE_ID = 'mock-gemini-response';
const VERSION = 'gemini-2.0-flash-001';

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\r\n\r\n`;
}

function usageOf(b: MockBehavior) {
  const u = tokensOf(b);
  return {
    promptTokenCount: u.prompt,
    candidatesTokenCount: u.completion,
    totalTokenCount: u.prompt + u.completion,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.prompt }],
  };
}

function response(parts: unknown[], finishReason: string | undefined, usage: unknown): unknown {
  return {
    candidates: [
      {
        content: { parts, role: 'model' },
        ...(finishReason === undefined ? {} : { finishReason }),
        index: 0,
      },
    ],
    usageMetadata: usage,
    modelVersion: VERSION,
    responseId: RESPONSE_ID,
  };
}

/** A tool call finishes with STOP too (`finish` belongs to a text reply). */
function finishOf(b: MockBehavior): string {
  return 'finish' in b && b.finish === 'length' ? 'MAX_TOKENS' : 'STOP';
}

function callOf(b: { toolCall: { name: string; arguments: string } }): unknown {
  return { functionCall: { name: b.toolCall.name, args: toolArgs(b) } };
}

// Gemini's error body: { error: { code, message, status, details } } (google.rpc.Status).
const IN_BAND = {
  'rate-limit': {
    code: 429,
    message: 'Resource has been exhausted (e.g. check quota).',
    status: 'RESOURCE_EXHAUSTED',
    details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12s' }],
  },
  server: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
  auth: {
    code: 401,
    message:
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
    status: 'UNAUTHENTICATED',
  },
  invalid: { code: 400, message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT' },
} as const;

// The google.rpc.Code name Gemini sends with each HTTP status; any other status is UNKNOWN.
const RPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const ROUTE = /^\/models\/([^/:?]+):(generateContent|streamGenerateContent|batchEmbedContents)(?:\?.*)?$/;

/** Google Gemini REST wire format (`generateContent`, `streamGenerateContent?alt=sse`, `batchEmbedContents`). */
export const googleCodec: MockCodec = {
  basePath: '/v1beta',
  route(method, path, body) {
    if (method === 'GET' && /^\/models(?:\?.*)?$/.test(path)) return { op: 'models' };
    const m = ROUTE.exec(path);
    if (method !== 'POST' || !m) return null;
    const model = decodeURIComponent(m[1] ?? '');
    if (m[2] === 'generateContent') return { op: 'chat', model };
    if (m[2] === 'streamGenerateContent') return { op: 'stream', model };
    const requests = (body as { requests?: { content?: { parts?: { text?: string }[] } }[] } | null)
      ?.requests;
    const inputs = (requests ?? []).map((r) => String(r.content?.parts?.[0]?.text ?? ''));
    return { op: 'embed', model, inputs };
  },
  chat(b) {
    const parts = 'toolCall' in b ? [callOf(b)] : [{ text: 'reply' in b ? b.reply : '' }];
    return response(parts, finishOf(b), usageOf(b));
  },
  stream(b) {
    // Gemini streams whole GenerateContentResponse objects; every frame carries usage so far, the last one
    // a finishReason. No [DONE].
    const { promptTokenCount } = usageOf(b);
    const partial = { promptTokenCount, totalTokenCount: promptTokenCount };
    const content =
      'toolCall' in b
        ? [sse(response([callOf(b)], undefined, partial))]
        : replyPieces(b).map((t) => sse(response([{ text: t }], undefined, partial)));
    const end = [sse(response([{ text: '' }], finishOf(b), usageOf(b)))];
    return { contentType: 'text/event-stream', prelude: [], content, end };
  },
  embed(dimensions, inputs) {
    return { embeddings: inputs.map((input) => ({ values: vector(input, dimensions) })) };
  },
  models(names) {
    return {
      models: names.map((n) => ({
        name: `models/${n}`,
        version: '001',
        displayName: n,
        inputTokenLimit: 1048576,
        outputTokenLimit: 8192,
        supportedGenerationMethods: ['generateContent', 'countTokens'],
      })),
    };
  },
  inBandError(kind, streaming) {
    const payload = { error: IN_BAND[kind] };
    return streaming ? sse(payload) : JSON.stringify(payload);
  },
  errorBody(status, message) {
    return JSON.stringify({ error: { code: status, message, status: RPC_STATUS[status] ?? 'UNKNOWN' } });
  },
  blocked(streaming) {
    const payload = {
      promptFeedback: {
        blockReason: 'SAFETY',
        safetyRatings: [
          { category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH' },
          { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
        ],
      },
      usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
      modelVersion: VERSION,
    };
    const body = streaming ? sse(payload) : JSON.stringify(payload);
    return { status: 200, contentType: streaming ? 'text/event-stream' : 'application/json', body };
  },
};
