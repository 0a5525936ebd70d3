import { ProviderHTTPError } from '../errors.js';
import type { Embeddings } from '../types.js';
import type { AdapterEmbedRequest } from './adapter.js';
import type { CallMeta } from './endpoint.js';
import { badResponse } from './error-mapping.js';
import { isCount } from './json-shapes.js';

/**
 * The `/embeddings` request body with `encoding_format` set to `format`. Unless the caller chose, the adapter asks
 * for base64 as the official OpenAI SDKs do: little-endian float32 bytes are about 40 % of the text of the same
 * vectors as JSON numbers, and decoding them is cheaper than parsing numbers (docs/embeddings.md).
 */
export function embeddingsBody(request: AdapterEmbedRequest, format: 'float' | 'base64'): string {
  return JSON.stringify({ ...request, encoding_format: format });
}

/**
 * Whether an error says the server cannot do the asked `encoding_format`: a 400 or 422 that names it (or base64).
 * A key, rate-limit, context-length, server or network failure says nothing about the format.
 */
export function refusesFormat(err: unknown): boolean {
  return (
    err instanceof ProviderHTTPError &&
    (err.status === 400 || err.status === 422) &&
    !err.contextLength &&
    /encoding_format|base64/i.test(err.message)
  );
}

/**
 * A reply with no vectors at all (`data` missing or empty): what OpenRouter answers base64 requests for models it
 * cannot encode. A list of the wrong length is just malformed.
 */
export const isEmptyList = (data: unknown): boolean => !Array.isArray(data) || data.length === 0;

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
  // Well-formed base64 of n characters, `pad` of them trailing `=`, decodes to 3n/4 - pad bytes.
  if (bytes.length !== ((text.length * 3) >> 2) - pad || bytes.length % 4 !== 0) return undefined;
  const n = bytes.length >> 2;
  const out: number[] = new Array(n);
  // A DataView reads little-endian floats at any byte offset, on any host, as fast as a Float32Array.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < n; i++) {
    const x = view.getFloat32(i * 4, true);
    // NaN and ±Infinity are the values for which x - x is not 0.
    if (x - x !== 0) return undefined;
    out[i] = x;
  }
  return out;
}

/**
 * One item's vector: a base64 text is decoded, an array of finite numbers passes as it is (servers that ignore
 * `encoding_format` answer floats whatever was asked), anything else is undefined.
 */
function vectorOf(embedding: unknown): number[] | undefined {
  if (typeof embedding === 'string') return decodeVector(embedding);
  if (Array.isArray(embedding) && embedding.every(Number.isFinite)) return embedding as number[];
  return undefined;
}

/**
 * The vectors of an `/embeddings` reply, one per input in input order, as `Embeddings['data']`.
 * @throws ProviderResponseError when the count is wrong, an index is out of range or repeated, a vector is malformed
 *   or empty, or the vectors' lengths differ
 */
export function embeddingsData(data: unknown, inputs: number, meta: CallMeta): Embeddings['data'] {
  if (!Array.isArray(data) || data.length !== inputs)
    throw badResponse(meta, `expected ${inputs} embeddings`);
  const out: Embeddings['data'] = new Array(data.length);
  let dimension = -1;
  for (let i = 0; i < data.length; i++) {
    const d = data[i] as { index?: unknown; embedding?: unknown } | null;
    // No index (some servers send none) is the item's position; any other kind is malformed, never a position.
    const index = d?.index ?? i;
    if (!isCount(index) || index >= data.length || out[index]) throw badResponse(meta, 'malformed embedding');
    const embedding = vectorOf(d?.embedding);
    if (embedding === undefined) throw badResponse(meta, 'malformed embedding');
    // The first vector sets the reply's one dimension; every later one must have it.
    if (embedding.length !== dimension) {
      if (i > 0 || embedding.length === 0)
        throw badResponse(meta, 'embeddings empty or of different lengths');
      dimension = embedding.length;
    }
    out[index] = { object: 'embedding', index, embedding };
  }
  return out;
}
