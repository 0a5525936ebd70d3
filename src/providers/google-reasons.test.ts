import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rejection, testImages } from '../../test/helpers/adapter-kit.js';
import { systemClock } from '../clock.js';
import { ProviderBlockedError, ProviderResponseError } from '../errors.js';
import { createHttp } from '../wire/http.js';
import type { ProviderAdapter } from './adapter.js';
import { createGoogleAdapter } from './google.js';

const KEY = 'plainsecretvalue987654';
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** A Gemini upstream answering every request with `reply` as JSON. */
async function gemini(reply: unknown): Promise<ProviderAdapter> {
  const server: Server = createServer(
    (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const http = createHttp({ connectMs: 2_000 });
  open.push(http, { close: () => new Promise<void>((r) => server.close(() => r())) });
  const { port } = server.address() as AddressInfo;
  return createGoogleAdapter({
    config: { id: 'google', baseUrl: `http://127.0.0.1:${port}/v1beta`, apiKey: KEY, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
}

const ctx = () => ({ signal: new AbortController().signal });
const ask = { model: 'gemini-2.0-flash', messages: [{ role: 'user' as const, content: 'Hi' }] };
// What a hostile proxy could put where an enum word belongs: terminal escapes, a forged log line, the key, bulk.
const HOSTILE = `SAFETY\u001b[2J\r\n[INFO] forged log line key=${KEY} ${'x'.repeat(200_000)}`;

function expectClean(err: Error): void {
  const text = `${err.message} ${JSON.stringify(err)}`;
  expect(text).not.toContain(KEY);
  expect([...err.message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
  expect(err.message.length).toBeLessThan(400);
}

describe('google adapter: upstream reasons in errors are bounded, cleaned and redacted', () => {
  it('promptFeedback.blockReason', async () => {
    const err = await rejection(
      (await gemini({ promptFeedback: { blockReason: HOSTILE } })).chat(ask, ctx()),
    );
    expect(err).toBeInstanceOf(ProviderBlockedError);
    expectClean(err);
    expect((err as ProviderBlockedError).reason.length).toBeLessThanOrEqual(65);
    expect((err as ProviderBlockedError).reason.startsWith('SAFETY')).toBe(true);
  });

  it('an unknown finishReason', async () => {
    const reply = {
      candidates: [
        { content: { role: 'model', parts: [{ text: 'partial' }] }, finishReason: `OTHER${HOSTILE}` },
      ],
    };
    const err = await rejection((await gemini(reply)).chat(ask, ctx()));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expectClean(err);
  });
});
