import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness, USER } from './helpers/client.js';

// What the Anthropic and Gemini adapters send for an OpenAI-shaped request, read from the upstream over real local HTTP.

afterEach(closeAll);

/** The JSON body the one upstream `p` (of `protocol`) received for `request`. */
async function sent(protocol: 'anthropic' | 'google' | 'openai', request: Record<string, unknown>) {
  const h = await harness({ upstreams: { p: protocol } });
  await h.llm.chat({ model: 'p/m', messages: USER, ...request });
  return h.up.p?.requests[0]?.body as Record<string, unknown>;
}

describe('Anthropic', () => {
  it('user goes out as metadata.user_id', async () => {
    expect((await sent('anthropic', { user: 'u-42' })).metadata).toEqual({ user_id: 'u-42' });
  });

  it('a tool call id keeps the `-` Anthropic allows; only other characters become `_`, in the call and its result', async () => {
    const id = 'call-1.a';
    const body = await sent('anthropic', {
      messages: [
        ...USER,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: id, content: 'one' },
      ],
    });
    const blocks = (body.messages as { content: { id?: string; tool_use_id?: string }[] }[]).flatMap(
      (m) => m.content,
    );
    expect(blocks.slice(1).map((b) => b.id ?? b.tool_use_id)).toEqual(['call-1_a', 'call-1_a']);
  });
});

describe('Anthropic: an empty tool result', () => {
  it('goes out as tool_result content "" (the API refuses it empty only with is_error, which is never sent)', async () => {
    const call = { id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const body = await sent('anthropic', {
      messages: [
        ...USER,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '' },
      ],
    });
    expect((body.messages as { content: unknown[] }[])[2]?.content).toEqual([
      { type: 'tool_result', tool_use_id: 'toolu_1', content: '' },
    ]);
  });
});

describe('Anthropic: a tool call in the history with blank arguments', () => {
  it('goes out as input {} (whitespace-only arguments are no arguments)', async () => {
    const call = { id: 'toolu_1', type: 'function', function: { name: 'f', arguments: ' \n' } };
    const body = await sent('anthropic', {
      messages: [
        ...USER,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'ok' },
      ],
    });
    expect((body.messages as { content: unknown[] }[])[1]?.content).toEqual([
      { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
    ]);
  });
});

describe('Anthropic: system and developer messages (second pass)', () => {
  it('no system key without one, and no tools for an empty list', async () => {
    const body = await sent('anthropic', { tools: [] });
    expect('system' in body).toBe(false);
    expect('tools' in body).toBe(false);
  });

  it('several, wherever they stand, go to `system` in order, joined by a blank line; the turns keep theirs', async () => {
    const body = await sent('anthropic', {
      messages: [
        { role: 'user', content: 'a' },
        { role: 'system', content: 'S1' },
        { role: 'assistant', content: 'x' },
        { role: 'developer', content: [{ type: 'text', text: 'S2' }] },
        { role: 'user', content: 'b' },
      ],
    });
    expect(body.system).toBe('S1\n\nS2');
    expect((body.messages as { role: string }[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
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

describe('Gemini: what the API refuses empty is left out', () => {
  it('no systemInstruction without a system message, no tools for an empty list, no model turn without parts', async () => {
    const body = await sent('google', {
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'b' },
      ],
      tools: [],
    });
    expect(body.systemInstruction).toBeUndefined();
    expect(body.tools).toBeUndefined();
    expect((body.contents as { role: string }[]).map((c) => c.role)).toEqual(['user', 'user']);
  });

  it('a function with `parameters: {}` is declared without parameters (Gemini requires a schema type)', async () => {
    const body = await sent('google', {
      tools: [{ type: 'function', function: { name: 'now', parameters: {} } }],
    });
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: 'now' }] }]);
  });

  it('keys Gemini rejects are stripped inside schema lists (anyOf) too; `{ type: object }` alone is no parameters', async () => {
    const anyOf = [{ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }];
    const body = await sent('google', {
      tools: [
        {
          type: 'function',
          function: { name: 'f', parameters: { type: 'object', properties: { x: { anyOf } } } },
        },
        { type: 'function', function: { name: 'now', parameters: { type: 'object' } } },
      ],
    });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'f',
            parameters: {
              type: 'object',
              properties: { x: { anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }] } },
            },
          },
          { name: 'now' },
        ],
      },
    ]);
  });

  it('tool results after a later model turn start a new user turn, not join the earlier results', async () => {
    const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } });
    const body = await sent('google', {
      messages: [
        ...USER,
        { role: 'assistant', content: null, tool_calls: [call('c1')] },
        { role: 'tool', tool_call_id: 'c1', content: 'one' },
        { role: 'assistant', content: null, tool_calls: [call('c2')] },
        { role: 'tool', tool_call_id: 'c2', content: 'two' },
      ],
    });
    const contents = body.contents as { role: string; parts: unknown[] }[];
    expect(contents.map((c) => [c.role, c.parts.length])).toEqual([
      ['user', 1],
      ['model', 1],
      ['user', 1],
      ['model', 1],
      ['user', 1],
    ]);
  });

  it('an empty thought_signature is not sent: a Gemini 3 model gets the placeholder instead', async () => {
    const body = await sent('google', {
      model: 'p/gemini-3-pro-preview',
      messages: [
        ...USER,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'c1',
              type: 'function',
              function: { name: 'f', arguments: '{}' },
              extra_content: { google: { thought_signature: '' } },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'one' },
      ],
    });
    const model = (body.contents as { parts: { thoughtSignature?: string }[] }[])[1];
    expect(model?.parts[0]?.thoughtSignature).toBe('skip_thought_signature_validator');
  });
});

describe('OpenAI-compatible: an assistant turn with an empty tool_calls list', () => {
  it('goes out without the list (OpenAI answers 400 empty_array to it; old SDKs built it), the caller’s turn untouched', async () => {
    const turn = { role: 'assistant', content: 'Hello', tool_calls: [] };
    const messages = [...USER, turn, { role: 'user', content: 'again' }];
    const body = await sent('openai', { messages });
    expect((body.messages as object[])[1]).toEqual({ role: 'assistant', content: 'Hello' });
    expect(turn.tool_calls).toEqual([]);
  });
});

describe('an empty system message', () => {
  const empties = [
    { role: 'system', content: '' },
    { role: 'developer', content: [{ type: 'text', text: '' }] },
  ];

  it('is left out of Anthropic `system` (the API refuses an empty system text)', async () => {
    expect('system' in (await sent('anthropic', { messages: [...empties, ...USER] }))).toBe(false);
    const body = await sent('anthropic', {
      messages: [{ role: 'system', content: 'A' }, ...empties, ...USER],
    });
    expect(body.system).toBe('A');
  });

  it('is left out of Gemini `systemInstruction` (the API refuses a part without data)', async () => {
    expect('systemInstruction' in (await sent('google', { messages: [...empties, ...USER] }))).toBe(false);
    const body = await sent('google', { messages: [...empties, { role: 'system', content: 'A' }, ...USER] });
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'A' }] });
  });
});

describe('Gemini: a user turn whose text parts are all empty', () => {
  it('is left out (Gemini refuses a turn without parts), as the Anthropic adapter leaves it out', async () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: '' }] },
      { role: 'assistant', content: 'A' },
      ...USER,
    ];
    const body = await sent('google', { messages });
    expect(body.contents).toEqual([
      { role: 'model', parts: [{ text: 'A' }] },
      { role: 'user', parts: [{ text: (USER[0] as { content: string }).content }] },
    ]);
  });
});
