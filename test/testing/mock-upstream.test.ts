// startMockUpstream's own contract, read off the wire with plain fetch (docs/testing.md "startMockUpstream").
import { afterEach, describe, expect, it } from 'vitest';
import { type MockBehavior, type MockUpstream, startMockUpstream } from '../../src/testing/index.js';

const open: MockUpstream[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((u) => u.close()));
});

async function up(protocol: 'openai' | 'ollama' | 'google' | 'anthropic', b?: MockBehavior) {
  const u = await startMockUpstream(protocol, b);
  open.push(u);
  return u;
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', body: JSON.stringify(body) });

describe('startMockUpstream', () => {
  it('records a request without a body as undefined, a JSON body parsed', async () => {
    const u = await up('openai');
    await (await fetch(`${u.url}/models`)).text();
    await (await post(`${u.url}/chat/completions`, { model: 'm' })).text();
    expect(u.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['GET', '/v1/models', undefined],
      ['POST', '/v1/chat/completions', { model: 'm' }],
    ]);
  });

  it('answers a path the protocol does not have with 404, and does not count it', async () => {
    const u = await up('openai');
    const res = await post(`${u.url}/completions`, { model: 'm' });
    expect(res.status).toBe(404);
    await res.text();
    expect(u.count()).toBe(0);
    expect(u.requests).toHaveLength(1);
  });

  it('routes a path with a query string on every protocol, as the real APIs do', async () => {
    const o = await up('openai');
    const l = await up('ollama');
    const statuses = [
      (await fetch(`${o.url}/models?limit=5`)).status,
      (await post(`${o.url}/chat/completions?api-version=1`, { model: 'm' })).status,
      (await post(`${o.url}/embeddings?x=1`, { model: 'e', input: ['a'] })).status,
      (await fetch(`${l.url}/api/tags?x=1`)).status,
      (await post(`${l.url}/api/chat?x=1`, { model: 'm', stream: false })).status,
      (await post(`${l.url}/api/embed?x=1`, { model: 'e', input: ['a'] })).status,
    ];
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expect([o.count('models'), o.count('chat'), o.count('embed')]).toEqual([1, 1, 1]);
    expect([l.count('models'), l.count('chat'), l.count('embed')]).toEqual([1, 1, 1]);
  });

  it('the Anthropic stream opens like the real one: message_start, content_block_start, then ping', async () => {
    const u = await up('anthropic');
    u.enqueue({ reply: 'Hi' }, { toolCall: { name: 'f', arguments: '{"a":1}' } });
    for (const first of ['text', 'tool_use']) {
      const sse = await (await post(`${u.url}/messages`, { model: 'm', stream: true })).text();
      const events = [...sse.matchAll(/^event: (\w+)/gm)].map((m) => m[1]);
      expect(events.slice(0, 4)).toEqual([
        'message_start',
        'content_block_start',
        'ping',
        'content_block_delta',
      ]);
      expect(sse).toContain(`"content_block":{"type":"${first}"`);
    }
  });

  it('the default behaviour does not apply to the model list; a queued one does', async () => {
    const u = await up('openai', { status: 503 });
    const listed = await fetch(`${u.url}/models`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      'mock-model',
    ]);
    u.enqueue({ status: 500 });
    const failed = await fetch(`${u.url}/models`);
    expect(failed.status).toBe(500);
    await failed.text();
    expect(u.count('models')).toBe(2);
  });

  it('stallAfterHeaders sends the headers (the response opens), then no body', async () => {
    const u = await up('openai', { stallAfterHeaders: true });
    const ac = new AbortController();
    const res = await fetch(`${u.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm' }),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    ac.abort();
  });

  it('malformed: a 200 whose first payload is not JSON, streaming or not, on every protocol', async () => {
    const asks = {
      openai: ['/chat/completions', true],
      anthropic: ['/messages', true],
      ollama: ['/api/chat', undefined],
      google: ['/models/m:streamGenerateContent?alt=sse', true],
    } as const;
    for (const [protocol, [path, stream]] of Object.entries(asks)) {
      const u = await up(protocol as keyof typeof asks, { malformed: true });
      const res = await post(`${u.url}${path}`, { model: 'm', stream });
      expect(res.status).toBe(200);
      const first = (await res.text()).split('\n')[0]!.replace(/^data: /, '');
      expect(() => JSON.parse(first), protocol).toThrow();
    }
  });

  it('close() cuts a hanging request instead of waiting for it', async () => {
    const u = await startMockUpstream('openai', { hang: true });
    const pending = post(`${u.url}/chat/completions`, { model: 'm' }).then(
      () => 'answered',
      () => 'cut',
    );
    while (u.count() === 0) await new Promise((r) => setImmediate(r));
    await u.close();
    expect(await pending).toBe('cut');
  });

  it('a tool call with empty arguments sends an empty object where the protocol sends parsed arguments', async () => {
    const toolCall = { name: 'now', arguments: '' };
    const asks = {
      google: ['/models/m:generateContent', (j: any) => j.candidates[0].content.parts[0].functionCall.args],
      anthropic: ['/messages', (j: any) => j.content[0].input],
      ollama: ['/api/chat', (j: any) => j.message.tool_calls[0].function.arguments],
    } as const;
    for (const [protocol, [path, args]] of Object.entries(asks)) {
      const u = await up(protocol as keyof typeof asks, { toolCall });
      const res = await post(`${u.url}${path}`, { model: 'm', stream: false });
      expect(args(await res.json()), protocol).toEqual({});
    }
  });

  it('a chat answer names the model the request asked for', async () => {
    const u = await up('openai');
    const res = await post(`${u.url}/chat/completions`, { model: 'gpt-test' });
    expect(((await res.json()) as { model: string }).model).toBe('gpt-test');
  });

  it('an OpenAI stream ends with [DONE]; an OpenAI block is a 400 content_filter, as Azure sends it', async () => {
    const u = await up('openai');
    const body = await (await post(`${u.url}/chat/completions`, { model: 'm', stream: true })).text();
    expect(body.endsWith('\n\ndata: [DONE]\n\n')).toBe(true);
    u.enqueue({ blocked: true });
    const res = await post(`${u.url}/chat/completions`, { model: 'm', stream: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('content_filter');
  });

  it('Ollama streams unless told stream: false and keeps a tool call id; Gemini names its block and retry delay', async () => {
    const o = await up('ollama', { toolCall: { id: 'call_1', name: 'f', arguments: '{}' } });
    const lines = (await (await post(`${o.url}/api/chat`, { model: 'm' })).text()).trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(JSON.parse(lines[0]!).message.tool_calls[0].id).toBe('call_1');
    const g = await up('google', { blocked: true });
    const blocked = await (await post(`${g.url}/models/m:generateContent`, {})).json();
    expect((blocked as any).promptFeedback.blockReason).toBe('SAFETY');
    g.enqueue({ inBandError: 'rate-limit' });
    const limited = await (await post(`${g.url}/models/m:generateContent`, {})).json();
    expect((limited as any).error.details).toContainEqual(expect.objectContaining({ retryDelay: '12s' }));
  });
  it('a partial stream: streamThenEnd ends cleanly after n pieces, streamThenReset cuts the socket, inBandError frames its error', async () => {
    const u = await up('openai');
    const ask = () => post(`${u.url}/chat/completions`, { model: 'm', stream: true });
    const pieces = (sse: string) => [...sse.matchAll(/"content":"(x+)"/g)].length;
    u.enqueue({ streamThenEnd: 2 }, { streamThenReset: 2 }, { inBandError: 'server', after: 1 });
    const ended = await (await ask()).text();
    expect(pieces(ended)).toBe(2);
    expect(ended).not.toContain('[DONE]');
    expect(ended).not.toContain('finish_reason":"stop');
    await expect((await ask()).text()).rejects.toThrow();
    const failed = await (await ask()).text();
    expect(failed).toMatch(/"content":"y+"[\s\S]*"error"/);
  });

  it('a raw status answer carries its headers; the request headers are recorded; slow streams byte by byte', async () => {
    const u = await up('openai');
    u.enqueue({ status: 429, headers: { 'retry-after': '5' } }, { slow: 'Hi there' });
    const limited = await fetch(`${u.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k' },
      body: '{"model":"m"}',
    });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '5']);
    await limited.text();
    expect(u.requests[0]?.headers.authorization).toBe('Bearer k');
    const slow = await (await post(`${u.url}/chat/completions`, { model: 'm', stream: true })).text();
    expect(slow).toContain('data: [DONE]');
    expect([...slow.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]).join('')).toBe('Hi there');
  });

  it('listens on the port given', async () => {
    const probe = await up('openai');
    const port = Number(new URL(probe.url).port);
    await probe.close();
    open.pop();
    const u = await startMockUpstream('ollama', undefined, { port });
    open.push(u);
    expect(u.url).toBe(`http://127.0.0.1:${port}`);
  });
});

describe('startMockUpstream with a hostile request', () => {
  it('answers a body it cannot read (wrong types, a bad model escape) with 400 instead of hanging the request', async () => {
    const g = await up('google');
    const o = await up('openai');
    const l = await up('ollama');
    const statuses = [
      (await post(`${g.url}/models/e:batchEmbedContents`, { requests: 5 })).status,
      (await post(`${g.url}/models/e:batchEmbedContents`, { requests: [null] })).status,
      (await post(`${g.url}/models/%E0:generateContent`, {})).status,
      (await post(`${o.url}/embeddings`, { model: 'e', input: [null] })).status,
      (await post(`${l.url}/api/embed`, { model: 'e', input: [null] })).status,
    ];
    expect(statuses).toEqual([400, 400, 400, 400, 400]);
    const ok = await post(`${o.url}/chat/completions`, { model: 'm' });
    expect(ok.status).toBe(200);
  });

  it('answers a body over 32 MiB with 413 without keeping it', async () => {
    const u = await up('openai');
    const res = await fetch(`${u.url}/chat/completions`, {
      method: 'POST',
      body: 'x'.repeat(32 * 1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(u.requests[0]?.body).toBeUndefined();
    expect(u.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/v1/chat/completions', undefined],
    ]);
    expect(u.count()).toBe(0);
  });

  it('reads a body of exactly 32 MiB whole', async () => {
    const u = await up('openai');
    const head = '{"model":"m","pad":"';
    const body = `${head}${'x'.repeat(32 * 1024 * 1024 - head.length - 2)}"}`;
    const res = await fetch(`${u.url}/chat/completions`, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(u.requests[0]?.body).toMatchObject({ model: 'm' });
  });
});

describe('startMockUpstream defaults', () => {
  it('streams a reply in 3 pieces by default, with 5 prompt and 7 completion tokens unless usage is given', async () => {
    const u = await up('openai', { reply: 'abcdef' });
    const body = { model: 'm', stream: true, stream_options: { include_usage: true } };
    const sse = await (await post(`${u.url}/chat/completions`, body)).text();
    expect([...sse.matchAll(/"content":"([^"]+)"/g)].map((m) => m[1])).toEqual(['ab', 'cd', 'ef']);
    expect(sse).toContain('"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}');
  });

  it('a raw status answer sends the content-type given in its headers (an HTML error page)', async () => {
    const u = await up('openai', {
      status: 502,
      body: '<html>bad gateway</html>',
      headers: { 'content-type': 'text/html' },
    });
    const res = await post(`${u.url}/chat/completions`, { model: 'm' });
    expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([
      502,
      'text/html',
      '<html>bad gateway</html>',
    ]);
  });
});

describe('startMockUpstream behaviours on the edges', () => {
  it('a malformed stream comes with the protocol stream content-type; an in-band error fails an embeddings call too', async () => {
    const o = await up('openai', { malformed: true });
    const l = await up('ollama', { malformed: true });
    const sse = await post(`${o.url}/chat/completions`, { model: 'm', stream: true });
    const nd = await post(`${l.url}/api/chat`, { model: 'm' });
    expect([sse.headers.get('content-type'), nd.headers.get('content-type')]).toEqual([
      'text/event-stream',
      'application/x-ndjson',
    ]);
    await Promise.all([sse.text(), nd.text()]);
    o.enqueue({ inBandError: 'rate-limit' });
    const embed = await post(`${o.url}/embeddings`, { model: 'e', input: ['a'] });
    expect((await embed.json()) as unknown).toEqual({
      error: expect.objectContaining({ type: 'rate_limit_error' }),
    });
  });

  it('embeddings are 4 long by default; an in-band stream error with no `after` comes before any content', async () => {
    const o = await up('openai');
    const embed = (await (await post(`${o.url}/embeddings`, { model: 'e', input: ['a'] })).json()) as {
      data: { embedding: number[] }[];
    };
    expect(embed.data[0]?.embedding).toHaveLength(4);
    o.enqueue({ inBandError: 'server' });
    const sse = await (await post(`${o.url}/chat/completions`, { model: 'm', stream: true })).text();
    expect(sse).not.toContain('"content":"y');
    expect(sse).toContain('"type":"server_error"');
  });

  it('a stream is sent with cache-control: no-cache and its protocol content-type', async () => {
    const asks = {
      openai: ['/chat/completions', 'text/event-stream'],
      anthropic: ['/messages', 'text/event-stream'],
      ollama: ['/api/chat', 'application/x-ndjson'],
      google: ['/models/m:streamGenerateContent?alt=sse', 'text/event-stream'],
    } as const;
    for (const [protocol, [path, type]] of Object.entries(asks)) {
      const u = await up(protocol as keyof typeof asks);
      const res = await post(`${u.url}${path}`, { model: 'm', stream: true });
      expect([res.headers.get('content-type'), res.headers.get('cache-control')], protocol).toEqual([
        type,
        'no-cache',
      ]);
      await res.text();
    }
  });
});

describe('startMockUpstream HTTP errors', () => {
  it("a raw status without a body, an unknown path and a hostile body are answered in the protocol's own error shape", async () => {
    const asks = {
      openai: [
        '/chat/completions',
        { error: { message: 'mock status 429', type: 'requests', param: null, code: null } },
      ],
      anthropic: [
        '/messages',
        { type: 'error', error: { type: 'rate_limit_error', message: 'mock status 429' } },
      ],
      ollama: ['/api/chat', { error: 'mock status 429' }],
      google: [
        '/models/m:generateContent',
        { error: { code: 429, message: 'mock status 429', status: 'RESOURCE_EXHAUSTED' } },
      ],
    } as const;
    for (const [protocol, [path, shape]] of Object.entries(asks)) {
      const u = await up(protocol as keyof typeof asks, { status: 429 });
      const res = await post(`${u.url}${path}`, { model: 'm' });
      expect([res.status, await res.json()], protocol).toEqual([429, shape]);
    }
    const a = await up('anthropic');
    const missing = await post(`${a.url}/complete`, {});
    expect([missing.status, await missing.json()]).toEqual([
      404,
      { type: 'error', error: { type: 'not_found_error', message: 'no such route' } },
    ]);
    const g = await up('google');
    const bad = (await (await post(`${g.url}/models/%E0:generateContent`, {})).json()) as any;
    expect([bad.error.code, bad.error.status]).toEqual([400, 'INVALID_ARGUMENT']);
  });

  it('an Anthropic 529 is an overloaded_error, a Gemini 503 UNAVAILABLE', async () => {
    const a = await up('anthropic', { status: 529 });
    const res = await post(`${a.url}/messages`, { model: 'm' });
    expect(((await res.json()) as any).error.type).toBe('overloaded_error');
    const g = await up('google', { status: 503 });
    expect(((await (await post(`${g.url}/models/m:generateContent`, {})).json()) as any).error.status).toBe(
      'UNAVAILABLE',
    );
  });
});

describe('startMockUpstream OpenAI wire shapes (as api.openai.com sends them)', () => {
  const frames = (sse: string) =>
    sse
      .split('\n\n')
      .filter((f) => f.startsWith('data: ') && f !== 'data: [DONE]')
      .map((f) => JSON.parse(f.slice(6)));

  it('a stream asking include_usage: role frame, content, finish frame (each with usage null), a usage frame with no choices, [DONE]; counted as stream', async () => {
    const u = await up('openai', { reply: 'Hi!', chunks: 2, usage: { prompt: 3, completion: 2 } });
    const body = { model: 'm', stream: true, stream_options: { include_usage: true } };
    const sse = await (await post(`${u.url}/chat/completions`, body)).text();
    const got = frames(sse).map((f) => [f.choices[0]?.delta, f.choices[0]?.finish_reason, f.usage]);
    expect(got).toEqual([
      [{ role: 'assistant', content: '' }, null, null],
      [{ content: 'Hi' }, null, null],
      [{ content: '!' }, null, null],
      [{}, 'stop', null],
      [undefined, undefined, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }],
    ]);
    expect(frames(sse).at(-1).choices).toEqual([]);
    expect(sse.endsWith('data: [DONE]\n\n')).toBe(true);
    expect([u.count('stream'), u.count('chat')]).toEqual([1, 0]);
  });

  it('a stream not asking include_usage (or asking false) has no usage frame and no usage field, as api.openai.com sends it', async () => {
    const u = await up('openai', { reply: 'Hi!', chunks: 2 });
    for (const extra of [{}, { stream_options: { include_usage: false } }, { stream_options: {} }]) {
      const sse = await (
        await post(`${u.url}/chat/completions`, { model: 'm', stream: true, ...extra })
      ).text();
      const got = frames(sse);
      expect(got.map((f) => f.choices[0]?.delta)).toEqual([
        { role: 'assistant', content: '' },
        { content: 'Hi' },
        { content: '!' },
        {},
      ]);
      for (const f of got) expect(f).not.toHaveProperty('usage');
      expect(sse.endsWith('data: [DONE]\n\n')).toBe(true);
    }
  });

  it('a partial stream asking include_usage carries usage null on the frames it sends', async () => {
    const u = await up('openai', { streamThenEnd: 2 });
    const body = { model: 'm', stream: true, stream_options: { include_usage: true } };
    const got = frames(await (await post(`${u.url}/chat/completions`, body)).text());
    expect(got.length).toBe(3);
    for (const f of got) expect(f.usage).toBeNull();
  });

  it('a tool call: content null and finish tool_calls, streamed or not', async () => {
    const u = await up('openai', { toolCall: { id: 'call_1', name: 'f', arguments: '{"a":1}' } });
    const chat = (await (await post(`${u.url}/chat/completions`, { model: 'm' })).json()) as any;
    expect(chat.choices[0]).toMatchObject({
      message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function' }] },
      finish_reason: 'tool_calls',
    });
    const sse = await (await post(`${u.url}/chat/completions`, { model: 'm', stream: true })).text();
    expect(
      frames(sse)
        .map((f) => f.choices[0]?.finish_reason)
        .filter(Boolean),
    ).toEqual(['tool_calls']);
  });

  it('embeddings: one vector per input of a list, derived from its text, and usage counting the inputs', async () => {
    const u = await up('openai');
    const res = (await (
      await post(`${u.url}/embeddings`, { model: 'e', input: ['a', 'b', 'a'] })
    ).json()) as any;
    const vectors = res.data.map((d: { embedding: number[] }) => d.embedding);
    expect(vectors).toHaveLength(3);
    expect(vectors[0]).toEqual(vectors[2]);
    expect(vectors[0]).not.toEqual(vectors[1]);
    expect(res.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
  });
});

describe('startMockUpstream Anthropic wire shapes (as api.anthropic.com sends them)', () => {
  const events = (sse: string) =>
    sse
      .split('\n\n')
      .filter(Boolean)
      .map((e) => {
        const [name, data] = e.split('\n');
        return [name?.slice(7), JSON.parse(data!.slice(6))] as const;
      });

  it('usage in message_start and message_delta, tool_use stop, error event, refusal on a block', async () => {
    const u = await up('anthropic', { reply: 'Hi', usage: { prompt: 12, completion: 30 } });
    const ask = async () =>
      events(await (await post(`${u.url}/messages`, { model: 'm', stream: true })).text());
    const text = await ask();
    expect(text[0]![1].message.usage).toEqual({ input_tokens: 12, output_tokens: 1 });
    expect(text.find(([n]) => n === 'message_delta')![1]).toMatchObject({
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 30 },
    });
    u.enqueue({ toolCall: { name: 'f', arguments: '{}' } }, { inBandError: 'server' }, { blocked: true });
    expect((await ask()).find(([n]) => n === 'message_delta')![1].delta.stop_reason).toBe('tool_use');
    expect((await ask()).at(-1)).toEqual([
      'error',
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ]);
    const blocked = await ask();
    expect(blocked.map(([n]) => n)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(blocked[1]![1].delta.stop_reason).toBe('refusal');
  });
});

describe('startMockUpstream Gemini and Ollama wire shapes', () => {
  it('Gemini frames end in CRLF CRLF and the last carries finishReason and the whole usage; a cut reply is MAX_TOKENS', async () => {
    const g = await up('google', { reply: 'Hi', finish: 'length', usage: { prompt: 4, completion: 6 } });
    const sse = await (await post(`${g.url}/models/m%2Fx:streamGenerateContent?alt=sse`, {})).text();
    expect(sse.endsWith('}\r\n\r\n')).toBe(true);
    const last = JSON.parse(sse.trim().split('\r\n\r\n').at(-1)!.slice(6));
    expect([
      last.candidates[0].finishReason,
      last.usageMetadata.candidatesTokenCount,
      last.usageMetadata.totalTokenCount,
    ]).toEqual(['MAX_TOKENS', 6, 10]);
    expect(g.requests[0]?.path).toContain('m%2Fx');
  });

  it('Ollama ends with done: true, done_reason, eval counts; its in-band 429 carries status', async () => {
    const l = await up('ollama', { reply: 'Hi', usage: { prompt: 4, completion: 6 } });
    const lines = (await (await post(`${l.url}/api/chat`, { model: 'm' })).text())
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x));
    expect(lines.at(-1)).toMatchObject({
      done: true,
      done_reason: 'stop',
      prompt_eval_count: 4,
      eval_count: 6,
    });
    expect(lines.slice(0, -1).every((x) => x.done === false)).toBe(true);
    l.enqueue({ inBandError: 'rate-limit' });
    const body = await (await post(`${l.url}/api/chat`, { model: 'm', stream: false })).json();
    expect(body).toEqual({ error: 'too many requests, please try again later', status: 429 });
  });
});

describe('startMockUpstream Ollama routes and frames', () => {
  it('routes only GET /api/tags and POST /api/chat, /api/embed: another method is a 404, not counted', async () => {
    const l = await up('ollama');
    const statuses = [
      (await fetch(`${l.url}/api/tags`, { method: 'POST', body: '{}' })).status,
      (await fetch(`${l.url}/api/chat`)).status,
      (await fetch(`${l.url}/api/embed`, { method: 'PUT', body: '{"model":"m","input":"a"}' })).status,
    ];
    expect(statuses).toEqual([404, 404, 404]);
    expect(l.count()).toBe(0);
  });

  it('every NDJSON line ends in a newline, the in-band error line too; a block is a 400 content_filter', async () => {
    const l = await up('ollama');
    l.enqueue({ reply: 'Hi' }, { inBandError: 'server', after: 1 }, { blocked: true });
    expect(await (await post(`${l.url}/api/chat`, { model: 'm' })).text()).toMatch(/^(\{[^\n]*\}\n)+$/);
    const failed = await (await post(`${l.url}/api/chat`, { model: 'm' })).text();
    expect(failed).toMatch(/^(\{[^\n]*\}\n){2}$/);
    expect(JSON.parse(failed.split('\n')[1]!)).toEqual({
      error: 'server busy, please try again.  maximum pending requests exceeded',
      status: 503,
    });
    const blocked = await post(`${l.url}/api/chat`, { model: 'm' });
    expect(blocked.status).toBe(400);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('content_filter');
  });
});

describe('startMockUpstream scripting order and slow delivery', () => {
  it('enqueued behaviours are used in the order given, across calls, before the default; the default then repeats', async () => {
    const u = await up('openai');
    u.setDefault({ reply: 'D' });
    u.enqueue({ reply: 'A' });
    u.enqueue({ reply: 'B' }, { reply: 'C' });
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(`${u.url}/chat/completions`, { model: 'm' });
      replies.push(
        ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content,
      );
    }
    expect(replies).toEqual(['A', 'B', 'C', 'D', 'D']);
  });

  it('slow delivers a chat answer and a stream in many small pieces, not one write', async () => {
    const u = await up('openai', { slow: 'Hello there, slowly' });
    for (const stream of [false, true]) {
      const res = await post(`${u.url}/chat/completions`, { model: 'm', stream });
      const reader = res.body!.getReader();
      let reads = 0;
      let text = '';
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        reads += 1;
        text += Buffer.from(r.value).toString();
      }
      expect(text).toContain('Hello');
      expect(reads).toBeGreaterThan(1);
    }
  });
});

describe('startMockUpstream OpenAI error types', () => {
  it('a raw 500 is a server_error, a 429 a requests error, a 499 an invalid_request_error', async () => {
    const u = await up('openai');
    u.enqueue({ status: 500 }, { status: 429 }, { status: 499 });
    const types: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(`${u.url}/chat/completions`, { model: 'm' });
      types.push(((await res.json()) as { error: { type: string } }).error.type);
    }
    expect(types).toEqual(['server_error', 'requests', 'invalid_request_error']);
  });
});

describe('startMockUpstream Anthropic error types and routes', () => {
  it('each raw status gets the error type Anthropic sends with it; other statuses are api_error', async () => {
    const a = await up('anthropic');
    const statuses = [400, 401, 403, 404, 413, 429, 500, 529];
    a.enqueue(...statuses.map((status) => ({ status })));
    const types: string[] = [];
    for (const _ of statuses) {
      const res = await post(`${a.url}/messages`, { model: 'm' });
      types.push(((await res.json()) as { error: { type: string } }).error.type);
    }
    expect(types).toEqual([
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
      'rate_limit_error',
      'api_error',
      'overloaded_error',
    ]);
  });

  it('the model list is GET only: a POST to /v1/models is a 404', async () => {
    const a = await up('anthropic');
    expect((await post(`${a.url}/models`, {})).status).toBe(404);
    expect(a.count()).toBe(0);
  });
});

describe('startMockUpstream Gemini error statuses and routes', () => {
  it('each raw status gets the google.rpc name Gemini sends with it; other statuses are UNKNOWN', async () => {
    const g = await up('google');
    const statuses = [400, 401, 403, 404, 409, 429, 500, 501, 503, 504, 418];
    g.enqueue(...statuses.map((status) => ({ status })));
    const names: string[] = [];
    for (const _ of statuses) {
      const res = await post(`${g.url}/models/m:generateContent`, {});
      names.push(((await res.json()) as { error: { status: string } }).error.status);
    }
    expect(names).toEqual([
      'INVALID_ARGUMENT',
      'UNAUTHENTICATED',
      'PERMISSION_DENIED',
      'NOT_FOUND',
      'ABORTED',
      'RESOURCE_EXHAUSTED',
      'INTERNAL',
      'UNIMPLEMENTED',
      'UNAVAILABLE',
      'DEADLINE_EXCEEDED',
      'UNKNOWN',
    ]);
  });

  it('the model list is GET only and generateContent POST only: another method is a 404', async () => {
    const g = await up('google');
    expect((await post(`${g.url}/models`, {})).status).toBe(404);
    expect((await fetch(`${g.url}/models/m:generateContent`)).status).toBe(404);
    expect(g.count()).toBe(0);
  });
});
