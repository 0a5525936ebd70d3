import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createManaLLM,
  type ManaLLMError,
  type ManaLLMOptions,
  type NoHealthyProviderError,
  ProviderHTTPError,
  ProviderResponseError,
} from '../src/index.js';
import { closeAll, collect, rejection, track, USER, upstream } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const KiB = 1024;

/** Writes `total` bytes of `piece` with back-pressure; resolves with how many were written when the client left. */
function pump(res: ServerResponse, total: number, piece: Buffer, end = true): Promise<number> {
  let written = 0;
  return new Promise((resolve) => {
    res.on('close', () => resolve(written));
    res.on('error', () => undefined);
    const step = (): void => {
      while (written < total && !res.destroyed) {
        const n = Math.min(piece.length, total - written);
        written += n;
        if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) {
          res.once('drain', step);
          return;
        }
      }
      if (end && !res.destroyed) res.end();
    };
    step();
  });
}

/**
 * A chain `mana/x` = [a (an upstream answering with `answer`), b (a healthy mock)], and what the attacker's
 * server managed to write per request.
 */
async function setup(
  answer: (res: ServerResponse, path: string) => Promise<number> | undefined,
  limits: NonNullable<ManaLLMOptions['limits']>,
  bType: 'openai' | 'ollama' = 'openai',
  aType: 'openai' | 'ollama' = 'openai',
) {
  const written: Promise<number>[] = [];
  const a = await rawUpstream((_body, res) => {
    const w = answer(res, res.req.url ?? '');
    if (w) written.push(w);
  });
  const b = await upstream(bType);
  b.setDefault({ reply: 'served by b' });
  const llm = track(
    createManaLLM({
      providers: {
        // An Ollama baseUrl is the server root (a path ending in /v1 is a ConfigError).
        a: { type: aType, baseUrl: aType === 'ollama' ? a.url.replace(/\/v1$/, '') : a.url },
        b: { type: bType, baseUrl: b.url },
      },
      aliases: { aliases: { 'mana/x': { chain: ['a/m', 'b/m'] } } },
      health: { probes: false },
      limits,
    }),
  );
  const fallbacks: (ManaLLMError | undefined)[] = [];
  llm.on('fallback', (e) => void fallbacks.push(e.error));
  return { llm, a, written, fallbacks };
}

const piece = Buffer.alloc(16 * KiB, 'x');

describe('limits: a reply larger than its cap', () => {
  it('a chunked chat reply past maxResponseBytes is a ProviderResponseError that falls back and counts', async () => {
    const { llm, written } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        return pump(res, 64 * 1024 * KiB, piece);
      },
      { maxResponseBytes: 64 * KiB },
    );
    const reply = await llm.chat({ model: 'mana/x', messages: USER });
    expect(reply.choices[0]?.message.content).toBe('served by b');
    const err = reply.routing.attempts[0]?.error;
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxResponseBytes');
    expect(llm.health().providers.a?.consecutiveFailures).toBe(1);
    // The request was cancelled near the cap, not read to its end (64 MiB).
    expect(await written[0]).toBeLessThan(8 * 1024 * KiB);
  });

  it('a Content-Length past the cap is refused before the body is read', async () => {
    const { llm, written } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 ** 3) });
        return pump(res, 2 * 1024 ** 3, piece);
      },
      { maxResponseBytes: 64 * KiB },
    );
    const reply = await llm.chat({ model: 'mana/x', messages: USER });
    expect(reply.routing.attempts[0]?.error).toBeInstanceOf(ProviderResponseError);
    expect(await written[0]).toBeLessThan(8 * 1024 * KiB);
  });

  it('a Content-Length past the cap is refused at the headers, long before as many bytes as the cap are read', async () => {
    // A cap larger than what the sockets buffer on their own: reading up to it and refusing only then (the body as
    // it arrives) would let the upstream write all of it; refused at the headers, it writes little more than what
    // the sockets hold.
    const cap = 48 * 1024 * KiB;
    const { llm, written } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 ** 3) });
        return pump(res, 2 * 1024 ** 3, piece);
      },
      { maxResponseBytes: cap },
    );
    const reply = await llm.chat({ model: 'mana/x', messages: USER });
    expect(reply.choices[0]?.message.content).toBe('served by b');
    const err = reply.routing.attempts[0]?.error;
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxResponseBytes');
    // ~4 MB here (what the two sockets buffer); read up to the cap it was over 48 MiB.
    expect(await written[0]).toBeLessThan(cap / 2);
  });

  it('a reply of exactly maxResponseBytes is read', async () => {
    const reply = JSON.stringify({
      id: 'r',
      choices: [{ index: 0, message: { role: 'assistant', content: 'fits' }, finish_reason: 'stop' }],
    });
    const { llm } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(reply);
        return undefined;
      },
      { maxResponseBytes: Buffer.byteLength(reply) },
    );
    const out = await llm.chat({ model: 'mana/x', messages: USER });
    expect(out.choices[0]?.message.content).toBe('fits');
  });

  it('embeddings are held to maxEmbeddingResponseBytes, not maxResponseBytes', async () => {
    const vector = Array.from({ length: 2048 }, (_, i) => i / 4096);
    const body = JSON.stringify({ data: [{ index: 0, embedding: vector }], model: 'm' });
    const reply = (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      return undefined;
    };
    const small = await setup(reply, { maxResponseBytes: 4 * KiB, maxEmbeddingResponseBytes: 64 * KiB });
    const ok = await small.llm.embed({ model: 'a/m', input: ['a'] });
    expect(ok.data[0]?.embedding).toEqual(vector);
    const capped = await setup(reply, { maxEmbeddingResponseBytes: 4 * KiB });
    const err = (
      (await rejection(capped.llm.embed({ model: 'a/m', input: ['a'] }))) as NoHealthyProviderError
    ).attempts[0]?.error;
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxEmbeddingResponseBytes');
  });

  it('an error body past maxErrorBodyBytes is cut, the status still classifies it', async () => {
    const { llm, written } = await setup(
      (res) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        return pump(res, 32 * 1024 * KiB, piece);
      },
      { maxErrorBodyBytes: 4 * KiB },
    );
    const reply = await llm.chat({ model: 'mana/x', messages: USER });
    const err = reply.routing.attempts[0]?.error as ProviderHTTPError;
    expect(err).toBeInstanceOf(ProviderHTTPError);
    expect(err.status).toBe(503);
    expect(err.message.length).toBeLessThan(500);
    expect(await written[0]).toBeLessThan(8 * 1024 * KiB);
  });
});

describe('limits: a stream frame larger than maxFrameBytes', () => {
  it('an SSE line that never ends is a ProviderResponseError before commit: the chain falls back', async () => {
    const { llm, written, fallbacks } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"choices":[{"index":0,"delta":{"content":"');
        return pump(res, 64 * 1024 * KiB, piece, false);
      },
      { maxFrameBytes: 64 * KiB },
    );
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('served by b');
    const err = fallbacks[0];
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxFrameBytes');
    expect(await written[0]).toBeLessThan(8 * 1024 * KiB);
  });

  it('an SSE line one character past the cap is refused while it waits for its line end', async () => {
    const { llm, fallbacks } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // No line end and no end of body: only the cap can end this attempt.
        res.write(`data: ${'x'.repeat(64 * KiB - 5)}`);
        return undefined;
      },
      { maxFrameBytes: 64 * KiB },
    );
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('served by b');
    expect(fallbacks[0]?.message).toContain('limits.maxFrameBytes');
  });

  it('an SSE event of many data lines is held to the cap as a whole', async () => {
    const { llm, fallbacks } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return pump(res, 64 * 1024 * KiB, Buffer.from(`data: ${'y'.repeat(1000)}\n`), false);
      },
      { maxFrameBytes: 64 * KiB },
    );
    await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(fallbacks[0]).toBeInstanceOf(ProviderResponseError);
    expect(fallbacks[0]?.message).toContain('limits.maxFrameBytes');
  });

  it('an Ollama NDJSON line that never ends is a ProviderResponseError before commit: the chain falls back', async () => {
    const { llm, written, fallbacks } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(
          '{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"',
        );
        return pump(res, 64 * 1024 * KiB, piece, false);
      },
      { maxFrameBytes: 64 * KiB },
      'openai',
      'ollama',
    );
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('served by b');
    expect(fallbacks[0]).toBeInstanceOf(ProviderResponseError);
    expect(fallbacks[0]?.message).toContain('limits.maxFrameBytes');
    expect(await written[0]).toBeLessThan(8 * 1024 * KiB);
  });

  it('a frame just under the cap streams as usual', async () => {
    const content = 'z'.repeat(30 * KiB);
    const frame = JSON.stringify({
      id: 'c',
      choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: 'stop' }],
    });
    const { llm } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${frame}\n\ndata: [DONE]\n\n`);
        return undefined;
      },
      { maxFrameBytes: frame.length },
    );
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(content);
  });

  it('a whole frame just over the cap is refused: the chain falls back', async () => {
    const content = 'z'.repeat(30 * KiB);
    const frame = JSON.stringify({
      id: 'c',
      choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: 'stop' }],
    });
    const { llm, fallbacks } = await setup(
      (res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${frame}\n\ndata: [DONE]\n\n`);
        return undefined;
      },
      { maxFrameBytes: frame.length - 1 },
    );
    const chunks = await collect(llm.stream({ model: 'mana/x', messages: USER }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('served by b');
    expect(fallbacks[0]).toBeInstanceOf(ProviderResponseError);
    expect(fallbacks[0]?.message).toContain('limits.maxFrameBytes');
  });
  it("a llama.cpp `error:` line at the cap is the error it says; one character past, the cap's", async () => {
    const said = JSON.stringify({ code: 503, message: 'Loading model', type: 'unavailable_error' });
    const at = async (maxFrameBytes: number) => {
      const { llm, fallbacks } = await setup(
        (res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(`error: ${said}\n\ndata: [DONE]\n\n`);
          return undefined;
        },
        { maxFrameBytes },
      );
      // b's frames are past so small a cap too: only a's error matters here.
      await rejection(collect(llm.stream({ model: 'mana/x', messages: USER })));
      return fallbacks[0];
    };
    const atCap = await at(said.length);
    expect(atCap).toMatchObject({ status: 503 });
    expect(atCap?.message).not.toContain('limits.maxFrameBytes');
    expect((await at(said.length - 1))?.message).toContain('limits.maxFrameBytes');
  });
});

describe('limits: options', () => {
  it('every cap must be a positive integer; the path names it', () => {
    const err = (() => {
      try {
        createManaLLM({
          providers: { ollama: {} },
          aliases: { aliases: { 'mana/x': { chain: ['ollama/m'] } } },
          limits: { maxResponseBytes: 0, maxFrameBytes: 1.5, maxErrorBodyBytes: -1 },
          health: { probes: false },
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'limits.maxErrorBodyBytes',
      'limits.maxFrameBytes',
      'limits.maxResponseBytes',
    ]);
  });
});
