import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatChunk, toServerSentEvents } from '../src/index.js';
import { closeAll, harness, KEY, USER, waitFor } from './helpers/client.js';
import { hangingUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

async function frames(stream: AsyncIterable<ChatChunk>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of toServerSentEvents(stream)) out.push(f);
  return out;
}

function data(frame: string | undefined): unknown {
  expect(frame).toMatch(/^data: .*\n\n$/s);
  return JSON.parse(frame!.slice('data: '.length));
}

async function setup() {
  const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
  return { ...h, a: h.up.a! };
}

describe('toServerSentEvents', () => {
  it('frames every chunk as `data: <json>` and ends with [DONE]', async () => {
    const { llm, a } = await setup();
    a.setDefault({ reply: 'Hello there', chunks: 2 });
    const out = await frames(llm.stream({ model: 'mana/x', messages: USER }));
    expect(out.at(-1)).toBe('data: [DONE]\n\n');
    const chunks = out.slice(0, -1).map((f) => data(f) as ChatChunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'a/m1')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello there');
    expect(out.slice(0, -1).every((f) => !f.slice(6, -2).includes('\n'))).toBe(true);
  });

  it('turns an interruption after content into an error frame, then [DONE], without throwing', async () => {
    const { llm, a } = await setup();
    a.setDefault({ streamThenReset: 2 });
    const out = await frames(llm.stream({ model: 'mana/x', messages: USER }));
    expect(out.at(-1)).toBe('data: [DONE]\n\n');
    const error = data(out.at(-2)) as { error: { message: string; type: string } };
    expect(error).toEqual({
      error: { message: expect.stringContaining('a/m1'), type: 'stream_interrupted' },
    });
    const content = out.slice(0, -2).map((f) => (data(f) as ChatChunk).choices[0]?.delta.content ?? '');
    expect(content.join('')).toBe('x'.repeat(8));
  });

  it('reports a call that never started the same way', async () => {
    const { llm, a } = await setup();
    a.setDefault({ status: 503 });
    const out = await frames(llm.stream({ model: 'mana/x', messages: USER }));
    expect(out).toHaveLength(2);
    expect(data(out[0])).toEqual({ error: { message: expect.any(String), type: 'no_healthy_provider' } });
    expect(out[1]).toBe('data: [DONE]\n\n');
  });

  it('a relay that stops reading (browser gone) cancels the upstream request', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    for await (const frame of toServerSentEvents(llm.stream({ model: 'mana/x', messages: USER }))) {
      if (frame.includes('p0')) break;
    }
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('a relay gone before the first frame (return() before next()) cancels an opened stream at once', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const opened = await llm.openStream({ model: 'mana/x', messages: USER });
    // What Readable.from(…) does when the response is destroyed before it read anything.
    await toServerSentEvents(opened).return();
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('a relay destroyed with an error before the first frame (throw() before next()) cancels an opened stream', async () => {
    const hang = await hangingUpstream({ chunks: 2 });
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: hang.url, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m1'] },
    });
    const opened = await llm.openStream({ model: 'mana/x', messages: USER });
    // Readable.from(…).destroy(err) before anything was read calls the iterator's throw(err).
    const readable = Readable.from(toServerSentEvents(opened));
    readable.on('error', () => {});
    readable.destroy(new Error('client gone'));
    await waitFor(() => hang.closedByClient === 1, 'upstream socket closed');
  });

  it('frames a foreign error as internal_error with keys redacted', async () => {
    async function* broken(): AsyncGenerator<ChatChunk> {
      yield* [];
      throw new Error('socket died; Authorization: Bearer sk-test-SECRET-123456');
    }
    const out = await frames(broken());
    expect(out).toHaveLength(2);
    const frame = data(out[0]) as { error: { message: string; type: string } };
    expect(frame.error.type).toBe('internal_error');
    expect(frame.error.message).toContain('socket died');
    expect(frame.error.message).not.toContain('sk-test-SECRET-123456');
  });

  it('cuts a foreign error’s huge message (a caller’s own abort reason) to 500 characters on one line', async () => {
    async function* broken(): AsyncGenerator<ChatChunk> {
      yield* [];
      throw new Error(`first line\n${'word '.repeat(200_000)}`);
    }
    const [frame] = await frames(broken());
    const { message } = (data(frame) as { error: { message: string } }).error;
    expect(message.length).toBeLessThanOrEqual(501);
    expect(message).toMatch(/^first line (word ?)+…$/);
  });
});
