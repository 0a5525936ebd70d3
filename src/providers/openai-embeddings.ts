import { endianness } from 'node:os';
import type { Embeddings } from '../types.js';
import type { AdapterEmbedRequest } from './adapter.js';
import type { CallMeta } from './endpoint.js';
import { badResponse } from './error-mapping.js';

/**
 * The `/embeddings` request body. Unless the caller chose a format, it asks for `encoding_format: "base64"` as the
 * official OpenAI SDKs do: little-endian float32 bytes are about 40 % of the text of the same vectors as JSON
 * numbers, and decoding them is cheaper than parsing numbers (docs/embeddings.md).
 */
export function embeddingsBody(request: AdapterEmbedRequest): string {
  if (request.encoding_format !== undefined) return JSON.stringify(request);
  return JSON.stringify({ ...request, encoding_format: 'base64' });
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Length in bytes that a base64 text of `n` characters, `pad` of them trailing `=`, decodes to when well formed. */
const decodedLength = (n: number, pad: number): number => ((n * 3) >> 2) - pad;

/**
 * A base64 vector as numbers, or undefined when it is not little-endian float32 bytes of finite values: a text
 * with characters outside the alphabet (Node's decoder skips them, so the decoded length comes out short) or of
 * an impossible length, a byte count that is not a multiple of 4, NaN or an infinity.
 */
function decodeVector(text: string): number[] | undefined {
  // A length of 4k + 1 is never base64: its last character would carry no whole byte.
  if (text.length % 4 === 1) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== decodedLength(text.length, pad) || bytes.length % 4 !== 0) return undefined;
  const n = bytes.length >> 2;
  const out: number[] = new Array(n);
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    const floats = new Float32Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const x = floats[i] as number;
      // NaN and ±Infinity are the values for which x - x is not 0.
      if (x - x !== 0) return undefined;
      out[i] = x;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const x = bytes.readFloatLE(i * 4);
      if (x - x !== 0) return undefined;
      out[i] = x;
    }
  }
  return out;
}

const isFiniteNumber = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

/**
 * One item's vector: a base64 text is decoded, an array of finite numbers passes as it is (servers that ignore
 * `encoding_format` answer floats whatever was asked), anything else is undefined.
 */
function vectorOf(embedding: unknown): number[] | undefined {
  if (typeof embedding === 'string') return decodeVector(embedding);
  if (Array.isArray(embedding) && embedding.every(isFiniteNumber)) return embedding as number[];
  return undefined;
}

/**
 * The vectors of an `/embeddings` reply, one per input in input order, as `Embeddings['data']`.
 * @throws ProviderResponseError when the count is wrong, an index is out of range or repeated, or a vector is malformed
 */
export function embeddingsData(data: unknown, inputs: number, meta: CallMeta): Embeddings['data'] {
  if (!Array.isArray(data) || data.length !== inputs)
    throw badResponse(meta, `expected ${inputs} embeddings`);
  const out: Embeddings['data'] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const d = data[i] as { index?: unknown; embedding?: unknown } | null;
    const index = typeof d?.index === 'number' ? d.index : i;
    if (!Number.isInteger(index) || index < 0 || index >= data.length || out[index] !== undefined)
      throw badResponse(meta, 'malformed embedding');
    const embedding = vectorOf(d?.embedding);
    if (embedding === undefined) throw badResponse(meta, 'malformed embedding');
    out[index] = { object: 'embedding', index, embedding };
  }
  return out;
}
