import { UnsupportedFunctionalityError } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { toChatCall } from './call-options.js';
import { toChatMessages } from './convert-prompt.js';

describe('AI SDK prompt to chat messages', () => {
  it('images as URLs or data URLs; other files are refused', () => {
    const [msg] = toChatMessages([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'file', mediaType: 'image/png', data: new URL('https://example.com/a.png') },
          { type: 'file', mediaType: 'image/png', data: new Uint8Array([1, 2, 3]) },
          { type: 'file', mediaType: 'image/*', data: 'AQID' },
        ],
      },
    ]);
    expect(msg).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AQID' } },
        { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AQID' } },
      ],
    });
    expect(() =>
      toChatMessages([
        { role: 'user', content: [{ type: 'file', mediaType: 'application/pdf', data: 'AA==' }] },
      ]),
    ).toThrow(UnsupportedFunctionalityError);
  });

  it('assistant tool calls (with their extra content) and every kind of tool output', () => {
    const messages = toChatMessages([
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'hmm' },
          {
            type: 'tool-call',
            toolCallId: 't1',
            toolName: 'f',
            input: { a: 1 },
            providerOptions: { mana: { extraContent: { google: { thought_signature: 'sig' } } } },
          },
        ],
      },
      {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: 't1',
            toolName: 'f',
            output: { type: 'json', value: { ok: true } },
          },
          {
            type: 'tool-result',
            toolCallId: 't2',
            toolName: 'f',
            output: { type: 'error-text', value: 'boom' },
          },
          { type: 'tool-result', toolCallId: 't3', toolName: 'f', output: { type: 'execution-denied' } },
          {
            type: 'tool-result',
            toolCallId: 't4',
            toolName: 'f',
            output: {
              type: 'content',
              value: [
                { type: 'text', text: 'a' },
                { type: 'text', text: 'b' },
              ],
            },
          },
        ],
      },
    ]);
    expect(messages).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 't1',
            type: 'function',
            function: { name: 'f', arguments: '{"a":1}' },
            extra_content: { google: { thought_signature: 'sig' } },
          },
        ],
      },
      { role: 'tool', tool_call_id: 't1', content: '{"ok":true}' },
      { role: 'tool', tool_call_id: 't2', content: 'boom' },
      { role: 'tool', tool_call_id: 't3', content: 'Tool execution denied.' },
      { role: 'tool', tool_call_id: 't4', content: 'ab' },
    ]);
  });

  it('call settings map to request fields; what cannot be sent is a warning', () => {
    const { request, options, warnings } = toChatCall('mana/x', {
      prompt: [{ role: 'system', content: 'Be brief.' }],
      maxOutputTokens: 10,
      temperature: 0.5,
      topP: 0.9,
      topK: 3,
      stopSequences: ['END'],
      seed: 7,
      responseFormat: { type: 'json' },
      tools: [{ type: 'provider', id: 'openai.web_search', name: 'web', args: {} }],
      toolChoice: { type: 'required' },
      headers: { 'user-agent': 'ai/6', 'x-extra': '1' },
      providerOptions: { mana: { timeoutMs: 500, cache: true } },
    });
    expect(request).toEqual({
      model: 'mana/x',
      messages: [{ role: 'system', content: 'Be brief.' }],
      max_tokens: 10,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      response_format: { type: 'json_object' },
    });
    expect(options).toEqual({ timeoutMs: 500, cache: true });
    expect(warnings.map((w) => (w.type === 'other' ? w.message : w.feature))).toEqual([
      'topK',
      'provider-defined tool openai.web_search',
      'headers',
    ]);
  });
});
