import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, rejection, testImages } from '../../test/helpers/adapter-kit.js';
import { systemClock } from '../clock.js';
import { ProviderResponseError } from '../errors.js';
import { createHttp } from '../wire/http.js';
import type { ProviderAdapter } from './adapter.js';
import { createOpenAIAdapter } from './openai.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** An OpenAI-compatible upstream answering every request with `body` (and `type`). */
async function upstream(body: string, type = 'application/json'): Promise<ProviderAdapter> {
  const server: Server = createServer(
    (_req, res) => void res.writeHead(200, { 'content-type': type }).end(body),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const http = createHttp({ connectMs: 2_000 });
  open.push(http, { close: () => new Promise<void>((r) => server.close(() => r())) });
  const { port } = server.address() as AddressInfo;
  return createOpenAIAdapter({
    config: { id: 'o', baseUrl: `http://127.0.0.1:${port}/v1`, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

const ctx = () => ({ signal: new AbortController().signal });
const ask = { model: 'm', messages: [{ role: 'user' as const, content: 'Hi' }] };

/** Every own key named __proto__ anywhere in `x`. */
function protoKeys(x: unknown, path = '$'): string[] {
  if (x === null || typeof x !== 'object') return [];
  return Object.keys(x).flatMap((k) =>
    k === '__proto__' ? [path] : protoKeys((x as Record<string, unknown>)[k], `${path}.${k}`),
  );
}

describe('openai adapter: hostile replies', () => {
  const reply = (protoKey: string) =>
    `{"id":"c","object":"chat.completion","created":1,"model":"m",${protoKey}:{"polluted":true},` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":"ok",${protoKey}:{"admin":true}},"finish_reason":"stop"}]}`;

  for (const [name, key] of [
    ['literal', '"__proto__"'],
    ['escaped', '"\\u005f_proto__"'],
  ] as const) {
    it(`drops own __proto__ keys from a chat reply (${name})`, async () => {
      const res = await (await upstream(reply(key))).chat(ask, ctx());
      expect(res.choices[0]?.message.content).toBe('ok');
      expect(protoKeys(res)).toEqual([]);
      const merged = Object.assign({}, res.choices[0]?.message);
      expect((merged as { admin?: unknown }).admin).toBeUndefined();
    });
  }

  it('drops own __proto__ keys from stream chunks', async () => {
    const frame = (delta: string) =>
      `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","__proto__":{"x":1},"choices":[{"index":0,"delta":${delta},"finish_reason":null}]}\n\n`;
    const body = `${frame('{"content":"a","__proto__":{"y":1}}')}${frame('{"content":"b"}')}data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`;
    const chunks = await collect((await upstream(body, 'text/event-stream')).stream(ask, ctx()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('ab');
    expect(protoKeys(chunks)).toEqual([]);
  });

  it('an embedding whose values are not all finite numbers is a malformed reply', async () => {
    for (const vector of ['[0.1,"0.2",0.3]', '[0.1,null]', '[{"a":1}]', '[1e999]']) {
      const adapter = await upstream(
        `{"object":"list","data":[{"object":"embedding","index":0,"embedding":${vector}}]}`,
      );
      const err = await rejection(adapter.embed({ model: 'e', input: ['a'] }, ctx()));
      expect(err, vector).toBeInstanceOf(ProviderResponseError);
    }
  });
});
