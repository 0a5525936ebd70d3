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
