import { afterEach, describe, expect, it } from 'vitest';
import { collect, testImages } from '../../test/helpers/adapter-kit.js';
import { closeAll } from '../../test/helpers/client.js';
import { rawUpstream } from '../../test/helpers/raw-upstream.js';
import { systemClock } from '../clock.js';
import { ProviderBlockedError } from '../errors.js';
import { createHttp, type Http } from '../wire/http.js';
import type { AdapterChatRequest } from './adapter.js';
import { createAnthropicAdapter } from './anthropic.js';

// What the live Messages API sends that our own codec did not (found by the wire transcripts).

let http: Http | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  await closeAll();
});

const req: AdapterChatRequest = { model: 'claude', messages: [{ role: 'user', content: 'Hi' }] };
const ctx = () => ({ signal: new AbortController().signal });
const ev = (data: { type: string; [k: string]: unknown }) =>
  `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

async function over(body: string, opts: { holdOpen?: boolean } = {}) {
  const up = await rawUpstream((_req, res) => {
    res.writeHead(200, {
      'content-type': body.startsWith('event:') ? 'text/event-stream' : 'application/json',
    });
    if (opts.holdOpen) res.write(body);
    else res.end(body);
  });
  http = createHttp({ connectMs: 2000 });
  return createAnthropicAdapter({
    config: { id: 'a', baseUrl: up.url, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

const start = (usage: object) => ev({ type: 'message_start', message: { id: 'msg_1', content: [], usage } });
const text = (t: string) =>
  ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
  ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } }) +
  ev({ type: 'content_block_stop', index: 0 });
const end = (stop: string, usage: object) =>
  ev({ type: 'message_delta', delta: { stop_reason: stop }, usage }) + ev({ type: 'message_stop' });

describe('prompt cache usage', () => {
  const usage = {
    input_tokens: 3,
    cache_read_input_tokens: 1111,
    cache_creation_input_tokens: 20,
    output_tokens: 9,
  };

  it('chat: prompt_tokens counts cached tokens; cached_tokens says how many were read', async () => {
    const adapter = await over(
      JSON.stringify({
        id: 'msg_1',
        type: 'message',
        content: [{ type: 'text', text: 'ok' }],
        stop_reason: 'end_turn',
        usage,
      }),
    );
    const res = await adapter.chat(req, ctx());
    expect(res.usage).toEqual({
      prompt_tokens: 1134,
      completion_tokens: 9,
      total_tokens: 1143,
      prompt_tokens_details: { cached_tokens: 1111 },
    });
  });

  it('stream: the final message_delta counts win over message_start', async () => {
    const adapter = await over(
      start({ input_tokens: 6, cache_read_input_tokens: 0, output_tokens: 1 }) +
        text('ok') +
        end('end_turn', {
          input_tokens: 6,
          cache_creation_input_tokens: 3337,
          cache_read_input_tokens: 6289,
          output_tokens: 198,
        }),
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.at(-1)?.usage).toEqual({
      prompt_tokens: 9632,
      completion_tokens: 198,
      total_tokens: 9830,
      prompt_tokens_details: { cached_tokens: 6289 },
    });
  });

  it('without cache fields the usage has no details', async () => {
    const adapter = await over(
      start({ input_tokens: 5, output_tokens: 1 }) + text('ok') + end('end_turn', { output_tokens: 2 }),
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });
});

describe('tool calls', () => {
  it('a streamed call without input has arguments "{}", as chat() gives', async () => {
    const tool = { type: 'tool_use', id: 'toolu_1', name: 'update', input: {} };
    const adapter = await over(
      start({ input_tokens: 5, output_tokens: 1 }) +
        ev({ type: 'content_block_start', index: 0, content_block: tool }) +
        ev({
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'input_json_delta', partial_json: '' },
        }) +
        ev({ type: 'content_block_stop', index: 0 }) +
        end('tool_use', { output_tokens: 2 }),
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((t) => t.function?.arguments ?? '');
    expect(args.join('')).toBe('{}');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('a streamed call with input streams it once, unchanged', async () => {
    const tool = { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} };
    const adapter = await over(
      start({ input_tokens: 5, output_tokens: 1 }) +
        ev({ type: 'content_block_start', index: 1, content_block: tool }) +
        ev({
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: '{"city":' },
        }) +
        ev({
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: '"Oslo"}' },
        }) +
        ev({ type: 'content_block_stop', index: 1 }) +
        end('tool_use', { output_tokens: 2 }),
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .map((t) => t.function?.arguments ?? '');
    expect(args.join('')).toBe('{"city":"Oslo"}');
  });
});

describe('end marker', () => {
  it('a stream ends at message_stop while the body stays open', async () => {
    const adapter = await over(
      start({ input_tokens: 5, output_tokens: 1 }) + text('ok') + end('end_turn', { output_tokens: 2 }),
      {
        holdOpen: true,
      },
    );
    const chunks = await collect(adapter.stream(req, ctx()));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('message_delta', () => {
  it('a later message_delta without stop_reason keeps the earlier one (frames read by their data type)', async () => {
    const body = [
      start({ input_tokens: 1, output_tokens: 0 }) + text('cut'),
      ev({ type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 1 } }),
      ev({ type: 'message_delta', delta: { stop_reason: null }, usage: { output_tokens: 2 } }),
      ev({ type: 'message_stop' }),
    ]
      .join('')
      .split(/(?<=\n\n)/)
      // every frame named `message` by its event line: the data's type decides
      .map((f) => f.replace(/^event: \w+/, 'event: message'))
      .join('');
    const chunks = await collect((await over(body)).stream(req, ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('cut');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(2);
  });

  it('a refusal is reported at its message_delta, even when message_stop never comes', async () => {
    const body = `${start({ input_tokens: 1, output_tokens: 0 })}${text('I')}${ev({
      type: 'message_delta',
      delta: { stop_reason: 'refusal' },
      usage: { output_tokens: 1 },
    })}`;
    const err = await collect((await over(body)).stream(req, ctx())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderBlockedError);
  });
});
