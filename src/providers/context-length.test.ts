import { describe, expect, it } from 'vitest';
import { saysContextLength } from './context-length.js';

// Error bodies as the services send them for a prompt longer than the model's window.
const TOO_LONG: [string, number, unknown][] = [
  [
    'OpenAI',
    400,
    {
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    },
  ],
  [
    'Groq',
    400,
    {
      error: {
        message: 'Please reduce the length of the messages or completion.',
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
      },
    },
  ],
  [
    'Anthropic',
    400,
    {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'prompt is too long: 208310 tokens > 200000 maximum' },
    },
  ],
  [
    'Gemini',
    400,
    {
      error: {
        code: 400,
        message: 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
        status: 'INVALID_ARGUMENT',
      },
    },
  ],
  [
    'vLLM',
    400,
    {
      object: 'error',
      message: "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
      type: 'BadRequestError',
      code: 400,
    },
  ],
  [
    'Mistral',
    400,
    {
      object: 'error',
      message:
        'Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length',
      type: 'invalid_request_error',
      code: null,
    },
  ],
  [
    'llama.cpp',
    400,
    {
      error: {
        code: 400,
        message: 'the request exceeds the available context size, try increasing it',
        type: 'exceed_context_size_error',
      },
    },
  ],
  [
    'xAI',
    400,
    {
      code: 'Client specified an invalid argument',
      error: "This model's maximum prompt length is 131072 but the request contains 136973 tokens.",
    },
  ],
  [
    'any server answering { error: "<text>" }',
    400,
    { error: 'prompt is too long: 9000 tokens > 8192 maximum' },
  ],
  [
    'Groq, one request over the tokens-per-minute limit',
    413,
    {
      error: {
        message:
          'Request too large for model `llama-3.3-70b-versatile` in organization `org_x` service tier `on_demand` on tokens per minute (TPM): Limit 12000, Requested 14137, please reduce your message size and try again.',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
    },
  ],
];

describe('saysContextLength', () => {
  it.each(TOO_LONG)('%s: a prompt too long for the window', (_n, status, json) => {
    expect(saysContextLength(status, json)).toBe(true);
  });

  it.each([
    [
      'another 400',
      400,
      { error: { message: 'temperature must be at most 2', type: 'invalid_request_error' } },
    ],
    ['the phrase in a 500', 500, { error: { message: 'prompt is too long' } }],
    ['the phrase in a 429', 429, { error: { message: 'maximum context length' } }],
    ['rate_limit_exceeded in a 400', 400, { error: { message: 'slow down', code: 'rate_limit_exceeded' } }],
    ['a bare string', 400, 'prompt is too long'],
    ['no body', 400, null],
  ])('%s is not', (_n, status, json) => {
    expect(saysContextLength(status, json)).toBe(false);
  });
});
