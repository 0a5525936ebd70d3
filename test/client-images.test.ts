import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatRequest, ClosedError, InvalidRequestError, type ManaLLMOptions } from '../src/index.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, harness, KEY, localServer, rejection, waitFor } from './helpers/client.js';
import { hangingUpstream, rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** An image server on 127.0.0.1 that counts what it is asked for. */
async function imageServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG),
): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const port = await localServer((req, res) => {
    hits.push(req.url ?? '');
    handle(req, res);
  });
  return { port, hits };
}

const withImage = (url: string, model = 'mana/v'): ChatRequest => ({
  model,
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url } },
      ],
    },
  ],
});

/** A client whose alias `mana/v` is an Ollama chain of `n` providers (o0, o1, …). */
async function client(options: Partial<ManaLLMOptions> = {}, n = 1) {
  const upstreams: Record<string, 'ollama'> = {};
  for (let i = 0; i < n; i++) upstreams[`o${i}`] = 'ollama';
  return harness({
    upstreams,
    aliases: { 'mana/v': Object.keys(upstreams).map((id) => `${id}/llava`) },
    options: { health: { failureThreshold: 1 }, ...options },
  });
}

/** The images the Ollama upstream received in its first chat request. */
function imagesSent(body: unknown): unknown {
  return (body as { messages: { images?: string[] }[] }).messages[0]?.images;
}

describe("images.fetch 'public' (the default): no server-side request to a non-public address", () => {
  const spellings = [
    ['127.0.0.1', (p: number) => `http://127.0.0.1:${p}/cat.png`],
    ['0x7f.1 (hex, short form)', (p: number) => `http://0x7f.1:${p}/cat.png`],
    ['2130706433 (decimal)', (p: number) => `http://2130706433:${p}/cat.png`],
    ['0177.0.0.1 (octal)', (p: number) => `http://0177.0.0.1:${p}/cat.png`],
    ['[::ffff:127.0.0.1] (IPv4-mapped IPv6)', (p: number) => `http://[::ffff:127.0.0.1]:${p}/cat.png`],
    ['localhost (a DNS name that resolves to loopback)', (p: number) => `http://localhost:${p}/cat.png`],
  ] as const;

  for (const [name, url] of spellings) {
    it(`refuses a loopback image given as ${name}: caller error, nothing fetched, health unchanged`, async () => {
      const img = await imageServer();
      const { llm, up } = await client();
      const err = await rejection(llm.chat(withImage(url(img.port))));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).issues[0]?.path).toBe('messages[0].content[1].image_url.url');
      expect(img.hits).toEqual([]);
      expect(up.o0?.count('chat')).toBe(0);
      expect(llm.health().providers.o0).toMatchObject({ healthy: true, consecutiveFailures: 0 });
    });
  }

  it('refuses in a stream too, before anything is sent', async () => {
    const img = await imageServer();
    const { llm, up } = await client();
    const stream = llm.stream(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    const err = await rejection(
      (async () => {
        for await (const _ of stream) {
          /* nothing arrives */
        }
      })(),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(img.hits).toEqual([]);
    expect(up.o0?.count()).toBe(0);
  });
});

describe('images.fetch other policies', () => {
  it("'all' fetches from a local server and inlines the bytes", async () => {
    const img = await imageServer();
    const { llm, up } = await client({ images: { fetch: 'all' } });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    expect(img.hits).toEqual(['/cat.png']);
    expect(imagesSent(up.o0?.requests[0]?.body)).toEqual([PNG.toString('base64')]);
  });

  it('a predicate decides per URL', async () => {
    const img = await imageServer();
    const { llm } = await client({ images: { fetch: (url) => url.pathname.startsWith('/ok/') } });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/ok/cat.png`));
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/no/cat.png`)));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(img.hits).toEqual(['/ok/cat.png']);
  });

  it("'none' fetches nothing; data: URLs still work", async () => {
    const img = await imageServer();
    const { llm, up } = await client({ images: { fetch: 'none' } });
    expect(await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)))).toBeInstanceOf(
      InvalidRequestError,
    );
    await llm.chat(withImage(`data:image/png;base64,${PNG.toString('base64')}`));
    expect(img.hits).toEqual([]);
    expect(imagesSent(up.o0?.requests[0]?.body)).toEqual([PNG.toString('base64')]);
  });
});

describe('an image that cannot be used is the caller error, never the provider', () => {
  it('relays nothing of what the image server answered (status, type, body)', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(418, { 'content-type': 'text/x-internal-banner' }).end('SECRET-BANNER'),
    );
    const { llm, up } = await client({ images: { fetch: 'all' } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)));
    expect(err).toBeInstanceOf(InvalidRequestError);
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    for (const leak of ['418', 'x-internal-banner', 'SECRET-BANNER']) expect(text).not.toContain(leak);
    expect(up.o0?.count()).toBe(0);
  });

  it('a redirect is not followed (its target could be internal)', async () => {
    const target = await imageServer();
    const img = await imageServer((_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/cat.png` }).end(),
    );
    const { llm } = await client({ images: { fetch: 'all' } });
    expect(await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/r.png`)))).toBeInstanceOf(
      InvalidRequestError,
    );
    expect(target.hits).toEqual([]);
  });

  it('a tarpit image times out on the call budget: caller error, no breaker opens, no entry is tried', async () => {
    const img = await imageServer(() => undefined); // answers nothing, ever
    const { llm, up, clock } = await client({ images: { fetch: 'all', timeoutMs: 5_000 } }, 2);
    for (let round = 1; round <= 2; round++) {
      const pending = rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/slow.png`)));
      await waitFor(() => img.hits.length === round, 'the image request');
      await clock.advanceAsync(5_000);
      expect(await pending).toBeInstanceOf(InvalidRequestError);
    }
    expect(up.o0?.count()).toBe(0);
    expect(up.o1?.count()).toBe(0);
    // failureThreshold is 1: one counted failure would have opened the breaker.
    for (const id of ['o0', 'o1'])
      expect(llm.health().providers[id]).toMatchObject({
        healthy: true,
        state: 'closed',
        consecutiveFailures: 0,
      });
  });

  it('the per-call budget: too many images, or too many bytes, is refused', async () => {
    const big = Buffer.alloc(64 * 1024, 1);
    const img = await imageServer((req, res) =>
      res.writeHead(200, { 'content-type': 'image/png' }).end(req.url === '/big.png' ? big : PNG),
    );
    const { llm } = await client({ images: { fetch: 'all', maxCount: 1, maxBytes: 32 * 1024 } });
    const two: ChatRequest = {
      model: 'mana/v',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `http://127.0.0.1:${img.port}/a.png` } },
            { type: 'image_url', image_url: { url: `http://127.0.0.1:${img.port}/b.png` } },
          ],
        },
      ],
    };
    expect(await rejection(llm.chat(two))).toBeInstanceOf(InvalidRequestError);
    expect(img.hits).toEqual([]);
    expect(await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/big.png`)))).toBeInstanceOf(
      InvalidRequestError,
    );
  });
});

describe('fetched once per call', () => {
  it('a 3-entry chain where the first two fail fetches the image once and sends it to all three', async () => {
    const img = await imageServer();
    const { llm, up } = await client({ images: { fetch: 'all' }, health: { failureThreshold: 5 } }, 3);
    up.o0?.setDefault({ status: 500 });
    up.o1?.setDefault({ status: 503 });
    const res = await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    expect(res.model).toBe('o2/llava');
    expect(img.hits).toEqual(['/cat.png']);
    for (const id of ['o0', 'o1', 'o2'])
      expect(imagesSent(up[id]?.requests[0]?.body)).toEqual([PNG.toString('base64')]);
  });
});

describe('hedged calls', () => {
  it('a hedge whose entry must fetch the images first does not hold up the answer of the first entry', async () => {
    let imageClosed = false;
    const img = await imageServer((_req, res) => res.on('close', () => (imageClosed = true))); // never answers
    let held: { model: string; res: ServerResponse } | undefined;
    const a = await rawUpstream((text, res) => {
      held = { model: (JSON.parse(text) as { model: string }).model, res };
    });
    const { llm, clock, up } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      options: { images: { fetch: 'all', timeoutMs: 5_000 } },
    });
    let outcome: unknown;
    void llm.chat(withImage(`http://127.0.0.1:${img.port}/slow.png`)).then(
      (r) => {
        outcome = r;
      },
      (err: unknown) => {
        outcome = err;
      },
    );
    await waitFor(() => a.received === 1, 'the call at a (which passes the URL on)');
    await clock.advanceAsync(300);
    await waitFor(() => img.hits.length === 1, 'the image fetch for the hedge at o');
    held!.res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply: 'a cat' }, held!.model)));
    // Without waiting for the image (5 s on the call's clock, never advanced here), and without calling o.
    await waitFor(() => outcome !== undefined, "a's answer");
    expect(outcome).toMatchObject({ model: 'a/m', choices: [{ message: { content: 'a cat' } }] });
    await waitFor(() => imageClosed, 'the image fetch cancelled, as the call is over');
    await clock.advanceAsync(5_000);
    expect(up.o?.count()).toBe(0);
  });

  it('the same for a stream: openStream resolves at the commit of the first entry, not after the image', async () => {
    const img = await imageServer(() => undefined); // never answers
    let held: { model: string; res: ServerResponse } | undefined;
    const a = await rawUpstream((text, res) => {
      held = { model: (JSON.parse(text) as { model: string }).model, res };
    });
    const { llm, clock, up } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      options: { images: { fetch: 'all', timeoutMs: 5_000 } },
    });
    let opened: { model: string } | undefined;
    void llm.openStream(withImage(`http://127.0.0.1:${img.port}/slow.png`)).then((s) => {
      opened = s;
    });
    await waitFor(() => a.received === 1, 'the stream at a');
    await clock.advanceAsync(300);
    await waitFor(() => img.hits.length === 1, 'the image fetch for the hedge at o');
    const frames = openaiCodec.stream({ reply: 'a cat', chunks: 1 }, held!.model);
    held!.res.writeHead(200, { 'content-type': frames.contentType });
    held!.res.end([...frames.prelude, ...frames.content, ...frames.end].join(''));
    await waitFor(() => opened !== undefined, "a's commit");
    expect(opened?.model).toBe('a/m');
    expect(up.o?.count()).toBe(0);
  });

  it('a hedge whose entry got the images first, started beside a hung first entry, answers and wins', async () => {
    const img = await imageServer();
    const a = await hangingUpstream();
    const { llm, clock, events } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      options: { images: { fetch: 'all' } },
    });
    const call = llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    await waitFor(() => a.received === 1, 'the call at a (which passes the URL on)');
    await clock.advanceAsync(300);
    const res = await call;
    expect(res.model).toBe('o/llava');
    expect(res.routing.attempts.map(({ target, reason }) => ({ target, reason }))).toEqual([
      { target: 'a/m', reason: 'hedged-out' },
      { target: 'o/llava', reason: 'ok' },
    ]);
    expect(events.of('hedge').map(({ from, to }) => ({ from, to }))).toEqual([
      { from: 'a/m', to: 'o/llava' },
    ]);
    await waitFor(() => a.closedByClient === 1, 'a’s socket closed by the client');
  });

  it('a hedge whose images arrive after the first entry failed is the ordinary next attempt, not a hedge', async () => {
    // The image is held until the test lets it go.
    let sendImage: (() => void) | undefined;
    const img = await imageServer((_req, res) => {
      sendImage = () => void res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    });
    let failA: (() => void) | undefined;
    const a = await rawUpstream((_text, res) => {
      failA = () => void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"down"}');
    });
    // `o` needs the image's bytes, then never answers: only a hedge beside it can serve the call.
    const o = await rawUpstream(() => undefined);
    const { llm, clock, events } = await harness({
      upstreams: { c: 'openai' },
      providers: {
        a: { type: 'openai', baseUrl: a.url, apiKey: KEY },
        o: { type: 'ollama', baseUrl: o.url.replace(/\/v1$/, '') },
      },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava', 'c/m'], hedge: { afterMs: 300 } } },
      // One hedge token, never refilled: a hedge counted for o would leave none for c.
      options: { images: { fetch: 'all', timeoutMs: 5_000 }, hedging: { budgetRatio: 0, budgetMax: 1 } },
    });
    let outcome: unknown;
    void llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)).then(
      (r) => {
        outcome = r;
      },
      (err: unknown) => {
        outcome = err;
      },
    );
    await waitFor(() => failA !== undefined, 'the call at a (which passes the URL on)');
    await clock.advanceAsync(300);
    await waitFor(() => sendImage !== undefined, 'the image fetch for the hedge at o');
    // a fails while o's image is still being fetched: the walk falls through to o, which is then no hedge.
    failA?.();
    await waitFor(() => events.count('fallback') === 1, "a's fallback");
    sendImage?.();
    await waitFor(() => o.received === 1, 'the call at o');
    expect(events.count('hedge')).toBe(0);
    // o, the ordinary attempt after a, may be hedged itself, with the token a hedge beside a would have spent.
    await clock.advanceAsync(300);
    await waitFor(() => outcome !== undefined, "c's answer");
    expect(outcome).toMatchObject({ model: 'c/m' });
    const hedges = events.of('hedge').map(({ from, to }) => ({ from, to }));
    expect(hedges).toEqual([{ from: 'o/llava', to: 'c/m' }]);
    expect(events.of('fallback').map(({ from, to }) => ({ from, to }))).toEqual([
      { from: 'a/m', to: 'o/llava' },
    ]);
    const { attempts } = (outcome as { routing: { attempts: { target: string; reason: string }[] } }).routing;
    expect(attempts.map(({ target, reason }) => ({ target, reason }))).toEqual([
      { target: 'a/m', reason: 'http-error' },
      { target: 'o/llava', reason: 'hedged-out' },
      { target: 'c/m', reason: 'ok' },
    ]);
  });
});

describe('the per-call budget at its bounds', () => {
  const many = (urls: string[]): ChatRequest => ({
    model: 'mana/v',
    messages: [{ role: 'user', content: urls.map((url) => ({ type: 'image_url', image_url: { url } })) }],
  });

  it('exactly maxCount distinct images are fetched and sent; a URL given twice counts once', async () => {
    const img = await imageServer();
    const { llm, up } = await client({ images: { fetch: 'all', maxCount: 2 } });
    const [a, b] = ['a', 'b'].map((n) => `http://127.0.0.1:${img.port}/${n}.png`) as [string, string];
    await llm.chat(many([a, b, a]));
    expect(img.hits.sort()).toEqual(['/a.png', '/b.png']);
    expect(imagesSent(up.o0?.requests[0]?.body)).toEqual(Array(3).fill(PNG.toString('base64')));
  });

  it('maxTotalBytes counts every image of the call together: two within maxBytes but over it in sum are refused', async () => {
    const piece = Buffer.alloc(20 * 1024, 1);
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/png' }).end(piece),
    );
    const limits = { fetch: 'all' as const, maxBytes: 32 * 1024, maxTotalBytes: 30 * 1024 };
    const { llm, up } = await client({ images: limits });
    const urls = ['a', 'b'].map((n) => `http://127.0.0.1:${img.port}/${n}.png`);
    await llm.chat(many(urls.slice(0, 1)));
    expect(await rejection(llm.chat(many(urls)))).toBeInstanceOf(InvalidRequestError);
    expect(up.o0?.count()).toBe(1);
  });
});

describe('a data: URL without a media type', () => {
  it('is sent as image/png', async () => {
    const { llm, up } = await harness({ upstreams: { c: 'anthropic' }, aliases: { 'mana/v': ['c/claude'] } });
    await llm.chat(withImage(`data:;base64,${PNG.toString('base64')}`));
    const body = up.c?.requests[0]?.body as { messages: { content: unknown[] }[] };
    expect(body.messages[0]?.content[1]).toEqual({
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: PNG.toString('base64') },
    });
  });
});

describe('what an image server answers', () => {
  it('a 200 that is not an image (text/html) is refused: nothing is sent upstream', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi'),
    );
    const { llm, up } = await client({ images: { fetch: 'all' } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).issues[0]?.message).toBe('could not be fetched');
    expect(up.o0?.count()).toBe(0);
  });

  it('an image over maxBytes says so, rather than that it could not be fetched', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(2048, 1)),
    );
    const { llm } = await client({ images: { fetch: 'all', maxBytes: 1024 } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/big.png`)));
    expect((err as InvalidRequestError).issues).toEqual([
      { path: 'messages[0].content[1].image_url.url', message: 'is larger than the image budget allows' },
    ]);
  });
});

describe('images.fetch as a function, at its edges', () => {
  it('a rule that throws refuses: nothing is fetched', async () => {
    const img = await imageServer();
    const rule = () => {
      throw new Error('rule broke');
    };
    const { llm } = await client({ images: { fetch: rule } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)));
    expect((err as InvalidRequestError).issues[0]?.message).toBe('may not be fetched (images.fetch)');
    expect(img.hits).toEqual([]);
  });
});

describe('an image content-type in capitals', () => {
  it('is an image: accepted, and sent with its media type in lower case', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'Image/PNG; charset=binary' }).end(PNG),
    );
    const { llm, up } = await harness({
      upstreams: { c: 'anthropic' },
      aliases: { 'mana/v': ['c/claude'] },
      options: { images: { fetch: 'all' } },
    });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    const body = up.c?.requests[0]?.body as { messages: { content: { source?: unknown }[] }[] };
    expect(body.messages[0]?.content[1]?.source).toEqual({
      type: 'base64',
      media_type: 'image/png',
      data: PNG.toString('base64'),
    });
  });
});

describe('closing the client while an image is being fetched', () => {
  it('the call rejects with ClosedError, not as an unusable image', async () => {
    const img = await imageServer(() => undefined); // answers nothing
    const { llm } = await client({ images: { fetch: 'all' } });
    const pending = rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/slow.png`)));
    await waitFor(() => img.hits.length === 1, 'the image request');
    await llm.close();
    expect(await pending).toBeInstanceOf(ClosedError);
  });
});

describe("an image fetch within the call's own deadline", () => {
  it('a call timeoutMs shorter than images.timeoutMs ends the fetch at the call deadline', async () => {
    const img = await imageServer(() => undefined); // answers nothing
    const { llm, up, clock } = await client({ images: { fetch: 'all', timeoutMs: 60_000 } });
    let settled = false;
    const pending = rejection(
      llm.chat(withImage(`http://127.0.0.1:${img.port}/slow.png`), { timeoutMs: 1_000 }),
    ).finally(() => {
      settled = true;
    });
    await waitFor(() => img.hits.length === 1, 'the image request');
    await clock.advanceAsync(1_000);
    await waitFor(() => settled, 'the call to end at its deadline');
    expect(await pending).toBeInstanceOf(InvalidRequestError);
    expect(up.o0?.count()).toBe(0);
  });
});

describe('a redirect that itself claims to be an image', () => {
  it('is refused all the same: only a 200 is used', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(302, { 'content-type': 'image/png', location: '/elsewhere.png' }).end(PNG),
    );
    const { llm, up } = await client({ images: { fetch: 'all' } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/r.png`)));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(img.hits).toEqual(['/r.png']);
    expect(up.o0?.count()).toBe(0);
  });
});

describe('an image at the byte limits, and what the fetch asks for', () => {
  const exactly = (n: number) => Buffer.alloc(n, 1);

  it('an image of exactly maxBytes is used, whether its length is announced or not', async () => {
    const body = exactly(1024);
    const img = await imageServer((req, res) => {
      if (req.url === '/announced.png')
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
      else res.writeHead(200, { 'content-type': 'image/png' }).end(body); // chunked
    });
    const { llm, up } = await client({ images: { fetch: 'all', maxBytes: 1024 } });
    for (const name of ['announced', 'chunked'])
      await llm.chat(withImage(`http://127.0.0.1:${img.port}/${name}.png`));
    for (const i of [0, 1]) expect(imagesSent(up.o0?.requests[i]?.body)).toEqual([body.toString('base64')]);
  });

  it('images that add up to exactly maxTotalBytes are used, announced or not', async () => {
    const piece = exactly(512);
    const img = await imageServer((req, res) =>
      req.url?.startsWith('/a')
        ? res.writeHead(200, { 'content-type': 'image/png', 'content-length': piece.length }).end(piece)
        : res.writeHead(200, { 'content-type': 'image/png' }).end(piece),
    );
    const { llm, up } = await client({ images: { fetch: 'all', maxTotalBytes: 1024 } });
    const urls = ['a1', 'a2', 'c1', 'c2'].map((n) => `http://127.0.0.1:${img.port}/${n}.png`);
    for (const pair of [urls.slice(0, 2), urls.slice(2)])
      await llm.chat({
        model: 'mana/v',
        messages: [{ role: 'user', content: pair.map((url) => ({ type: 'image_url', image_url: { url } })) }],
      });
    expect(up.o0?.count('chat')).toBe(2);
  });

  it('an announced length over maxBytes is refused at the headers, and the connection dropped', async () => {
    let closed = false;
    const img = await imageServer((_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 2048 }).write('x'); // the rest never comes
    });
    const { llm, up } = await client({ images: { fetch: 'all', maxBytes: 1024 } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/big.png`)));
    expect((err as InvalidRequestError).issues[0]?.message).toBe('is larger than the image budget allows');
    await waitFor(() => closed, 'the image connection to close');
    expect(up.o0?.count()).toBe(0);
  });

  it('an announced length over what is left of maxTotalBytes is refused at the headers', async () => {
    const img = await imageServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1500 }).write('x'); // the rest never comes
    });
    const { llm } = await client({ images: { fetch: 'all', maxBytes: 2048, maxTotalBytes: 1024 } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/big.png`)));
    expect((err as InvalidRequestError).issues[0]?.message).toBe('is larger than the image budget allows');
  });

  it('a refused answer (206 partial content) is not used, and its connection is dropped', async () => {
    let closed = false;
    const img = await imageServer((_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(206, { 'content-type': 'image/png' }).write(PNG); // never ends
    });
    const { llm, up } = await client({ images: { fetch: 'all' } });
    const err = await rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`)));
    expect((err as InvalidRequestError).issues[0]?.message).toBe('could not be fetched');
    await waitFor(() => closed, 'the image connection to close');
    expect(up.o0?.count()).toBe(0);
  });

  it('GETs the path with its query, asking for an image', async () => {
    const seen: (string | undefined)[] = [];
    const img = await imageServer((req, res) => {
      seen.push(req.method, req.headers.accept);
      res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    });
    const { llm } = await client({ images: { fetch: 'all' } });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png?size=small&v=2`));
    expect(img.hits).toEqual(['/cat.png?size=small&v=2']);
    expect(seen).toEqual(['GET', 'image/*']);
  });

  it("'all' fetches through a name too (localhost)", async () => {
    const img = await imageServer();
    const { llm } = await client({ images: { fetch: 'all' } });
    await llm.chat(withImage(`http://localhost:${img.port}/cat.png`));
    expect(img.hits).toEqual(['/cat.png']);
  });
});

describe('image URLs and rules at their edges (second pass)', () => {
  const issue = async (p: Promise<unknown>) => ((await rejection(p)) as InvalidRequestError).issues[0];

  it('an https image passes the scheme check and is fetched (here it fails at the TLS handshake)', async () => {
    const img = await imageServer();
    const { llm } = await client({ images: { fetch: 'all' } });
    expect((await issue(llm.chat(withImage(`https://127.0.0.1:${img.port}/cat.png`))))?.message).toBe(
      'could not be fetched',
    );
  });

  it('a data: URL without the ";" before base64 is refused, not guessed at', async () => {
    const { llm, up } = await client();
    const got = await issue(llm.chat(withImage(`data:image/pngbase64,${PNG.toString('base64')}`)));
    expect(got).toEqual({
      path: 'messages[0].content[1].image_url.url',
      message: 'is a data: URL that is not base64',
    });
    expect(up.o0?.count()).toBe(0);
  });

  it('too many images: the error names the first image over maxCount', async () => {
    const img = await imageServer();
    const { llm } = await client({ images: { fetch: 'all', maxCount: 1 } });
    const url = (n: string) => ({
      type: 'image_url' as const,
      image_url: { url: `http://127.0.0.1:${img.port}/${n}` },
    });
    const req: ChatRequest = {
      model: 'mana/v',
      messages: [{ role: 'user', content: [url('a.png'), url('a.png'), url('b.png'), url('c.png')] }],
    };
    expect((await issue(llm.chat(req)))?.path).toBe('messages[0].content[2].image_url.url');
  });

  it('an image given twice that cannot be fetched: fetched once, and the error names its first place', async () => {
    const img = await imageServer((_req, res) => void res.writeHead(404).end());
    const { llm } = await client({ images: { fetch: 'all' } });
    const part = { type: 'image_url' as const, image_url: { url: `http://127.0.0.1:${img.port}/gone.png` } };
    const req: ChatRequest = {
      model: 'mana/v',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'and this?' }, part] },
        { role: 'user', content: [part] },
      ],
    };
    expect((await issue(llm.chat(req)))?.path).toBe('messages[0].content[1].image_url.url');
    expect(img.hits).toEqual(['/gone.png']);
  });

  it('a rule that returns a truthy value other than true refuses', async () => {
    const img = await imageServer();
    const rule = (() => 'yes') as unknown as (url: URL) => boolean;
    const { llm } = await client({ images: { fetch: rule } });
    expect((await issue(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`))))?.message).toBe(
      'may not be fetched (images.fetch)',
    );
    expect(img.hits).toEqual([]);
  });

  it('a fetched image leaves no timer behind once the call is answered', async () => {
    const img = await imageServer();
    const { llm, clock } = await client({ images: { fetch: 'all', timeoutMs: 5_000 } });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    expect(clock.pending()).toBe(0);
  });

  it("the caller's abort during the fetch rejects with the caller's reason, not as an unusable image", async () => {
    const img = await imageServer(() => undefined); // answers nothing, ever
    const { llm } = await client({ images: { fetch: 'all' } });
    const ac = new AbortController();
    const pending = rejection(
      llm.chat(withImage(`http://127.0.0.1:${img.port}/slow.png`), { signal: ac.signal }),
    );
    await waitFor(() => img.hits.length === 1, 'the image request');
    const reason = new Error('caller gave up');
    ac.abort(reason);
    expect(await pending).toBe(reason);
  });
});

describe("the caller's signal after an image call", () => {
  it('keeps no abort listener once the call is answered (a signal reused for many calls does not pile them up)', async () => {
    const { EventEmitter } = await import('node:events');
    const img = await imageServer();
    const { llm } = await client({ images: { fetch: 'all' } });
    const ac = new AbortController();
    for (let i = 0; i < 3; i++)
      await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`), { signal: ac.signal });
    expect(EventEmitter.getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('third pass: one failing image ends the others, a dripping body times out', () => {
  it('an image that cannot be fetched ends the fetch of the other images of the call (their connections close)', async () => {
    let slowClosed = false;
    let gone: ServerResponse | undefined;
    const img = await imageServer((req, res) => {
      if (req.url === '/gone.png') gone = res;
      else res.on('close', () => (slowClosed = true)); // never answers
    });
    const { llm, up } = await client({ images: { fetch: 'all', timeoutMs: 5_000 } });
    const req: ChatRequest = {
      model: 'mana/v',
      messages: [
        {
          role: 'user',
          content: ['slow', 'gone'].map((n) => ({
            type: 'image_url' as const,
            image_url: { url: `http://127.0.0.1:${img.port}/${n}.png` },
          })),
        },
      ],
    };
    const pending = rejection(llm.chat(req));
    await waitFor(() => img.hits.length === 2 && gone !== undefined, 'both image requests');
    gone?.writeHead(404).end();
    const err = (await pending) as InvalidRequestError;
    expect(err.issues[0]?.path).toBe('messages[0].content[1].image_url.url');
    // Not left to run until images.timeoutMs (the clock is never advanced here).
    await waitFor(() => slowClosed, 'the other image fetch to be dropped');
    expect(up.o0?.count()).toBe(0);
  });

  it('an image whose body drips and stops is refused at images.timeoutMs, and its connection dropped', async () => {
    let closed = false;
    const img = await imageServer((_req, res) => {
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'content-type': 'image/png' }).write(PNG.subarray(0, 8)); // the rest never comes
    });
    const { llm, up, clock } = await client({ images: { fetch: 'all', timeoutMs: 5_000 } });
    let settled = false;
    const pending = rejection(llm.chat(withImage(`http://127.0.0.1:${img.port}/drip.png`))).finally(() => {
      settled = true;
    });
    await waitFor(() => img.hits.length === 1, 'the image request');
    await clock.advanceAsync(4_999);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    expect(((await pending) as InvalidRequestError).issues[0]?.message).toBe('could not be fetched');
    await waitFor(() => closed, 'the image connection to close');
    expect(up.o0?.count()).toBe(0);
  });

  it('a data: URL whose base64 is wrapped over lines is accepted and sent as given', async () => {
    const { llm, up } = await client({ images: { fetch: 'none' } });
    const b64 = PNG.toString('base64');
    const wrapped = `${b64.slice(0, 40)}\n${b64.slice(40)}`;
    await llm.chat(withImage(`data:image/png;base64,${wrapped}`));
    expect(imagesSent(up.o0?.requests[0]?.body)).toEqual([wrapped]);
  });
});

describe('fourth pass: URL schemes, content-type spacing, credentials in the URL', () => {
  const issue = async (p: Promise<unknown>) => ((await rejection(p)) as InvalidRequestError).issues[0];

  it('an http URL the URL parser refuses is refused before anything is sent', async () => {
    const { llm, up } = await client({ images: { fetch: 'all' } });
    expect(await issue(llm.chat(withImage('http://[::1/cat.png')))).toEqual({
      path: 'messages[0].content[1].image_url.url',
      message: 'is not a valid URL',
    });
    expect(up.o0?.count()).toBe(0);
  });

  it('a data: URL whose scheme is in capitals is a data: URL (schemes are case-insensitive), not refused', async () => {
    const { llm, up } = await client({ images: { fetch: 'none' } });
    await llm.chat(withImage(`DATA:image/png;BASE64,${PNG.toString('base64')}`));
    expect(imagesSent(up.o0?.requests[0]?.body)).toEqual([PNG.toString('base64')]);
  });

  it('its media type in capitals is sent in lower case, as a fetched one is', async () => {
    const { llm, up } = await harness({ upstreams: { c: 'anthropic' }, aliases: { 'mana/v': ['c/claude'] } });
    await llm.chat(withImage(`data:Image/PNG;base64,${PNG.toString('base64')}`));
    const body = up.c?.requests[0]?.body as {
      messages: { content: { source?: { media_type?: string } }[] }[];
    };
    expect(body.messages[0]?.content[1]?.source?.media_type).toBe('image/png');
  });

  it('a content-type with a space before its parameters is sent as the bare media type', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/png ; charset=binary' }).end(PNG),
    );
    const { llm, up } = await harness({
      upstreams: { c: 'anthropic' },
      aliases: { 'mana/v': ['c/claude'] },
      options: { images: { fetch: 'all' } },
    });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`));
    const body = up.c?.requests[0]?.body as {
      messages: { content: { source?: { media_type?: string } }[] }[];
    };
    expect(body.messages[0]?.content[1]?.source?.media_type).toBe('image/png');
  });

  it('a fetched image goes with the media type its server gave (image/jpeg stays image/jpeg)', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(PNG),
    );
    const { llm, up } = await harness({
      upstreams: { c: 'anthropic' },
      aliases: { 'mana/v': ['c/claude'] },
      options: { images: { fetch: 'all' } },
    });
    await llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.jpg`));
    const body = up.c?.requests[0]?.body as {
      messages: { content: { source?: { media_type?: string } }[] }[];
    };
    expect(body.messages[0]?.content[1]?.source?.media_type).toBe('image/jpeg');
  });

  it('a content-type that only mentions "image" (application/x-image) is not an image: refused', async () => {
    const img = await imageServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/x-image' }).end(PNG),
    );
    const { llm, up } = await client({ images: { fetch: 'all' } });
    expect((await issue(llm.chat(withImage(`http://127.0.0.1:${img.port}/cat.png`))))?.message).toBe(
      'could not be fetched',
    );
    expect(up.o0?.count()).toBe(0);
  });

  it('credentials in an image URL are neither sent to the image server nor named in the error', async () => {
    const auth: (string | undefined)[] = [];
    const img = await imageServer((req, res) => {
      auth.push(req.headers.authorization);
      res.writeHead(404).end();
    });
    const { llm } = await client({ images: { fetch: 'all' } });
    const err = await rejection(
      llm.chat(withImage(`http://user:s3cr3t@127.0.0.1:${img.port}/a.png?key=t0k3n`)),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    const seen = `${String(err)} ${JSON.stringify(err)} ${JSON.stringify((err as InvalidRequestError).issues)}`;
    expect(seen).not.toMatch(/s3cr3t|t0k3n/);
    expect(img.hits).toEqual(['/a.png?key=t0k3n']);
    expect(auth).toEqual([undefined]);
  });
});
