import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness, USER } from './helpers/client.js';

// What the Anthropic and Gemini adapters send for an OpenAI-shaped request, read from the upstream over real local HTTP.

afterEach(closeAll);

/** The JSON body the one upstream `p` (of `protocol`) received for `request`. */
async function sent(protocol: 'anthropic' | 'google', request: Record<string, unknown>) {
  const h = await harness({ upstreams: { p: protocol } });
  await h.llm.chat({ model: 'p/m', messages: USER, ...request });
  return h.up.p?.requests[0]?.body as Record<string, unknown>;
}

describe('Anthropic', () => {
  it('user goes out as metadata.user_id', async () => {
    expect((await sent('anthropic', { user: 'u-42' })).metadata).toEqual({ user_id: 'u-42' });
  });
});

describe('Gemini', () => {
  it('a schema value that is data (default, enum, const) is sent as given, even with a key Gemini rejects in a schema', async () => {
    const schema = {
      type: 'object',
      properties: {
        opts: { type: 'object', default: { additionalProperties: 1, $id: 'kept' } },
        mode: { type: 'string', enum: ['$schema', 'additionalProperties'] },
      },
      additionalProperties: false,
    };
    const body = await sent('google', {
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema } },
    });
    expect((body.generationConfig as Record<string, unknown>).responseSchema).toEqual({
      type: 'object',
      properties: {
        opts: { type: 'object', default: { additionalProperties: 1, $id: 'kept' } },
        mode: { type: 'string', enum: ['$schema', 'additionalProperties'] },
      },
    });
  });
});
