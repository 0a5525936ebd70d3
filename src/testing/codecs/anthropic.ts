import {
  type MockBehavior,
  type MockCodec,
  replyPieces,
  splitReply,
  tokensOf,
  toolArgs,
} from '../mock-server.js';

const ID = 'msg_01XFDUDYJgAACzvnptvVoYEL';

function event(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

function usageOf(b: MockBehavior) {
  const u = tokensOf(b);
  return { input_tokens: u.prompt, output_tokens: u.completion };
}

function stopReason(b: MockBehavior): string {
  if ('toolCall' in b) return 'tool_use';
  return 'finish' in b && b.finish === 'length' ? 'max_tokens' : 'end_turn';
}

/** A Messages API message object (whole answer, or the start of a stream with `stop` null). */
function message(model: string, content: unknown[], stop: string | null, usage: object) {
  return {
    id: ID,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage,
  };
}

function messageStart(model: string, inputTokens: number): string {
  const usage = { input_tokens: inputTokens, output_tokens: 1 };
  return event('message_start', { type: 'message_start', message: message(model, [], null, usage) });
}

/** The events after the last content: the block's stop, then the stop reason. */
function messageEnd(stop: string, outputTokens: number): string[] {
  return [
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    }),
    event('message_stop', { type: 'message_stop' }),
  ];
}

/** The behaviour's tool call as a `tool_use` block (a stream starts it with an empty `input`). */
function toolUse(b: { toolCall: { id?: string | undefined; name: string } }, input: unknown) {
  return { type: 'tool_use', id: b.toolCall.id ?? 'toolu_mock1', name: b.toolCall.name, input };
}

function block(content_block: unknown): string {
  return event('content_block_start', { type: 'content_block_start', index: 0, content_block });
}

function delta(d: unknown): string {
  return event('content_block_delta', { type: 'content_block_delta', index: 0, delta: d });
}

const IN_BAND = {
  'rate-limit': {
    type: 'rate_limit_error',
    message: 'Number of request tokens has exceeded your rate limit.',
  },
  server: { type: 'overloaded_error', message: 'Overloaded' },
  auth: { type: 'authentication_error', message: 'invalid x-api-key' },
  invalid: { type: 'invalid_request_error', message: 'messages: at least one message is required' },
} as const;

// The error type Anthropic sends with each HTTP status (its errors page); any other status is an api_error.
const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

/** Anthropic Messages API wire format (`/v1/messages` JSON and named-event SSE, `/v1/models`). */
export const anthropicCodec: MockCodec = {
  basePath: '/v1',
  route(method, path, body) {
    const p = path.split('?')[0];
    const b = (body ?? {}) as { model?: string; stream?: boolean };
    if (method === 'GET' && p === '/models') return { op: 'models' };
    if (method === 'POST' && p === '/messages')
      return { op: b.stream ? 'stream' : 'chat', model: String(b.model) };
    return null;
  },
  chat(b, model) {
    const content =
      'toolCall' in b ? [toolUse(b, toolArgs(b))] : [{ type: 'text', text: 'reply' in b ? b.reply : '' }];
    return message(model, content, stopReason(b), usageOf(b));
  },
  stream(b, model) {
    const usage = usageOf(b);
    // As on the wire: message_start, the first content_block_start, then a ping.
    const prelude = [
      messageStart(model, usage.input_tokens),
      block('toolCall' in b ? toolUse(b, {}) : { type: 'text', text: '' }),
      event('ping', { type: 'ping' }),
    ];
    const content =
      'toolCall' in b
        ? splitReply(b.toolCall.arguments, 3).map((partial_json) =>
            delta({ type: 'input_json_delta', partial_json }),
          )
        : replyPieces(b).map((text) => delta({ type: 'text_delta', text }));
    return {
      contentType: 'text/event-stream',
      prelude,
      content,
      end: messageEnd(stopReason(b), usage.output_tokens),
    };
  },
  embed() {
    // The Messages API has no embeddings endpoint; `route` never sends one here.
    return { type: 'error', error: { type: 'not_found_error', message: 'Not found' } };
  },
  models(names) {
    return {
      data: names.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-02-19T00:00:00Z' })),
      has_more: false,
      first_id: names[0] ?? null,
      last_id: names.at(-1) ?? null,
    };
  },
  inBandError(kind, streaming) {
    const payload = { type: 'error', error: IN_BAND[kind] };
    return streaming ? event('error', payload) : JSON.stringify(payload);
  },
  errorBody(status, message) {
    return JSON.stringify({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } });
  },
  blocked(streaming) {
    // Claude's safety classifier ends the turn with stop_reason "refusal" inside a 200.
    const body = streaming
      ? // No content block was opened, so none is stopped.
        [messageStart('claude', 5), ...messageEnd('refusal', 0).slice(1)].join('')
      : JSON.stringify(message('claude', [], 'refusal', { input_tokens: 5, output_tokens: 0 }));
    return { status: 200, contentType: streaming ? 'text/event-stream' : 'application/json', body };
  },
};
