import { isJsonObject } from '../providers/json-shapes.js';
import { cleanText } from '../redact.js';
import { HttpError } from './errors.js';
import type { IncomingCall } from './handle.js';

function tooLarge(max: number): HttpError {
  // The connection is closed after the answer: the rest of the body is not read.
  return new HttpError(413, 'request_too_large', `request body larger than ${max} bytes`, null, {
    connection: 'close',
  });
}

/**
 * Reads a JSON object body, never more than `max` bytes: a declared length over the cap is refused before reading,
 * a body that grows past it is dropped at that point.
 * @throws HttpError 413 when too large, 400 when it is not a JSON object
 */
export async function readJsonObject(call: IncomingCall, max: number): Promise<Record<string, unknown>> {
  // The framework read the stream and applied its own size limit: what it parsed is all there is.
  let value = call.parsed;
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) {
    const declared = call.header('content-length');
    if (declared !== undefined && Number(declared) > max) throw tooLarge(max);
    const type = call.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type && type !== 'application/json' && !type.endsWith('+json'))
      throw new HttpError(
        415,
        'unsupported_media_type',
        `expected an application/json body, got ${cleanText(type, 100)}`,
      );
    const parts: Uint8Array[] = [];
    let size = 0;
    // A framework that kept the bytes (express.raw(), Fastify's parseAs 'buffer') has read the stream already.
    for await (const chunk of Buffer.isBuffer(value) ? [value] : call.chunks()) {
      size += chunk.byteLength;
      if (size > max) throw tooLarge(max);
      parts.push(chunk);
    }
    if (size === 0)
      throw new HttpError(400, 'invalid_json', 'the request body is empty; expected a JSON object');
    try {
      value = JSON.parse(Buffer.concat(parts, size).toString('utf8'));
    } catch {
      // Not the parser's message: it quotes the body, which a log or proxy should not see.
      throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
    }
  }
  if (!isJsonObject(value))
    throw new HttpError(400, 'invalid_json', 'the request body must be a JSON object');
  return value;
}
