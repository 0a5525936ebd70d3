import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSSE, type SSEEvent } from './sse.js';

const enc = new TextEncoder();

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...at, bytes.length].map((c, i) => bytes.subarray(i === 0 ? 0 : (at[i - 1] ?? 0), c));
}

async function events(chunks: Uint8Array[] | string, maxFrame = 1 << 20): Promise<SSEEvent[]> {
  const parts = typeof chunks === 'string' ? [enc.encode(chunks)] : chunks;
  const out: SSEEvent[] = [];
  for await (const e of readSSE(
    (async function* () {
      yield* parts;
    })(),
    maxFrame,
  ))
    out.push(e);
  return out;
}

// Field values never contain a line break; they may hold anything else, multi-byte characters included.
const value = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 16 }),
    fc.constantFrom('', ' lead', '€', '😀 ok', '{"a":[1,2]}', 'data: nested', ': not a comment'),
  )
  .map((s) => s.replace(/[\r\n]/g, ''));
const event = fc.record({
  event: fc.option(
    value.filter((v) => !v.startsWith(' ')),
    { nil: undefined },
  ),
  data: fc.array(value, { minLength: 1, maxLength: 4 }),
  comment: fc.option(value, { nil: undefined }),
  id: fc.boolean(),
});
const doc = fc.record({
  events: fc.array(event, { maxLength: 8 }),
  eol: fc.constantFrom('\n', '\r\n', '\r'),
  closed: fc.boolean(),
});

type Doc = typeof doc extends fc.Arbitrary<infer T> ? T : never;

/** Writes events the way servers do: comments, `event:`, `id:`, one `data:` line per data line. */
function serialize({ events: evs, eol, closed }: Doc): string {
  return evs
    .map((e, i) => {
      const lines: string[] = [];
      if (e.comment !== undefined) lines.push(`:${e.comment}`);
      if (e.event !== undefined) lines.push(`event: ${e.event}`);
      if (e.id) lines.push(`id: ${i}`);
      for (const d of e.data) lines.push(`data: ${d}`);
      // The last block may end without its blank line (some servers stop right after `data: [DONE]`).
      const last = i === evs.length - 1;
      return lines.join(eol) + eol + (last && !closed ? '' : eol);
    })
    .join('');
}

// An empty `event:` name is the default type (WHATWG): a plain message.
const expected = (evs: { event?: string | undefined; data: string[] }[]): SSEEvent[] =>
  evs.map((e) =>
    e.event === undefined || e.event === ''
      ? { data: e.data.join('\n') }
      : { event: e.event, data: e.data.join('\n') },
  );

describe('readSSE', () => {
  it('parses events identically at any chunk boundary, for LF, CRLF and CR', async () => {
    await fc.assert(
      fc.asyncProperty(doc, fc.array(fc.nat(), { maxLength: 24 }), async (d, cuts) => {
        const bytes = enc.encode(serialize(d));
        expect(await events(split(bytes, cuts))).toEqual(expected(d.events));
      }),
      { numRuns: 300 },
    );
  });

  it('parses identically when every byte arrives alone', async () => {
    await fc.assert(
      fc.asyncProperty(doc, async (d) => {
        const bytes = enc.encode(serialize(d));
        const one = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
        expect(await events(one)).toEqual(expected(d.events));
      }),
      { numRuns: 60 },
    );
  });

  it('never throws on garbage, and chunking never changes the result', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .array(
          fc.constantFrom('data:', 'data: x', 'event:e', ':', '\r', '\n', 'id', '€', '\xff', 'retry: 1'),
          {
            maxLength: 40,
          },
        )
        .map((p) => enc.encode(p.join(''))),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.array(fc.nat(), { maxLength: 24 }), async (bytes, cuts) => {
        expect(await events(split(bytes, cuts))).toEqual(await events([bytes]));
      }),
      { numRuns: 300 },
    );
  });

  it('joins multi-line data with LF and keeps the event name', async () => {
    expect(await events('event: message_start\r\ndata: {"a":\r\ndata: 1}\r\n\r\n')).toEqual([
      { event: 'message_start', data: '{"a":\n1}' },
    ]);
  });

  it('ignores comments, keep-alives, id/retry and unknown fields', async () => {
    const body = ': OPENROUTER PROCESSING\n\n:\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n';
    expect(await events(body)).toEqual([{ data: 'x' }]);
  });

  it('strips exactly one space after the colon; a bare `data` field is an empty line', async () => {
    expect(await events('data:x\n\ndata:  two\n\ndata\ndata\n\n')).toEqual([
      { data: 'x' },
      { data: ' two' },
      { data: '\n' },
    ]);
  });

  it('does not dispatch a block without data, and resets the event name per block', async () => {
    expect(await events('event: ping\n\ndata: a\n\n')).toEqual([{ data: 'a' }]);
  });

  it('yields a final block without its blank line', async () => {
    expect(await events('data: a\n\ndata: [DONE]')).toEqual([{ data: 'a' }, { data: '[DONE]' }]);
  });

  it('drops a byte order mark only at the start of the body, not at the start of a later read', async () => {
    expect(await events([enc.encode('\uFEFFdata: a'), enc.encode('\uFEFFb\n\n')])).toEqual([
      { data: 'a\uFEFFb' },
    ]);
  });

  it('skips a bad `retry:` and an `id:` holding NUL without losing the event', async () => {
    expect(await events('retry: soon\nid: a\0b\ndata: x\n\n')).toEqual([{ data: 'x' }]);
  });

  it("reads a character cut off by the body's end as U+FFFD, as TextDecoder does", async () => {
    const cut = Uint8Array.of(0xe2, 0x82); // the first two of the three bytes of €
    expect(await events([enc.encode('data: a'), cut])).toEqual([{ data: 'a\uFFFD' }]);
    expect(new TextDecoder().decode(Uint8Array.of(0x61, ...cut))).toBe('a\uFFFD');
  });

  it('handles CR and LF, and UTF-8 characters, split across chunks', async () => {
    const bytes = enc.encode('data: é😀\r\n\r\ndata: b\r\n\r\n');
    const cuts = [0, 7, 10, 13, 14, bytes.length]; // inside é, inside 😀, between CR and LF
    const chunks = cuts.slice(1).map((c, i) => bytes.subarray(cuts[i], c));
    expect(await events(chunks)).toEqual([{ data: 'é😀' }, { data: 'b' }]);
  });
});

describe("an `error:` line (llama.cpp's server before September 2025)", () => {
  it('is an `error` event, in order with the others', async () => {
    expect(await events('data: a\n\nerror: {"code":500}\n\ndata: [DONE]\n\n')).toEqual([
      { data: 'a' },
      { event: 'error', data: '{"code":500}' },
      { data: '[DONE]' },
    ]);
  });

  it('longer than the frame cap fails like any frame', async () => {
    await expect(events(`error: ${'x'.repeat(100)}\n\n`, 50)).rejects.toMatchObject({
      name: 'WireLimitError',
    });
  });

  it('other unknown fields are still skipped', async () => {
    expect(await events('foo: bar\n\ndata: a\n\n')).toEqual([{ data: 'a' }]);
  });
});
