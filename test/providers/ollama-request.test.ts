import { afterEach, describe, expect, it } from 'vitest';
import { type ChatMessage, ProviderResponseError } from '../../src/index.js';
import { closeAll, collect, consume, harness, rejection, textOf, USER, waitFor } from '../helpers/client.js';
import { answeringWith, rawUpstream } from '../helpers/raw-upstream.js';

// What the Ollama adapter sends to `/api/chat` for the caller's request, read off a real local mock upstream.

afterEach(closeAll);

/** The call fails (as every failed call does: after the stream began, or no provider left) for a malformed reply. */
async function malformed(p: Promise<unknown>): Promise<void> {
  expect(((await rejection(p)) as Error).cause).toBeInstanceOf(ProviderResponseError);
}

const weather = { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } };
const time = { type: 'function' as const, function: { name: 'time', parameters: { type: 'object' } } };

/** The body the Ollama upstream received for one chat call with `extra` request fields. */
async function sent(extra: Record<string, unknown>): Promise<Record<string, any>> {
  const { llm, up } = await harness({ upstreams: { o: 'ollama' } });
  await llm.chat({ model: 'o/m', messages: USER, ...extra });
  return up.o?.requests[0]?.body as Record<string, any>;
}

describe('Ollama request body', () => {
  it('history arguments of only whitespace are sent as an empty object, as empty ones are', async () => {
    const messages: ChatMessage[] = [
      ...USER,
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: ' \n ' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
    ];
    const body = await sent({ messages, tools: [weather] });
    expect(body.messages[1].tool_calls).toEqual([{ function: { name: 'weather', arguments: {} } }]);
  });

  it('a tool_choice naming no offered tool offers them all (Ollama has no tool_choice)', async () => {
    const body = await sent({
      tools: [weather, time],
      tool_choice: { type: 'function', function: { name: 'nope' } },
    });
    expect(body.tools.map((t: any) => t.function.name)).toEqual(['weather', 'time']);
  });

  it('json_schema without a schema asks for JSON, as json_object does', async () => {
    const body = await sent({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } });
    expect(body.format).toBe('json');
  });
});

describe('Ollama reply of the wrong shape', () => {
  const ndjson = (...lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  const head = { model: 'm', created_at: '2026-01-01T00:00:00Z' };

  it('a whole reply without one is malformed, even when it says done', async () => {
    const llm = await answeringWith('ollama', JSON.stringify({ ...head, done: true }), 'application/json');
    await malformed(llm.chat({ model: 'a/m', messages: USER }));
  });

  it('a stream line without one is malformed unless it is the done line', async () => {
    const hi = { ...head, message: { role: 'assistant', content: 'Hi' }, done: false };
    const ok = await answeringWith('ollama', ndjson(hi, { ...head, done: true }), 'application/x-ndjson');
    const chunks = await collect(ok.stream({ model: 'a/m', messages: USER }));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    const bad = ndjson(hi, { ...head, done: false }, { ...head, done: true });
    const llm = await answeringWith('ollama', bad, 'application/x-ndjson');
    await malformed(collect(llm.stream({ model: 'a/m', messages: USER })));
  });

  it('a thinking that is not a string is malformed, never handed out as reasoning', async () => {
    const reply = { ...head, message: { role: 'assistant', content: 'Hi', thinking: 5 }, done: true };
    const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
    await malformed(llm.chat({ model: 'a/m', messages: USER }));
  });

  it('a tool call whose function has no name is malformed', async () => {
    const call = { function: { arguments: { city: 'Paris' } } };
    const reply = { ...head, message: { role: 'assistant', content: '', tool_calls: [call] }, done: true };
    const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
    await malformed(llm.chat({ model: 'a/m', messages: USER }));
  });

  it('a stream text line with a raw control character is malformed JSON, as JSON.parse says', async () => {
    const hi = { ...head, message: { role: 'assistant', content: 'Hi' }, done: false };
    const raw = ndjson(
      hi,
      { ...hi, message: { role: 'assistant', content: 'a\u001fb' } },
      { ...head, done: true },
    );
    const llm = await answeringWith('ollama', raw.replace('\\u001f', '\u001f'), 'application/x-ndjson');
    await malformed(collect(llm.stream({ model: 'a/m', messages: USER })));
  });
});

it('Ollama: created is created_at in whole seconds, rounded down', async () => {
  const reply = {
    model: 'm',
    created_at: '2026-01-01T00:00:00.9Z',
    message: { role: 'assistant', content: 'Hi' },
    done: true,
  };
  const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
  expect((await llm.chat({ model: 'a/m', messages: USER })).created).toBe(1767225600);
});

it('Ollama: a stream whose model says nothing still opens with the assistant role', async () => {
  const done = {
    model: 'm',
    created_at: '2026-01-01T00:00:00Z',
    message: { role: 'assistant', content: '' },
    done: true,
  };
  const llm = await answeringWith('ollama', `${JSON.stringify(done)}\n`, 'application/x-ndjson');
  const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
  expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([{ role: 'assistant' }]);
});

it('Ollama: two tool calls in one stream line get indexes 0 and 1', async () => {
  const calls = ['a', 'b'].map((name) => ({ function: { name, arguments: {} } }));
  const head = { model: 'm', created_at: '2026-01-01T00:00:00Z' };
  const lines = [
    { ...head, message: { role: 'assistant', content: '', tool_calls: calls }, done: false },
    { ...head, message: { role: 'assistant', content: '' }, done: true },
  ];
  const body = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  const llm = await answeringWith('ollama', body, 'application/x-ndjson');
  const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
  const indexes = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.index);
  expect(indexes).toEqual([0, 1]);
});

it('Ollama: an embeddings reply is bounded by maxEmbeddingResponseBytes, not maxResponseBytes', async () => {
  const { llm } = await harness({
    upstreams: { o: 'ollama' },
    options: { limits: { maxResponseBytes: 64 } },
  });
  const res = await llm.embed({ model: 'o/m', input: ['a', 'b', 'c'] });
  expect(res.data).toHaveLength(3);
});

it('Ollama: stream chunks of a model that does not think carry no reasoning_content', async () => {
  const head = { model: 'm', created_at: '2026-01-01T00:00:00Z' };
  const lines = [
    { ...head, message: { role: 'assistant', content: 'Hi' }, done: false },
    {
      ...head,
      message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] },
    },
    { ...head, message: { role: 'assistant', content: '' }, done: true },
  ];
  const body = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  const llm = await answeringWith('ollama', body, 'application/x-ndjson');
  const chunks = await collect(llm.stream({ model: 'a/m', messages: USER }));
  expect(chunks.some((c) => 'reasoning_content' in (c.choices[0]?.delta ?? {}))).toBe(false);
});

const ollamaLines = (...lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
const at = { model: 'm', created_at: '2026-01-01T00:00:00Z' };
const said = (content: string, done = false) => ({ ...at, message: { role: 'assistant', content }, done });

it('Ollama: the done line ends a stream whose body the upstream keeps open, and the request is closed', async () => {
  const up = await rawUpstream((_, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(ollamaLines(said('Hi'), said('', true)));
  });
  const baseUrl = up.url.replace(/\/v1$/, '');
  const h = await harness({ upstreams: {}, providers: { a: { type: 'ollama', baseUrl } } });
  const chunks = await collect(h.llm.stream({ model: 'a/m', messages: USER }));
  expect(textOf(chunks)).toBe('Hi');
  await waitFor(() => up.closedByClient === 1, 'the held-open request closed');
});

it('Ollama: the text before an error line in the same read reaches the caller before the error', async () => {
  const body = ollamaLines(said('Hi'), said(' there'), { error: 'runner crashed' });
  const llm = await answeringWith('ollama', body, 'application/x-ndjson');
  const s = consume(llm.stream({ model: 'a/m', messages: USER }));
  await rejection(s.done);
  expect(textOf(s.chunks)).toBe('Hi there');
});

it('Ollama: embedding vectors of different lengths are a malformed reply', async () => {
  const reply = { model: 'm', embeddings: [[0.1, 0.2], [0.3]] };
  const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
  await malformed(llm.embed({ model: 'a/m', input: ['x', 'y'] }));
});

it('Ollama: an assistant turn with tool_calls: [] is sent without tool_calls', async () => {
  const messages: ChatMessage[] = [...USER, { role: 'assistant', content: 'Yes', tool_calls: [] }, ...USER];
  const body = await sent({ messages });
  expect(body.messages[1]).toEqual({ role: 'assistant', content: 'Yes' });
});

it('Ollama: a reply whose message is not an object is malformed, not an empty answer', async () => {
  const reply = { model: 'm', created_at: '2026-01-01T00:00:00Z', message: 'Hi', done: true };
  const llm = await answeringWith('ollama', JSON.stringify(reply), 'application/json');
  await malformed(llm.chat({ model: 'a/m', messages: USER }));
});
