// startMockUpstream / startMockServer edges a test author meets: odd request bodies and methods, empty model lists,
// a custom codec without its own error body or throwing mid-answer, a client leaving a slow answer.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type MockBehavior,
  type MockCodec,
  type MockUpstream,
  openaiCodec,
  startMockServer,
  startMockUpstream,
} from '../../src/testing/index.js';

const open: MockUpstream[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((u) => u.close()));
});

async function up(protocol: 'openai' | 'ollama' | 'google' | 'anthropic', b?: MockBehavior) {
  const u = await startMockUpstream(protocol, b);
  open.push(u);
  return u;
}

describe('startMockUpstream edges', () => {
  it('records a body that is not JSON as its raw text', async () => {
    const u = await up('openai');
    const res = await fetch(`${u.url}/chat/completions`, { method: 'POST', body: 'not json' });
    await res.text();
    expect(u.requests[0]?.body).toBe('not json');
  });

  it('answers a GET to a POST-only OpenAI path with 404, uncounted', async () => {
    const u = await up('openai');
    const res = await fetch(`${u.url}/chat/completions`);
    expect(res.status).toBe(404);
    await res.text();
    expect(u.count()).toBe(0);
  });

  it('answers a path outside the protocol base path with 404, uncounted, even when its tail is a known route', async () => {
    const u = await up('openai');
    const res = await fetch(u.url.replace(/\/v1$/, '/v2/chat/completions'), {
      method: 'POST',
      body: JSON.stringify({ model: 'm' }),
    });
    expect(res.status).toBe(404);
    await res.text();
    expect(u.count()).toBe(0);
  });

  it('embeds a single string input as one vector (OpenAI), and no requests as none (Gemini)', async () => {
    const o = await up('openai', { dimensions: 3 });
    const one = (await (
      await fetch(`${o.url}/embeddings`, {
        method: 'POST',
        body: JSON.stringify({ model: 'e', input: 'hi' }),
      })
    ).json()) as { data: { embedding: number[] }[] };
    expect(one.data.map((d) => d.embedding.length)).toEqual([3]);
    const g = await up('google', { dimensions: 3 });
    const none = (await (
      await fetch(`${g.url}/models/e:batchEmbedContents`, { method: 'POST', body: '{}' })
    ).json()) as { embeddings: unknown[] };
    expect(none.embeddings).toEqual([]);
  });

  it('an empty Anthropic model list has null first_id and last_id', async () => {
    const u = await up('anthropic');
    u.enqueue({ models: [] });
    const body = await (await fetch(`${u.url}/models`)).json();
    expect(body).toMatchObject({ data: [], first_id: null, last_id: null });
  });

  it('a queued behaviour that is not a model list answers the model list with mock-model', async () => {
    const u = await up('openai');
    u.enqueue({ reply: 'x' });
    const body = (await (await fetch(`${u.url}/models`)).json()) as { data: { id: string }[] };
    expect(body.data.map((m) => m.id)).toEqual(['mock-model']);
  });

  it('a chat answer with no reply text (Gemini, Anthropic, Ollama) carries empty text', async () => {
    const g = await up('google', { dimensions: 2 });
    const gb = (await (
      await fetch(`${g.url}/models/m:generateContent`, { method: 'POST', body: '{}' })
    ).json()) as { candidates: { content: { parts: { text: string }[] } }[] };
    expect(gb.candidates[0]?.content.parts[0]?.text).toBe('');
    const a = await up('anthropic', { dimensions: 2 });
    const ab = (await (
      await fetch(`${a.url}/messages`, { method: 'POST', body: JSON.stringify({ model: 'm' }) })
    ).json()) as { content: { text: string }[] };
    expect(ab.content[0]?.text).toBe('');
    const l = await up('ollama', { dimensions: 2 });
    const lb = (await (
      await fetch(`${l.url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', stream: false }),
      })
    ).json()) as { message: { content: string } };
    expect(lb.message.content).toBe('');
  });

  it('an OpenAI chat answer with no reply text carries empty content; a Gemini embed request with no text embeds ""', async () => {
    const o = await up('openai', { dimensions: 2 });
    const ob = (await (
      await fetch(`${o.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm' }) })
    ).json()) as { choices: { message: { content: string } }[] };
    expect(ob.choices[0]?.message.content).toBe('');
    const g = await up('google', { dimensions: 3 });
    const requests = [{}, { content: { parts: [] } }, { content: { parts: [{ text: '' }] } }];
    const gb = (await (
      await fetch(`${g.url}/models/e:batchEmbedContents`, {
        method: 'POST',
        body: JSON.stringify({ requests }),
      })
    ).json()) as { embeddings: { values: number[] }[] };
    expect(gb.embeddings).toHaveLength(3);
    expect(new Set(gb.embeddings.map((e) => JSON.stringify(e.values))).size).toBe(1);
  });

  it('a custom codec that throws once the answer has started resets the connection instead of leaving it open', async () => {
    const codec: MockCodec = {
      ...openaiCodec,
      inBandError: (kind, streaming) => {
        if (streaming) throw new Error('codec bug');
        return openaiCodec.inBandError(kind, streaming);
      },
    };
    const u = await startMockServer(codec, { inBandError: 'server', after: 1 });
    open.push(u);
    const answer = fetch(`${u.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', stream: true }),
    }).then((r) => r.text());
    await expect(answer).rejects.toThrow();
  });

  it('a custom codec without errorBody answers errors as {"error":{"message"}}', async () => {
    const { errorBody: _, ...plain } = openaiCodec;
    const u = await startMockServer(plain as MockCodec, { status: 503 });
    open.push(u);
    const res = await fetch(`${u.url}/nowhere`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'no such route' } });
  });

  it('stops writing a slow answer once the client has gone', async () => {
    const u = await up('openai', { slow: 'x'.repeat(20_000) });
    const ac = new AbortController();
    const res = await fetch(`${u.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm' }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    // The server keeps answering others after the abandoned slow answer.
    u.setDefault({ reply: 'after' });
    const next = (await (
      await fetch(`${u.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm' }) })
    ).json()) as { choices: { message: { content: string } }[] };
    expect(next.choices[0]?.message.content).toBe('after');
  });
});
