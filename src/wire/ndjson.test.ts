import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

  it('passes malformed lines through for the caller to reject', async () => {
    expect(await lines([enc.encode('{"broken\nnot json\n')])).toEqual(['{"broken', 'not json']);
  });
});
