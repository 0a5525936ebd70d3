import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireLimitError } from './limits.js';
import { NDJSONLines } from './ndjson.js';

const enc = new TextEncoder();

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...at, bytes.length].map((c, i) => bytes.subarray(i === 0 ? 0 : (at[i - 1] ?? 0), c));
}

async function lines(chunks: Uint8Array[], maxLine = 1 << 20): Promise<string[]> {
  const reader = new NDJSONLines(maxLine);
  const out: string[] = [];
  for (const chunk of chunks) out.push(...reader.push(chunk));
  out.push(...reader.end());
  return out;
}

const doc = fc.record({
  values: fc.array(fc.jsonValue(), { maxLength: 10 }),
  eol: fc.constantFrom('\n', '\r\n'),
  // Blank and whitespace-only lines that servers emit as keep-alives.
  filler: fc.array(fc.constantFrom('', ' ', '\t', '  \t '), { maxLength: 10 }),
  trailing: fc.boolean(),
});

describe('NDJSONLines', () => {
  it('yields each JSON line unparsed, at any chunk boundary, skipping blank lines', async () => {
    await fc.assert(
      fc.asyncProperty(doc, fc.array(fc.nat(), { maxLength: 24 }), async (d, cuts) => {
        const json = d.values.map((v) => JSON.stringify(v));
        const rows = json.flatMap((j, i) => (d.filler[i] === undefined ? [j] : [d.filler[i], j]));
        const bytes = enc.encode(rows.join(d.eol) + (d.trailing ? d.eol : ''));
        expect(await lines(split(bytes, cuts))).toEqual(json);
        expect(await lines(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toEqual(json);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on garbage, and chunking never changes the result', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 24 }),
        async (b, cuts) => {
          expect(await lines(split(b, cuts))).toEqual(await lines([b]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a final line without newline, and multi-byte characters split across chunks', async () => {
    const bytes = enc.encode('{"a":"é"}\r\n\n{"done":true,"s":"😀"}');
    expect(await lines(split(bytes, [8, 10, 11, 30]))).toEqual(['{"a":"é"}', '{"done":true,"s":"😀"}']);
  });

  it('refuses a line longer than the cap at any chunking, and keeps one at the cap', async () => {
    const max = 64;
    const atCap = `{"s":"${'x'.repeat(max - 8)}"}`;
    const over = `{"s":"${'x'.repeat(max - 7)}"}`;
    expect(atCap.length).toBe(max);
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), async (ended, c) => {
        const ok = enc.encode(`${atCap}\n${atCap}`);
        expect(await lines(split(ok, c), max)).toEqual([atCap, atCap]);
        // Ended by a line break or not, completed in one read or still arriving: refused all the same.
        const bad = enc.encode(`{"a":1}\n${over}${ended ? '\n' : ''}`);
        await expect(lines(split(bad, c), max)).rejects.toThrow(WireLimitError);
        await expect(lines(split(bad, c), max)).rejects.toThrow('limits.maxFrameBytes');
        // A line still arriving is refused as soon as it is over, not when the body ends.
        const reader = new NDJSONLines(max);
        expect(() => {
          for (const chunk of split(enc.encode(over), c)) reader.push(chunk);
        }).toThrow(WireLimitError);
      }),
      { numRuns: 200 },
    );
  });

  it('reads a long line sent one byte at a time without searching what it already holds again', async () => {
    // Searching the whole pending line on every read would make this ~3·10^10 character steps: the test would hang.
    const line = `{"s":"${'x'.repeat(256 * 1024)}"}`;
    const reader = new NDJSONLines(1 << 20);
    const bytes = enc.encode(`${line}\n`);
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...reader.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual([line]);
  });

  it('passes malformed lines through for the caller to reject', async () => {
    expect(await lines([enc.encode('{"broken\nnot json\n')])).toEqual(['{"broken', 'not json']);
  });
});

/** One chunk per byte: every possible boundary at once. */
const bytewise = (bytes: Uint8Array): Uint8Array[] => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));

/** Independent oracle: split on CRLF, CR or LF, and drop the blank lines. */
function oracle(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
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

describe('NDJSONLines: line splitting', () => {
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
    expect(await lines([enc.encode('a\r'), enc.encode('\rb\r\n')])).toEqual(['a', 'b']);
  });

  it('drops a byte order mark only at the start of the body, not at the start of a later read', async () => {
    expect(await lines([enc.encode('\uFEFF{"a":'), enc.encode('\uFEFF1}\n')])).toEqual(['{"a":\uFEFF1}']);
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
