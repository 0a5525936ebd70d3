import { afterEach, describe, expect, it } from 'vitest';
import { collect, testImages } from '../../test/helpers/adapter-kit.js';
import { closeAll } from '../../test/helpers/client.js';
import { rawUpstream } from '../../test/helpers/raw-upstream.js';
import { systemClock } from '../clock.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest } from './adapter.js';
import { createGoogleAdapter } from './google.js';

// What the live Gemini API sends that our own codec did not (found by the wire transcripts).

let http: Http | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  await closeAll();
});

const req: AdapterChatRequest = {
  model: 'gemini-3-pro',
  messages: [{ role: 'user', content: 'Weather in Oslo?' }],
};
const ctx = () => ({ signal: new AbortController().signal });

/** An adapter over an upstream answering `body` (a JSON reply, or SSE frames); records each request body. */
async function over(body: string, opts: { holdOpen?: boolean } = {}) {
  const bodies: unknown[] = [];
  const up = await rawUpstream((text, res) => {
    bodies.push(JSON.parse(text));
    res.writeHead(200, {
      'content-type': body.startsWith('data:') ? 'text/event-stream' : 'application/json',
    });
    if (opts.holdOpen) res.write(body);
    else res.end(body);
  });
  http = createHttp({ connectMs: 2000 });
  const adapter = createGoogleAdapter({
    config: { id: 'g', baseUrl: up.url, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
  return { adapter, bodies };
}

const SIGNATURE = 'CiQBjz1rX8sig==';
const callReply = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [{ functionCall: { name: 'weather', args: { city: 'Oslo' } }, thoughtSignature: SIGNATURE }],
      },
      finishReason: 'STOP',
    },
  ],
  usageMetadata: { promptTokenCount: 29, candidatesTokenCount: 10, totalTokenCount: 39 },
};

describe('thought signatures', () => {
  it('chat: the signature rides on the tool call as extra_content.google.thought_signature', async () => {
    const { adapter } = await over(JSON.stringify(callReply));
    const res = await adapter.chat(req, ctx());
    expect(res.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'weather', arguments: '{"city":"Oslo"}' },
      extra_content: { google: { thought_signature: SIGNATURE } },
    });
  });

  it('stream: the tool-call delta carries it too', async () => {
    const { adapter } = await over(`data: ${JSON.stringify(callReply)}\n\n`);
    const chunks = await collect(adapter.stream(req, ctx()));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]?.extra_content).toEqual({ google: { thought_signature: SIGNATURE } });
  });

  it('is sent back with the function call on the next turn', async () => {
    const { adapter, bodies } = await over(JSON.stringify(callReply));
    const first = await adapter.chat(req, ctx());
    const call = first.choices[0]?.message.tool_calls?.[0];
    if (!call) throw new Error('no tool call');
    await adapter.chat(
      {
        ...req,
        messages: [
          ...req.messages,
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call.id, content: '{"temp":3}' },
        ],
      },
      ctx(),
    );
    const contents = (bodies[1] as { contents: { role: string; parts: object[] }[] }).contents;
    expect(contents[1]).toEqual({
      role: 'model',
      parts: [
        {
          functionCall: { id: call.id, name: 'weather', args: { city: 'Oslo' } },
          thoughtSignature: SIGNATURE,
        },
      ],
    });
  });

  it('a call without a signature has no extra_content', async () => {
    const plain = structuredClone(callReply);
    const part = plain.candidates[0]?.content.parts[0] as { thoughtSignature?: string };
    delete part.thoughtSignature;
    const { adapter } = await over(JSON.stringify(plain));
    const res = await adapter.chat(req, ctx());
    expect(res.choices[0]?.message.tool_calls?.[0]).not.toHaveProperty('extra_content');
  });
});

describe('function call ids', () => {
  it('Gemini’s ids are sent back on the call and on its answer, so parallel calls to one function stay matched', async () => {
    const reply = structuredClone(callReply);
    const call = (id: string, city: string) => ({ functionCall: { id, name: 'weather', args: { city } } });
    (reply.candidates[0] as { content: { parts: object[] } }).content.parts = [
      call('fc-1', 'Oslo'),
      call('fc-2', 'Lima'),
    ];
    const { adapter, bodies } = await over(JSON.stringify(reply));
    const calls = (await adapter.chat(req, ctx())).choices[0]?.message.tool_calls ?? [];
    await adapter.chat(
      {
        ...req,
        messages: [
          ...req.messages,
          { role: 'assistant', content: null, tool_calls: calls },
          { role: 'tool', tool_call_id: 'fc-2', content: '{"temp":20}' },
          { role: 'tool', tool_call_id: 'fc-1', content: '{"temp":3}' },
        ],
      },
      ctx(),
    );
    const contents = (bodies[1] as { contents: { parts: Record<string, { id?: string }>[] }[] }).contents;
    expect(contents[1]?.parts.map((p) => p.functionCall?.id)).toEqual(['fc-1', 'fc-2']);
    expect(contents[2]?.parts).toEqual([
      { functionResponse: { id: 'fc-2', name: 'weather', response: { temp: 20 } } },
      { functionResponse: { id: 'fc-1', name: 'weather', response: { temp: 3 } } },
    ]);
  });
});

describe('usage', () => {
  const reply = (usageMetadata: object) =>
    JSON.stringify({
      candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
      usageMetadata,
    });

  it('a built-in tool’s prompt counts as prompt tokens (prompt + completion = total)', async () => {
    const { adapter } = await over(
      reply({
        promptTokenCount: 23,
        toolUsePromptTokenCount: 289,
        candidatesTokenCount: 35,
        totalTokenCount: 347,
      }),
    );
    expect((await adapter.chat(req, ctx())).usage).toEqual({
      prompt_tokens: 312,
      completion_tokens: 35,
      total_tokens: 347,
    });
  });

  it('cachedContentTokenCount is reported as prompt_tokens_details.cached_tokens', async () => {
    const { adapter } = await over(
      reply({
        promptTokenCount: 1200,
        cachedContentTokenCount: 1000,
        candidatesTokenCount: 5,
        totalTokenCount: 1205,
      }),
    );
    expect((await adapter.chat(req, ctx())).usage).toEqual({
      prompt_tokens: 1200,
      completion_tokens: 5,
      total_tokens: 1205,
      prompt_tokens_details: { cached_tokens: 1000 },
    });
  });

  it('a bad cachedContentTokenCount is left out; a good totalTokenCount is the provider’s, even beyond the parts', async () => {
    const { adapter } = await over(
      reply({
        promptTokenCount: 10,
        cachedContentTokenCount: -3,
        candidatesTokenCount: 5,
        totalTokenCount: 20,
      }),
    );
    expect((await adapter.chat(req, ctx())).usage).toEqual({
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 20,
    });
  });
});

describe('end marker', () => {
  it('a stream ends at its finishReason while the body stays open', async () => {
    const frame = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
    };
    const { adapter } = await over(`data: ${JSON.stringify(frame)}\n\n`, { holdOpen: true });
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});
