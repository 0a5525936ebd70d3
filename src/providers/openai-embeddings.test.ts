import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rejection, testImages } from '../../test/helpers/adapter-kit.js';
import { systemClock } from '../clock.js';
import { ProviderResponseError } from '../errors.js';
import { DEFAULT_LIMITS } from '../options.js';
import { createHttp } from '../wire/http.js';
import type { AdapterEmbedRequest, ProviderAdapter } from './adapter.js';
import { createOpenAIAdapter } from './openai.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** Little-endian float32 bytes in base64, as the OpenAI API writes a vector for `encoding_format: "base64"`. */
function b64(values: number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  for (const [i, v] of values.entries()) bytes.writeFloatLE(v, i * 4);
  return bytes.toString('base64');
}

/** A reply with another status than 200. */
class Status {
  constructor(
    readonly status: number,
    readonly json: unknown,
  ) {}
}

interface Upstream {
  adapter: ProviderAdapter;
  /** Every request body the server received, parsed. */
  bodies: Record<string, unknown>[];
}

/** An OpenAI-compatible upstream answering each embeddings request with `reply(body)`. */
async function upstream(
  reply: (body: Record<string, unknown>) => unknown,
  maxEmbeddingResponseBytes = DEFAULT_LIMITS.maxEmbeddingResponseBytes,
): Promise<Upstream> {
  const bodies: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      bodies.push(body);
      const out = reply(body);
      const status = out instanceof Status ? out.status : 200;
      const json = out instanceof Status ? out.json : out;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof json === 'string' ? json : JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const http = createHttp({ connectMs: 2_000, limits: { ...DEFAULT_LIMITS, maxEmbeddingResponseBytes } });
  open.push(http, { close: () => new Promise<void>((r) => server.close(() => r())) });
  const { port } = server.address() as AddressInfo;
  const adapter = createOpenAIAdapter({
    config: { id: 'o', baseUrl: `http://127.0.0.1:${port}/v1`, headers: {} },
    http,
    clock: systemClock,
    images: testImages(),
  });
  return { adapter, bodies };
}

const ctx = () => ({ signal: new AbortController().signal });
const VECTORS = [
  [0.0057293195, -0.012727811, 0.020042092],
  [-0.037104916, 0.5, -1e-8],
];
const reply = (embeddings: unknown[]) => ({
  object: 'list',
  data: embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
  model: 'e',
  usage: { prompt_tokens: 4, total_tokens: 4 },
});
/** Answers base64 when asked for it, floats otherwise, like the OpenAI API. */
const likeOpenAI = (body: Record<string, unknown>) =>
  reply(body.encoding_format === 'base64' ? VECTORS.map(b64) : VECTORS);
const embed = (up: Upstream, extra: Partial<AdapterEmbedRequest> = {}) =>
  up.adapter.embed({ model: 'e', input: ['a', 'b'], ...extra }, ctx());

describe('openai adapter: embeddings as base64', () => {
  it('asks for base64 by default and decodes the float32 values, in index order', async () => {
    const up = await upstream((body) => {
      const r = likeOpenAI(body);
      r.data.reverse();
      return r;
    });
    const res = await embed(up);
    expect(up.bodies[0]).toEqual({ model: 'e', input: ['a', 'b'], encoding_format: 'base64' });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data.map((d) => d.embedding)).toEqual(VECTORS.map((v) => v.map(Math.fround)));
    expect(Array.isArray(res.data[0]?.embedding)).toBe(true);
    expect(res.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
  });

  it('usage: a missing total_tokens is the prompt_tokens (embeddings have no output tokens), a missing usage 0', async () => {
    const up = await upstream((body) => ({ ...likeOpenAI(body), usage: { prompt_tokens: 7 } }));
    expect((await embed(up)).usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
    const none = await upstream((body) => ({ ...likeOpenAI(body), usage: undefined }));
    expect((await embed(none)).usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
  });

  it("a caller's encoding_format is sent as it is; either way the result is arrays of numbers", async () => {
    const up = await upstream(likeOpenAI);
    const floats = await embed(up, { encoding_format: 'float' });
    expect(up.bodies[0]?.encoding_format).toBe('float');
    expect(floats.data.map((d) => d.embedding)).toEqual(VECTORS);
    const base64 = await embed(up, { encoding_format: 'base64' });
    expect(up.bodies[1]?.encoding_format).toBe('base64');
    expect(base64.data.map((d) => d.embedding)).toEqual(VECTORS.map((v) => v.map(Math.fround)));
  });

  it('a server that ignores encoding_format and answers floats still works, item by item', async () => {
    const up = await upstream(() => reply([VECTORS[0], b64(VECTORS[1] as number[])]));
    const res = await embed(up);
    expect(up.bodies[0]?.encoding_format).toBe('base64');
    expect(res.data[0]?.embedding).toEqual(VECTORS[0]);
    expect(res.data[1]?.embedding).toEqual((VECTORS[1] as number[]).map(Math.fround));
  });

  // An empty base64 text is an empty vector, as an empty array is: neither is an embedding (docs/embeddings.md).
  it.each([
    ["''", ''],
    ['[]', []],
  ])('an empty vector (%s) is a malformed reply', async (_, empty) => {
    const up = await upstream(() => reply([empty, empty]));
    const err = await rejection(embed(up));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('embeddings empty or of different lengths');
  });

  const nan = Buffer.from([0, 0, 0xc0, 0x7f]).toString('base64');
  const hostile: [string, unknown][] = [
    ['6 bytes: not a whole number of float32', Buffer.alloc(6).toString('base64')],
    ['a character outside the alphabet', `${b64([1, 2]).slice(0, 4)}$${b64([1, 2]).slice(5)}`],
    ['a length of 4k + 1', `${b64([1, 2])}A`],
    // Unpadded: the decoder drops the lone last character and the bytes left are whole floats.
    ['a length of 4k + 1 after whole floats', `${b64([1, 2, 3])}A`],
    ['too much padding', 'AAAA===='],
    // Node's decoder skips them: 16 good characters, 12 bytes, would pass as three floats.
    ['four characters outside the alphabet', 'AAAAAAAA$$$$AAAAAAAA'],
    ['a line break inside', 'AAAAAAAA\nAAAAAAAA'],
    ['NaN', nan],
    ['+Infinity', b64([1, Number.POSITIVE_INFINITY])],
    ['-Infinity', b64([Number.NEGATIVE_INFINITY])],
    ['a number', 42],
    ['an object', { base64: b64([1]) }],
    ['null', null],
  ];
  for (const [name, bad] of hostile) {
    it(`a vector that is ${name} is a malformed reply`, async () => {
      const up = await upstream(() => reply([b64([0.5]), bad]));
      const err = await rejection(embed(up));
      expect(err).toBeInstanceOf(ProviderResponseError);
      expect((err as Error).message).toContain('malformed embedding');
    });
  }

  it('an index that is not a whole number is a malformed reply', async () => {
    const up = await upstream(() => ({
      data: [
        { index: 0.5, embedding: b64([1]) },
        { index: 1, embedding: b64([1]) },
      ],
    }));
    expect(await rejection(embed(up))).toBeInstanceOf(ProviderResponseError);
  });

  const badIndexes: [string, unknown[]][] = [
    ['repeated', [0, 0]],
    ['out of range', [0, 2]],
    ['negative', [-1, 0]],
    ['repeated by an item without one (its position)', [1, undefined]],
  ];
  for (const [name, indexes] of badIndexes) {
    it(`an index that is ${name} is a malformed reply`, async () => {
      const up = await upstream(() => ({ data: indexes.map((index) => ({ index, embedding: b64([1]) })) }));
      expect(await rejection(embed(up))).toBeInstanceOf(ProviderResponseError);
    });
  }

  it('more vectors than inputs is a malformed reply', async () => {
    const up = await upstream(() => reply([b64([1]), b64([2]), b64([3])]));
    const err = await rejection(embed(up));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('expected 2 embeddings');
  });

  it('items without an index are in input order', async () => {
    const up = await upstream(() => ({ data: [{ embedding: b64([1]) }, { embedding: b64([2]) }] }));
    expect((await embed(up)).data.map((d) => [d.index, d.embedding])).toEqual([
      [0, [1]],
      [1, [2]],
    ]);
  });

  it('an index that is not a number is a malformed reply, not taken as the position', async () => {
    const up = await upstream(() => ({
      data: [
        { index: '1', embedding: b64([1]) },
        { index: '0', embedding: b64([2]) },
      ],
    }));
    expect(await rejection(embed(up))).toBeInstanceOf(ProviderResponseError);
  });

  it('a base64 reply is held to limits.maxEmbeddingResponseBytes', async () => {
    const big = b64(Array.from({ length: 4096 }, (_, i) => i / 4096));
    const fits = await upstream(() => reply([big, big]), 64 * 1024);
    expect((await embed(fits)).data[1]?.embedding).toHaveLength(4096);
    const capped = await upstream(() => reply([big, big]), 16 * 1024);
    const err = await rejection(embed(capped));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('limits.maxEmbeddingResponseBytes');
  });
});

describe('openai adapter: servers that cannot answer base64', () => {
  const formats = (up: Upstream) => up.bodies.map((b) => b.encoding_format);
  const floatsOnly =
    (refusal: (body: Record<string, unknown>) => unknown) => (body: Record<string, unknown>) =>
      body.encoding_format === 'base64' ? refusal(body) : reply(VECTORS);

  const refusals: [string, () => unknown][] = [
    // OpenRouter answers some models' base64 requests with an empty list, or an error inside a 200.
    ['an empty list in a 200', () => ({ object: 'list', data: [], model: 'e' })],
    ['an error inside a 200', () => ({ error: { message: 'No successful provider responses' } })],
    [
      'a 400 naming the option',
      () =>
        new Status(400, {
          error: { message: "Invalid value for 'encoding_format'", type: 'invalid_request_error' },
        }),
    ],
    ['a 422 naming base64', () => new Status(422, { detail: 'base64 output is not supported' })],
  ];
  for (const [name, refusal] of refusals) {
    it(`${name}: asked again for floats, and for floats from then on (that model only)`, async () => {
      const up = await upstream(floatsOnly(refusal));
      expect((await embed(up)).data.map((d) => d.embedding)).toEqual(VECTORS);
      expect(formats(up)).toEqual(['base64', 'float']);
      expect((await embed(up)).data.map((d) => d.embedding)).toEqual(VECTORS);
      expect(formats(up)).toEqual(['base64', 'float', 'float']);
      await embed(up, { model: 'other' });
      expect(formats(up)).toEqual(['base64', 'float', 'float', 'base64', 'float']);
      await embed(up, { model: 'other' });
      expect(formats(up)).toEqual(['base64', 'float', 'float', 'base64', 'float', 'float']);
    });
  }

  it('a key, rate-limit, context-length, server error or a short list is not asked again', async () => {
    const errors = [
      new Status(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }),
      new Status(429, { error: { message: 'Rate limit reached', type: 'rate_limit_error' } }),
      new Status(400, {
        error: { message: 'maximum context length is 8192 tokens', code: 'context_length_exceeded' },
      }),
      // A too-long input is not the format's fault, even in a message that names it.
      new Status(400, {
        error: {
          message: 'maximum context length is 8192 tokens (encoding_format: base64)',
          code: 'context_length_exceeded',
        },
      }),
      new Status(503, { error: { message: 'overloaded' } }),
      new Status(400, { error: { message: "Invalid value for 'input'", type: 'invalid_request_error' } }),
      reply([b64([1])]),
    ];
    for (const err of errors) {
      const up = await upstream(() => err);
      await rejection(embed(up));
      expect(formats(up), JSON.stringify(err)).toEqual(['base64']);
    }
  });

  it('the adapter learns at most 256 models: the next one is asked for base64 each time, and still served', async () => {
    const up = await upstream(floatsOnly(() => ({ data: [] })));
    for (let i = 0; i < 256; i++) await embed(up, { model: `m${i}` });
    await embed(up, { model: 'm0' });
    expect(formats(up).slice(-1)).toEqual(['float']);
    const before = formats(up).length;
    await embed(up, { model: 'm256' });
    expect((await embed(up, { model: 'm256' })).data.map((d) => d.embedding)).toEqual(VECTORS);
    expect(formats(up).slice(before)).toEqual(['base64', 'float', 'base64', 'float']);
  });

  it("a caller's own base64 is not second-guessed", async () => {
    const up = await upstream(floatsOnly(() => ({ data: [] })));
    expect(await rejection(embed(up, { encoding_format: 'base64' }))).toBeInstanceOf(ProviderResponseError);
    expect(formats(up)).toEqual(['base64']);
  });

  it('when floats fail too, the float answer is the error and nothing is learnt', async () => {
    const up = await upstream(() => ({ data: [] }));
    const err = await rejection(embed(up));
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as Error).message).toContain('expected 2 embeddings');
    await rejection(embed(up));
    expect(formats(up)).toEqual(['base64', 'float', 'base64', 'float']);
  });
});
