import { afterEach, describe, expect, it } from 'vitest';
import { type ChatChunk, StreamInterruptedError } from '../src/index.js';
import { closeAll, harness, KEY, rejection, USER } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

// OpenAI streams a refusal in delta.refusal with content null (structured outputs).
const frame = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'x', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const REFUSAL = [
  frame({ role: 'assistant', content: null, refusal: '' }),
  frame({ refusal: "I'm sorry," }),
  frame({ refusal: " I can't." }),
];

async function over(body: string, reset = false) {
  const raw = await rawUpstream((_b, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (reset) {
      res.write(body);
      setTimeout(() => res.destroy(), 20);
    } else res.end(body);
  });
  const h = await harness({
    upstreams: {},
    providers: {
      a: { type: 'openai', baseUrl: raw.url, apiKey: KEY },
      b: { type: 'openai', baseUrl: raw.url, apiKey: KEY },
    },
    aliases: { 'mana/x': ['a/m', 'b/m'] },
  });
  return { ...h, raw };
}

describe('a streamed refusal is content', () => {
  it('reaches the caller and commits the stream: no fallback to the next entry', async () => {
    const { llm, raw } = await over([...REFUSAL, frame({}, 'stop'), 'data: [DONE]\n\n'].join(''));
    const chunks: ChatChunk[] = [];
    for await (const c of llm.stream({ model: 'mana/x', messages: USER })) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.refusal ?? '').join('')).toBe("I'm sorry, I can't.");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(raw.received).toBe(1);
  });

  it('is in the partial answer when the stream breaks after it', async () => {
    const { llm } = await over(REFUSAL.join(''), true);
    const err = await rejection(
      (async () => {
        for await (const _c of llm.stream({ model: 'mana/x', messages: USER }));
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect((err as StreamInterruptedError).partial).toMatchObject({
      content: '',
      refusal: "I'm sorry, I can't.",
    });
  });
});

describe('streamed reasoning is content too', () => {
  it('commits the stream: a break after it is the caller’s StreamInterruptedError, no fallback', async () => {
    const reasoning = [frame({ role: 'assistant', content: null }), frame({ reasoning_content: 'think' })];
    const { llm, raw } = await over(reasoning.join(''), true);
    const chunks: ChatChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of llm.stream({ model: 'mana/x', messages: USER })) chunks.push(c);
      })(),
    );
    expect(err).toBeInstanceOf(StreamInterruptedError);
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')).toBe('think');
    expect(raw.received).toBe(1);
  });
});
