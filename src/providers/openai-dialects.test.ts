import { afterEach, describe, expect, it } from 'vitest';
import { collect, rejection, testImages } from '../../test/helpers/adapter-kit.js';
import { closeAll } from '../../test/helpers/client.js';
import { rawUpstream } from '../../test/helpers/raw-upstream.js';
import { systemClock } from '../clock.js';
import { ProviderHTTPError } from '../errors.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest } from './adapter.js';
import { createOpenAIAdapter } from './openai.js';

// What real OpenAI-compatible servers send that our own codec does not (found by the wire transcripts).

let http: Http | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  await closeAll();
});

const req: AdapterChatRequest = { model: 'm', messages: [{ role: 'user', content: 'Hi' }] };
const ctx = () => ({ signal: new AbortController().signal });
const frame = (choice: object, more: object = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'x', choices: [{ index: 0, ...choice }], ...more })}\n\n`;

/** An adapter over an upstream answering every request with `body` (SSE when it starts with `data:`). */
async function over(body: string, opts: { holdOpen?: boolean } = {}) {
  const up = await rawUpstream((_req, res) => {
    res.writeHead(200, {
      'content-type': body.startsWith('data:') ? 'text/event-stream' : 'application/json',
    });
    if (opts.holdOpen) res.write(body);
    else res.end(body);
  });
  http = createHttp({ connectMs: 2000 });
  return createOpenAIAdapter({
    config: { id: 'p', baseUrl: up.url, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

describe('refusals', () => {
  it('a streamed refusal (delta.refusal, content null) passes through', async () => {
    const adapter = await over(
      frame({ delta: { role: 'assistant', content: null, refusal: '' }, finish_reason: null }) +
        frame({ delta: { refusal: "I can't" }, finish_reason: null }) +
        frame({ delta: { refusal: ' help.' }, finish_reason: null }) +
        frame({ delta: {}, finish_reason: 'stop' }) +
        'data: [DONE]\n\n',
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.refusal ?? '').join('')).toBe("I can't help.");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('Azure', () => {
  it('a choice without a delta after the finish reason (content-filter offsets) is dropped, not an error', async () => {
    const adapter = await over(
      frame({ delta: { content: 'Done.' }, finish_reason: null }) +
        frame({ delta: {}, finish_reason: 'stop' }) +
        frame({
          content_filter_offsets: { check_offset: 0, start_offset: 0, end_offset: 5 },
          finish_reason: null,
        }) +
        'data: [DONE]\n\n',
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Done.');
    expect(chunks.every((c) => c.choices.every((ch) => typeof ch.delta === 'object'))).toBe(true);
  });

  it('a choice without a delta before any finish reason is still a malformed frame', async () => {
    const adapter = await over(frame({ finish_reason: null }) + frame({ delta: {}, finish_reason: 'stop' }));
    expect((await rejection(collect(adapter.stream(req, ctx())))).name).toBe('ProviderResponseError');
  });
});

describe('Mistral content parts', () => {
  const thinking = (text: string) => ({ type: 'thinking', thinking: [{ type: 'text', text }] });

  it('streamed: text parts become content, thinking parts reasoning_content', async () => {
    const adapter = await over(
      frame({ delta: { role: 'assistant', content: [thinking('2+2')] }, finish_reason: null }) +
        frame({ delta: { content: [{ type: 'text', text: '4' }] }, finish_reason: null }) +
        frame({ delta: { content: '' }, finish_reason: 'stop' }),
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '', reasoning_content: '2+2' },
      { content: '4' },
      { content: '' },
    ]);
  });

  it('in a reply: the message content is a string', async () => {
    const adapter = await over(
      JSON.stringify({
        id: 'x',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: [thinking('hmm'), { type: 'text', text: 'Four.' }] },
            finish_reason: 'stop',
          },
        ],
      }),
    );
    const res = await adapter.chat(req, ctx());
    expect(res.choices[0]?.message).toEqual({
      role: 'assistant',
      content: 'Four.',
      reasoning_content: 'hmm',
    });
  });
});

describe('Groq', () => {
  it('a tool-only reply without content has content: null', async () => {
    const call = { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{}' } };
    const adapter = await over(
      JSON.stringify({
        id: 'x',
        choices: [
          { index: 0, message: { role: 'assistant', tool_calls: [call] }, finish_reason: 'tool_calls' },
        ],
      }),
    );
    const res = await adapter.chat(req, ctx());
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: null, tool_calls: [call] });
  });
});

describe('OpenRouter error frame after the finish reason', () => {
  const body = (errorFirst: boolean) => {
    const error = `data: ${JSON.stringify({ error: { code: 400, message: 'Token limit reached' }, choices: [] })}\n\n`;
    const finish = frame({ delta: {}, finish_reason: 'length' });
    const text = frame({ delta: { content: 'Hel' }, finish_reason: null });
    return `${text + (errorFirst ? error + finish : finish + error)}data: [DONE]\n\n`;
  };

  it('ends the stream at the finish reason: the answer was complete', async () => {
    const adapter = await over(body(false));
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, 'length']);
  });

  it('before any finish reason it is still the error it says', async () => {
    const adapter = await over(body(true));
    const err = await rejection(collect(adapter.stream(req, ctx())));
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect((err as ProviderHTTPError).status).toBe(400);
  });
});

describe('end marker', () => {
  it('a stream ends at [DONE] while the body stays open', async () => {
    const adapter = await over(
      `${frame({ delta: { content: 'a' }, finish_reason: 'stop' })}data: [DONE]\n\n`,
      {
        holdOpen: true,
      },
    );
    expect(await collect(adapter.stream(req, ctx()))).toHaveLength(1);
  });
});

describe('Gemini thought signatures in the history', () => {
  const call = {
    id: 'c1',
    type: 'function' as const,
    function: { name: 'weather', arguments: '{}' },
    extra_content: { google: { thought_signature: 'sig' } },
  };
  const history: AdapterChatRequest = {
    model: 'm',
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'c1', content: '{}' },
    ],
  };

  async function sent() {
    const bodies: { messages: { tool_calls?: object[] }[] }[] = [];
    const up = await rawUpstream((text, res) => {
      bodies.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'x',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        }),
      );
    });
    http = createHttp({ connectMs: 2000 });
    const adapter = createOpenAIAdapter({
      config: { id: 'p', baseUrl: up.url, headers: {} },
      http,
      clock: systemClock,
      images: testImages(),
    });
    await adapter.chat(history, ctx());
    return bodies[0]?.messages[1]?.tool_calls?.[0];
  }

  it('are not sent to other OpenAI-compatible servers (a strict one rejects an unknown field)', async () => {
    expect(await sent()).toEqual({
      id: 'c1',
      type: 'function',
      function: { name: 'weather', arguments: '{}' },
    });
    // the caller's request is left as it was
    expect(history.messages[1]).toMatchObject({ tool_calls: [call] });
  });
});
