import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ManaLLMOptions,
  NoHealthyProviderError,
  ProviderResponseError,
  StreamInterruptedError,
} from '../../src/index.js';
import { closeAll, collect, harness, KEY, rejection, textOf, USER } from '../helpers/client.js';
import { rawUpstream } from '../helpers/raw-upstream.js';

// OpenAI-compatible stream bodies whose network reads fall where no other test puts them, over real local HTTP.

afterEach(closeAll);

/** Writes `pieces` one network read apart (each after the previous one is flushed, with a pause), then ends. */
function inReads(res: ServerResponse, contentType: string, pieces: string[]): void {
  res.writeHead(200, { 'content-type': contentType });
  res.flushHeaders();
  const next = (i: number) => {
    if (i === pieces.length) return void res.end();
    res.write(pieces[i], () => setTimeout(() => next(i + 1), 30));
  };
  next(0);
}

async function client(answer: (res: ServerResponse) => void, options: Partial<ManaLLMOptions> = {}) {
  const raw = await rawUpstream((_body, res) => answer(res));
  const { llm } = await harness({
    upstreams: {},
    providers: { a: { type: 'openai', baseUrl: raw.url, apiKey: KEY } },
    options,
  });
  return llm;
}

const frame = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
const unwrap = (err: unknown) => (err instanceof NoHealthyProviderError ? err.cause : err);

describe('a stream whose first read is only blank lines', () => {
  it('is an event stream, not taken for JSON: the answer streams', async () => {
    const llm = await client((res) =>
      inReads(res, 'text/event-stream', [
        '\n\n',
        frame({ choices: [{ index: 0, delta: { content: 'Hi' } }] }),
        `${frame({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}data: [DONE]\n\n`,
      ]),
    );
    expect(textOf(await collect(llm.stream({ model: 'a/m', messages: USER })))).toBe('Hi');
  });
});

describe('a stream request answered with JSON that comes in several reads', () => {
  it('the whole JSON is read before it is judged', async () => {
    const body = JSON.stringify({ id: 'x', object: 'chat.completion', choices: [] });
    const llm = await client((res) => inReads(res, 'application/json', [body.slice(0, 5), body.slice(5)]));
    const err = unwrap(await rejection(collect(llm.stream({ model: 'a/m', messages: USER }))));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain(
      'stream request answered with a JSON reply, not an event stream',
    );
  });

  it('JSON past limits.maxFrameBytes is refused by the cap', async () => {
    const body = JSON.stringify({ error: { message: 'x'.repeat(3000) } });
    const llm = await client((res) => inReads(res, 'application/json', [body.slice(0, 10), body.slice(10)]), {
      limits: { maxFrameBytes: 1024 },
    });
    const err = unwrap(await rejection(collect(llm.stream({ model: 'a/m', messages: USER }))));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxFrameBytes');
  });
});

describe('a choice without an index in a stream of several choices', () => {
  const start = frame({
    choices: [
      { index: 0, delta: { content: 'a' } },
      { index: 1, delta: { content: 'b' } },
    ],
  });
  const noIndexStops = frame({ choices: [{ delta: {}, finish_reason: 'stop' }] });

  it('counts as choice 0: once choice 1 finishes too, the stream is complete', async () => {
    const end = frame({ choices: [{ index: 1, delta: {}, finish_reason: 'stop' }] });
    const llm = await client((res) => inReads(res, 'text/event-stream', [start + noIndexStops + end]));
    const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
    expect(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual([
      'stop',
      'stop',
    ]);
  });

  it('counts as choice 0 only: choice 1 never finishing is a truncated stream', async () => {
    const llm = await client((res) => inReads(res, 'text/event-stream', [start + noIndexStops]));
    // The text was already given out: the truncation ends the committed stream.
    expect(await rejection(collect(llm.stream({ model: 'a/m', messages: USER })))).toBeInstanceOf(
      StreamInterruptedError,
    );
  });
});

describe('one read holding a frame past maxFrameBytes, then an error line and another long line', () => {
  it('the cap is what ends the stream: nothing after the first frame past it is read', async () => {
    const big = frame({ choices: [{ index: 0, delta: { content: 'x'.repeat(2000) } }] });
    const errorLine = `error: ${JSON.stringify({ error: { message: 'boom', type: 'server_error' } })}\n\n`;
    const llm = await client(
      (res) => inReads(res, 'text/event-stream', [`${big}${errorLine}data: ${'y'.repeat(3000)}`]),
      {
        limits: { maxFrameBytes: 1024 },
      },
    );
    const err = unwrap(await rejection(collect(llm.stream({ model: 'a/m', messages: USER }))));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxFrameBytes');
  });
});
