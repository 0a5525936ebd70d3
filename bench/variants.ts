/**
 * The hand-made parts of mana-llm and their alternatives, as `bench/parts.ts` builds them: each variant is a copy of
 * src/ with files swapped for ones in bench/parts/ and small text patches. `npm run lint` checks that every variant
 * still applies to src/ (scripts/check-bench-variants.ts), so a part can be measured again at any time.
 */

export type RowId = 'chat' | 'c64' | 'stream' | 'obfuscated' | 'paced' | 'ollama' | 'cached';

/** One hand-made part and its alternative: files of `src/` replaced, or small text patches. */
export interface Variant {
  id: string;
  part: string;
  alternative: string;
  /** src-relative path → file in bench/parts/ that replaces it. */
  files?: Record<string, string>;
  patches?: { file: string; from: string; to: string }[];
  /**
   * The hand-made part was removed from src/ after measurement: the variant puts it back, and its gain is the
   * current code's cost over the variant's (so the table always reads "what the hand-made part saves").
   */
  removed?: boolean;
  /** Prepended to the first patched file (an import). */
  prepend?: string;
  /** The end-to-end rows this part is on the path of. */
  rows: RowId[];
}

export const VARIANTS: Variant[] = [
  {
    id: 'body',
    part: 'response body on the dispatch handler API (wire/response-body.ts, wire/http.ts)',
    alternative: '`undici.request()` and its body (a Node Readable), same Agent options and caps',
    files: { 'wire/http.ts': 'http-request.ts' },
    rows: ['chat', 'c64', 'stream', 'obfuscated', 'paced', 'ollama'],
  },
  {
    id: 'cancel',
    part: 'cancel token (wire/cancel.ts)',
    alternative: 'an AbortController per attempt, requests listening to its AbortSignal',
    files: { 'wire/cancel.ts': 'cancel-abortsignal.ts' },
    rows: ['chat', 'c64', 'stream', 'obfuscated', 'paced', 'ollama'],
  },
  {
    id: 'sse',
    part: 'hand-made pull SSE parser (removed from src/wire/sse.ts)',
    alternative:
      '`eventsource-parser` 3.1.1 behind the same pull interface, with StringDecoder (what src/ does now)',
    removed: true,
    files: { 'wire/sse.ts': 'sse-hand-made.ts' },
    rows: ['stream', 'obfuscated', 'paced'],
  },
  {
    id: 'lines',
    part: 'hand-made line splitter (removed from wire/ndjson.ts)',
    alternative: "StringDecoder and `String#split` on each read's new text (what src/ does now)",
    removed: true,
    files: { 'wire/ndjson.ts': 'ndjson-hand-made.ts' },
    rows: ['ollama'],
  },
  {
    id: 'textline',
    part: "Ollama text-line reader (providers/ollama-mapping.ts `textOfLine`: a line in Ollama's text form read without JSON.parse)",
    alternative: '`JSON.parse` on every line, then the same check that the line carries only text',
    patches: [
      {
        file: 'providers/ollama.ts',
        from: 'const text = first ? undefined : textOfLine(line);',
        to: 'const text = first ? undefined : textOfParsed(line);',
      },
    ],
    prepend:
      "const textOfParsed = (line: string): string | undefined => { const j = JSON.parse(line); const m = j?.message; return j?.done === false && j.error === undefined && m && m.thinking === undefined && m.tool_calls === undefined && typeof m.content === 'string' && m.content !== '' ? m.content : undefined; };\n",
    rows: ['ollama'],
  },
  {
    id: 'frames',
    part: 'frame parser (a template of the learnt frame, only the delta parsed; removed from src/wire/frames.ts)',
    alternative: '`JSON.parse` on every frame (what src/ does now)',
    removed: true,
    files: { 'wire/frames.ts': 'frame-parser.ts' },
    patches: [
      {
        file: 'providers/openai-stream.ts',
        from: '  const parser = new SSEParser(read.maxFrameBytes);\n',
        to: '  const parser = new SSEParser(read.maxFrameBytes);\n  const frames = new FrameParser();\n',
      },
      {
        file: 'providers/openai-stream.ts',
        from: 'mayHoldProto(data) ? NO_PROTO : undefined,',
        to: 'mayHoldProto(data) ? NO_PROTO : frames,',
      },
    ],
    prepend: "import { FrameParser } from '../wire/frames.js';\n",
    rows: ['stream', 'obfuscated', 'paced'],
  },
  {
    id: 'lru',
    part: 'memory cache LRU (cache/cache-store.ts)',
    alternative: '`lru-cache` 11.5.4 (TTL on the same clock)',
    files: { 'cache/cache-store.ts': 'cache-store-lru-cache.ts' },
    rows: ['cached'],
  },
  {
    id: 'chains',
    part: 'model-string cache (routing/resolve-model.ts `DirectChains`: a Map cleared when full)',
    alternative: '`lru-cache` 11.5.4, max 1000',
    patches: [
      {
        file: 'routing/resolve-model.ts',
        from: 'readonly #chains = new Map<string, readonly ChainEntry[]>();',
        to: 'readonly #chains = new LRUCache<string, readonly ChainEntry[]>({ max: MAX_KEPT });',
      },
      {
        file: 'routing/resolve-model.ts',
        from: 'if (this.#chains.size >= MAX_KEPT) this.#chains.clear();',
        to: '',
      },
    ],
    prepend: "import { LRUCache } from 'lru-cache';\n",
    rows: ['chat', 'c64'],
  },
  {
    id: 'validate',
    part: 'per-call request validator, hand-written (validate-request.ts)',
    alternative: 'valibot 1.5.0 schemas (v.variant on role), lists capped at the same MAX_ISSUES',
    files: { 'validate-request.ts': 'validate-request-valibot.ts' },
    rows: ['chat', 'c64', 'stream', 'cached'],
  },
  {
    id: 'generator',
    part: '`ChatStream`, a hand-written AsyncGenerator class (removed from routing/chat-stream.ts)',
    alternative:
      'a native `async function*` over the same commit walk and committed stream (what src/ does now)',
    removed: true,
    files: { 'routing/chat-stream.ts': 'chat-stream-hand-made.ts' },
    rows: ['stream', 'obfuscated', 'paced', 'ollama'],
  },
  {
    id: 'batches',
    part: 'batches per network read (`streamBatches` of the OpenAI and Ollama adapters)',
    alternative: "one chunk per step of the adapter's `stream()` (the path custom adapters take)",
    // Without `streamBatches`, the router reads the adapters' `stream()`, which flattens the batches.
    patches: [
      { file: 'providers/openai.ts', from: '    stream,\n    streamBatches,', to: '    stream,' },
      { file: 'providers/ollama.ts', from: '    streamBatches,\n', to: '' },
    ],
    rows: ['stream', 'obfuscated', 'paced', 'ollama'],
  },
  {
    id: 'single',
    part: "the custom-adapter path's hand-written iterator (removed from routing/stream-commit.ts `STREAM_STEP.run`: each chunk of `stream()` as a batch of one, with a `then`)",
    alternative:
      'an `async function*` yielding `[chunk]`, what src/ does now (compare with `batches`: both read the adapters through `stream()`)',
    removed: true,
    patches: [
      {
        file: 'routing/stream-commit.ts',
        from: ': eachAlone(adapter.stream(r, context))',
        to: ': oneByOne(adapter.stream(r, context))',
      },
      { file: 'providers/openai.ts', from: '    stream,\n    streamBatches,', to: '    stream,' },
      { file: 'providers/ollama.ts', from: '    streamBatches,\n', to: '' },
    ],
    prepend:
      'const oneByOne = (stream: AsyncIterable<ChatChunk>): AsyncIterable<ChatChunk[]> => ({ [Symbol.asyncIterator]() { const it = stream[Symbol.asyncIterator](); const end = { done: true, value: undefined } as const; return { next: () => it.next().then((r) => (r.done ? end : { done: false, value: [r.value] })), return: () => (it.return ? it.return().then(() => end) : Promise.resolve(end)) }; } });\n',
    rows: ['stream', 'obfuscated', 'paced', 'ollama'],
  },
  {
    id: 'iterator',
    part: "a hand-written iterator in place of the OpenAI adapter's `async function*` (a candidate, not in src/)",
    alternative: "the adapter's native `async function*` (providers/openai-stream.ts, what src/ does now)",
    removed: true,
    files: { 'providers/openai-stream.ts': 'openai-stream-iterator.ts' },
    rows: ['stream', 'obfuscated', 'paced'],
  },
];

/**
 * `text`, the src-relative `file` of a copy of src/, with variant `v`'s patches for it applied in order (and its
 * `prepend` when `file` is the first one patched).
 * @throws when a patch no longer applies (its `from` is not in the file)
 */
export function patched(v: Variant, file: string, text: string): string {
  const patches = v.patches ?? [];
  let out = text;
  for (const { file: f, from, to } of patches) {
    if (f !== file) continue;
    if (!out.includes(from)) throw new Error(`variant ${v.id}: ${file} no longer contains ${from}`);
    out = out.replace(from, to);
  }
  return patches[0]?.file === file ? (v.prepend ?? '') + out : out;
}
