import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatChunk, createManaLLM } from '../../src/index.js';
import { createFakeClock } from '../../src/testing/index.js';
import { BASE_PATH, corpusDir, corpusMissing, loadCorpus, pathOf, type Transcript } from './corpus.js';
import { type ReplayServer, startReplayServer } from './replay-server.js';

/**
 * Property: however the network cuts a recorded stream (inside a UTF-8 character, between CR and LF, inside a
 * `data:` prefix, one byte per write), the caller receives exactly the chunks of the unsplit replay. Deterministic:
 * a seeded PRNG per transcript, a bounded number of cuttings. See test/conformance/transcripts.test.ts for the corpus.
 */

const dir = corpusDir();
const streams = (loadCorpus(dir) ?? []).filter((t) => t.call === 'stream');

/** mulberry32: a small seeded PRNG, so a failure replays exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Offsets where a cut is most likely to break a careless reader. */
function trickyOffsets(body: Buffer): number[] {
  const out = new Set<number>();
  const text = body.toString('latin1'); // one char per byte
  for (let i = 1; i < body.length; i++) {
    const b = body[i] as number;
    if ((b & 0xc0) === 0x80) out.add(i); // inside a multi-byte UTF-8 character
    if (body[i - 1] === 0x0d && b === 0x0a) out.add(i); // between CR and LF
    if (body[i - 1] === 0x0a && (b === 0x0a || b === 0x0d)) out.add(i); // inside a blank line
  }
  for (const m of text.matchAll(/data:|event:/g)) for (let k = 1; k <= m[0].length; k++) out.add(m.index + k);
  return [...out].filter((i) => i > 0 && i < body.length).sort((a, b) => a - b);
}

const ONE_BYTE_HEAD = 1536;
const ONE_BYTE_TAIL = 512;

/** One byte per write over the head and tail of the body; the middle (if any) in one write. */
function oneByteCuts(len: number): number[] {
  const cuts: number[] = [];
  for (let i = 1; i <= Math.min(len, ONE_BYTE_HEAD); i++) cuts.push(i);
  for (let i = Math.max(ONE_BYTE_HEAD + 1, len - ONE_BYTE_TAIL); i <= len; i++) cuts.push(i);
  return cuts;
}

/** Each tricky offset cut with probability 1/2, plus random cuts about every 200 bytes. */
function randomCuts(body: Buffer, tricky: number[], rand: () => number): number[] {
  const cuts = new Set<number>([body.length]);
  for (const i of tricky) if (rand() < 0.5) cuts.add(i);
  for (let i = 1 + Math.floor(rand() * 200); i < body.length; i += 1 + Math.floor(rand() * 400)) cuts.add(i);
  return [...cuts].sort((a, b) => a - b);
}

interface Received {
  chunks: ChatChunk[];
  error?: { name: string; message: string };
}

const RANDOM_ROUNDS = 3;

if (streams.length === 0) corpusMissing(dir);
else
  describe(`stream transcripts cut at random byte boundaries (${streams.length})`, () => {
    let server: ReplayServer;
    beforeAll(async () => {
      server = await startReplayServer();
    });
    afterAll(() => server.close());

    async function receive(t: Transcript, cuts: readonly number[]): Promise<Received> {
      server.serve({ transcript: t, way: 'whole', cuts }, pathOf(t));
      const llm = createManaLLM({
        aliases: { aliases: { 'mana/unused': { chain: ['p/unused'] } } },
        providers: {
          p: { type: t.protocol, baseUrl: `${server.origin}${BASE_PATH[t.protocol]}`, apiKey: 'test-key' },
        },
        clock: createFakeClock(),
        health: { probes: false },
      });
      const out: Received = { chunks: [] };
      try {
        const stream = llm.stream({
          model: `p/${t.model}`,
          messages: [{ role: 'user', content: 'Hi' }],
          stream_options: { include_usage: true },
        });
        for await (const c of stream) out.chunks.push(c);
      } catch (err) {
        out.error = { name: (err as Error).name, message: (err as Error).message };
      } finally {
        await llm.close();
      }
      return out;
    }

    /** Generated ids (the stream's, a tool call's the provider did not name) differ per call: compare them by position. */
    function normalized(r: Received): unknown {
      const ids = new Map<string, string>();
      const label = (id: string) => {
        if (!ids.has(id)) ids.set(id, `#${ids.size}`);
        return ids.get(id);
      };
      const chunks = JSON.parse(JSON.stringify(r.chunks), (key, value) =>
        key === 'id' && typeof value === 'string' ? label(value) : value,
      );
      return { chunks, error: r.error };
    }

    for (const t of streams)
      it(`${t.protocol}/${t.id}`, { timeout: 60_000 }, async () => {
        const want = normalized(await receive(t, [t.body.length]));
        const rand = prng(seedOf(t.id));
        const tricky = trickyOffsets(t.body);
        const cuttings = [oneByteCuts(t.body.length)];
        for (let round = 0; round < RANDOM_ROUNDS; round++) cuttings.push(randomCuts(t.body, tricky, rand));
        for (const [round, cuts] of cuttings.entries())
          expect(normalized(await receive(t, cuts)), `cutting ${round} (${cuts.length} writes)`).toEqual(
            want,
          );
      });
  });
