import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatRequest, ClosedError, InvalidRequestError } from '../../src/index.js';
import { closeAll, harness, localServer, rejection } from '../helpers/client.js';

// Image URLs and image servers at edges the other image tests do not reach, through the public API.

afterEach(closeAll);

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

async function imageServer(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const hits: string[] = [];
  const port = await localServer((req, res) => {
    hits.push(req.url ?? '');
    handle(req, res);
  });
  return { port, hits };
}

const withImage = (url: string): ChatRequest => ({
  model: 'mana/v',
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
});

const client = (fetch: 'all' | 'public' = 'all') =>
  harness({
    upstreams: { o: 'ollama' },
    aliases: { 'mana/v': ['o/llava'] },
    options: { images: { fetch } },
  });

const issue = async (p: Promise<unknown>) => {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(InvalidRequestError);
  return (err as InvalidRequestError).issues[0];
};

describe('an image server that drops the connection mid-body', () => {
  it("the image could not be fetched: the caller's error, nothing sent upstream", async () => {
    const img = await imageServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(PNG.length * 10) });
      res.write(PNG, () => res.destroy());
    });
    const { llm, up } = await client();
    expect((await issue(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`))))?.message).toBe(
      'could not be fetched',
    );
    expect(up.o?.count()).toBe(0);
  });
});

describe('an image host name that does not resolve', () => {
  it("under 'public' it could not be fetched (the lookup's error, not an address refused)", async () => {
    const { llm, up } = await client('public');
    expect((await issue(llm.chat(withImage('http://no-such-host.invalid/cat.png'))))?.message).toBe(
      'could not be fetched',
    );
    expect(up.o?.count()).toBe(0);
  });
});

describe('the caller aborts as soon as the call is made', () => {
  it("the call rejects with the caller's reason and no image is fetched", async () => {
    const img = await imageServer(
      (_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG),
    );
    const { llm, up } = await client();
    const ac = new AbortController();
    const pending = rejection(
      llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`), { signal: ac.signal }),
    );
    const reason = new Error('caller gave up');
    ac.abort(reason);
    expect(await pending).toBe(reason);
    expect(img.hits).toEqual([]);
    expect(up.o?.count()).toBe(0);
  });
});

describe('the client is closed as soon as the call is made', () => {
  it('the call rejects with ClosedError and no image is fetched', async () => {
    const img = await imageServer(
      (_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG),
    );
    const { llm } = await client();
    const pending = rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)));
    const closing = llm.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    await closing;
    expect(img.hits).toEqual([]);
  });
});
