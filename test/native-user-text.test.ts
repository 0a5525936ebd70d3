import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness } from './helpers/client.js';

afterEach(closeAll);

/** The JSON body the one upstream `p` (of `protocol`) received for a user message of `content`. */
async function sent(protocol: 'anthropic' | 'google', content: string) {
  const h = await harness({ upstreams: { p: protocol } });
  await h.llm.chat({ model: 'p/m', messages: [{ role: 'user', content }] });
  return h.up.p?.requests[0]?.body as Record<string, unknown>;
}

describe('a user message given as a string goes to the native APIs as it is', () => {
  it('Anthropic: one text block with the text untouched (spaces and newlines kept)', async () => {
    const body = await sent('anthropic', '  Hi,\n there \n');
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: '  Hi,\n there \n' }] }]);
  });

  it('Gemini: one text part with the text untouched (spaces and newlines kept)', async () => {
    const body = await sent('google', '  Hi,\n there \n');
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: '  Hi,\n there \n' }] }]);
  });
});
