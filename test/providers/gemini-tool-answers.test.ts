import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness } from '../helpers/client.js';

afterEach(closeAll);

describe('Gemini: a tool result whose call is not in the conversation', () => {
  it("is sent with the call's id as its function name (Gemini needs a name; there is no other)", async () => {
    const { llm, up } = await harness({
      upstreams: { g: 'google' },
      aliases: { 'mana/g': ['g/gemini-2.5-flash'] },
    });
    await llm.chat({
      model: 'mana/g',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'tool', tool_call_id: 'call_lost', content: '{"temp":20}' },
      ],
    });
    const body = up.g?.requests[0]?.body as { contents: { parts: unknown[] }[] };
    expect(body.contents[1]?.parts).toEqual([
      { functionResponse: { id: 'call_lost', name: 'call_lost', response: { temp: 20 } } },
    ]);
  });
});
