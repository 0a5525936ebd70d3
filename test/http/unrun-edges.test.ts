// HTTP edges the rest of the suite never sent: stream_options on a stream, dimensions on embeddings, an
// asterisk-form request target.
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, harness, KEY } from '../helpers/client.js';
import { serveHttp } from '../helpers/http.js';

afterEach(closeAll);

const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai' },
    aliases: { 'mana/x': ['a/m1'], 'mana/e': ['a/e1'] },
  });
  const served = await serveHttp(h.llm);
  return { ...h, served };
}

describe('HTTP edges', () => {
  it('passes stream_options on a stream to the upstream, and its usage frame back', async () => {
    const { served, up } = await setup();
    const res = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        model: 'mana/x',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(up.a?.requests.at(-1)?.body).toMatchObject({ stream_options: { include_usage: true } });
    expect(text).toMatch(/"usage":\{"prompt_tokens":5,"completion_tokens":7/);
  });

  it('passes an embeddings request its dimensions', async () => {
    const { served, up } = await setup();
    up.a?.setDefault({ dimensions: 2 });
    const res = await fetch(`${served.url}/v1/embeddings`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'mana/e', input: 'x', dimensions: 2 }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(up.a?.requests.at(-1)?.body).toMatchObject({ dimensions: 2 });
  });

  it('answers an asterisk-form target (GET *), which names no path, with a 404 and serves on', async () => {
    const { served } = await setup();
    const s = connect(Number(new URL(served.url).port), '127.0.0.1');
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = once(s, 'close');
    await once(s, 'connect');
    s.write('GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
  });
});
