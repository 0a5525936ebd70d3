import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/testing/index.js';

const open: MockUpstream[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((u) => u.close()));
});

const STREAM = '/models/m:streamGenerateContent?alt=sse';
const post = (url: string) => fetch(url, { method: 'POST', body: JSON.stringify({ contents: [] }) });

describe('the Gemini mock frames its special answers as Gemini does', () => {
  it('a blocked prompt: an event stream when streaming, JSON otherwise', async () => {
    const g = await startMockUpstream('google', { blocked: true });
    open.push(g);
    const streamed = await post(`${g.url}${STREAM}`);
    const plain = await post(`${g.url}/models/m:generateContent`);
    expect([streamed.headers.get('content-type'), plain.headers.get('content-type')]).toEqual([
      'text/event-stream',
      'application/json',
    ]);
    expect(await streamed.text()).toMatch(/^data: \{"promptFeedback":.*\}\r\n\r\n$/s);
    expect((await plain.json()) as unknown).toMatchObject({ promptFeedback: { blockReason: 'SAFETY' } });
  });

  it('an in-band error in a stream is one CRLF-framed event, as its other frames are', async () => {
    const g = await startMockUpstream('google', { inBandError: 'rate-limit' });
    open.push(g);
    const text = await (await post(`${g.url}${STREAM}`)).text();
    expect(text).toMatch(/^data: \{"error":\{.*\}\}\r\n\r\n$/s);
  });
});
