import { afterEach, describe, expect, it } from 'vitest';
import { collect, testImages } from '../../test/helpers/adapter-kit.js';
import { closeAll, waitFor } from '../../test/helpers/client.js';
import { rawUpstream } from '../../test/helpers/raw-upstream.js';
import { systemClock } from '../clock.js';
import { createHttp, type Http } from '../wire/http.js';
import { createOllamaAdapter } from './ollama.js';

let http: Http | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
  await closeAll();
});

describe('end marker', () => {
  it('a stream ends at its done line while the body stays open (not idleMs later)', async () => {
    const lines = [
      {
        model: 'llama3.2',
        created_at: '2024-07-01T00:00:00Z',
        message: { role: 'assistant', content: 'Hi' },
        done: false,
      },
      {
        model: 'llama3.2',
        created_at: '2024-07-01T00:00:00Z',
        done: true,
        prompt_eval_count: 3,
        eval_count: 1,
      },
    ];
    let closed = false;
    const up = await rawUpstream((_b, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      res.on('close', () => (closed = true));
    });
    http = createHttp({ connectMs: 2000 });
    const adapter = createOllamaAdapter({
      config: { id: 'o', baseUrl: up.url.replace(/\/v1$/, ''), headers: {} },
      http,
      clock: systemClock,
      images: testImages(),
    });
    const chunks = await collect(
      adapter.stream(
        { model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] },
        { signal: new AbortController().signal },
      ),
    );
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, 'stop']);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 });
    // the request is cancelled rather than left open
    await waitFor(() => closed, 'the upstream request to close');
  });
});
