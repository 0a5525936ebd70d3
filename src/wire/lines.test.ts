import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from './lines.js';

const enc = new TextEncoder();

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range values allowed). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** One chunk per byte: every possible boundary at once. */
const bytewise = (bytes: Uint8Array): Uint8Array[] => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));

async function lines(chunks: Uint8Array[], maxLine = 1 << 20): Promise<string[]> {
  const splitter = new LineSplitter(maxLine);
  const out: string[] = [];
  for (const c of chunks) splitter.push(c, out);
  splitter.end(out);
  return out;
}

/** Independent oracle: split on CRLF, CR or LF; a trailing break does not open another line. */
function oracle(text: string): string[] {
  const parts = text.split(/\r\n|\r|\n/);
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

// Text built from pieces that stress the parser: line breaks of every kind and multi-byte characters.
const piece = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('\n', '\r', '\r\n', '\n\r', 'é', '€', '😀', '\u2028', ' '),
);
const text = fc
  .array(piece, { maxLength: 30 })
  .map((p) => new TextDecoder().decode(enc.encode(p.join('').replace(/^\uFEFF/, ''))));
const cuts = fc.array(fc.nat(), { maxLength: 24 });

describe('LineSplitter', () => {
  it('splits on LF, CRLF and lone CR, at any chunk boundary', async () => {
    await fc.assert(
      fc.asyncProperty(text, cuts, async (t, c) => {
        const bytes = enc.encode(t);
        expect(await lines(split(bytes, c))).toEqual(oracle(t));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same lines when every byte arrives alone', async () => {
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        expect(await lines(bytewise(enc.encode(t)))).toEqual(oracle(t));
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on garbage bytes, and chunking never changes the result', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), cuts, async (bytes, c) => {
        expect(await lines(split(bytes, c))).toEqual(await lines([bytes]));
      }),
      { numRuns: 300 },
    );
  });

  it('decodes bad bytes and a byte order mark exactly as TextDecoder does, at any chunking', async () => {
    // Lead, continuation, overlong, surrogate and BOM bytes, so that broken sequences are common.
    const bytes = fc
      .array(
        fc.constantFrom(
          0x41,
          0x0a,
          0x0d,
          0xc2,
          0xa9,
          0xe2,
          0x82,
          0xac,
          0xf0,
          0x9f,
          0x98,
          0x80,
          0xbf,
          0xc0,
          0xff,
          0xed,
          0xa0,
          0xef,
          0xbb,
        ),
        {
          maxLength: 40,
        },
      )
      .map((a) => Uint8Array.from(a));
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytes, fc.uint8Array({ maxLength: 60 })), cuts, async (b, c) => {
        expect(await lines(split(b, c))).toEqual(oracle(new TextDecoder().decode(b)));
      }),
      { numRuns: 2000 },
    );
    expect(await lines([Uint8Array.of(0xef, 0xbb), Uint8Array.of(0xbf, 0x61)])).toEqual(['a']);
  });

  it('treats CR and LF split across chunks as one line end', async () => {
    expect(await lines([enc.encode('a\r'), enc.encode('\nb\r'), enc.encode('\n')])).toEqual(['a', 'b']);
    expect(await lines([enc.encode('a\r'), enc.encode('\r\n')])).toEqual(['a', '']);
  });

  it('decodes a character split inside its UTF-8 bytes', async () => {
    const bytes = enc.encode('€😀\n');
    expect(await lines([bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)])).toEqual(['€😀']);
  });

  it('yields a final line without a break, and nothing for an empty body', async () => {
    expect(await lines([enc.encode('a\nlast')])).toEqual(['a', 'last']);
    expect(await lines([])).toEqual([]);
    expect(await lines([new Uint8Array(0)])).toEqual([]);
  });
});
