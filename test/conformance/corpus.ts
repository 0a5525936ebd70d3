import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';

/** The wire protocols the corpus is sorted by (one folder each). */
export type Protocol = 'openai' | 'anthropic' | 'google' | 'ollama';

export const PROTOCOLS: readonly Protocol[] = ['openai', 'anthropic', 'google', 'ollama'];

/** An expected error: its class (or any of several), and what it must say. */
export interface ExpectedError {
  class?: string;
  anyOf?: string[];
  status?: number;
  reason?: string;
  /** null: the error must carry no hint. */
  retryAfterMs?: number | null;
  retryable?: boolean;
  /** The error came after content reached the caller (a committed stream). */
  afterContent?: boolean;
}

/** The normalized result a transcript must give (the sidecar's `expect`). */
export interface Expectation {
  text?: string;
  reasoning?: string;
  refusal?: string;
  /** `id: null`: the provider sent none, any generated id will do. */
  toolCalls?: { id: string | null; name: string; arguments: string }[];
  finish?: string | null;
  usage?: { prompt: number; completion: number; total: number } | null;
  error?: ExpectedError;
  embed?: { count: number; dims: number[]; head: number[][]; tail: number[]; promptTokens?: number };
}

/** One recorded exchange and its `.meta.json` sidecar. */
export interface Transcript {
  id: string;
  protocol: Protocol;
  call: 'chat' | 'stream' | 'embed';
  model: string;
  framing: 'raw' | 'data-lines';
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  input?: string[];
  expect: Expectation;
  lenient?: Record<string, string>;
  /** The body as the server sends it (data-lines already framed as SSE). */
  body: Buffer;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** `../shared/wire-transcripts` beside the repository, or `MANA_LLM_TRANSCRIPTS`. */
export function corpusDir(): string {
  const env = process.env.MANA_LLM_TRANSCRIPTS;
  if (env) return path.resolve(env);
  return path.resolve(here, '..', '..', '..', 'shared', 'wire-transcripts');
}

/** Re-adds the SSE framing of a `.chunks.txt` body: one `data:` event per line (Anthropic's `event:` from `type`). */
function frameDataLines(text: string, protocol: Protocol): string {
  const events: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event = '';
    if (protocol === 'anthropic') {
      const type = (JSON.parse(line) as { type?: unknown }).type;
      if (typeof type === 'string') event = `event: ${type}\n`;
    }
    events.push(`${event}data: ${line}\n\n`);
  }
  return events.join('');
}

/** Every transcript of the corpus at `dir`, sorted by protocol then id; undefined when there is no corpus. */
export function loadCorpus(dir = corpusDir()): Transcript[] | undefined {
  if (!existsSync(dir)) return undefined;
  const out: Transcript[] = [];
  for (const protocol of PROTOCOLS) {
    const folder = path.join(dir, protocol);
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder).sort()) {
      if (!name.endsWith('.meta.json')) continue;
      const meta = JSON.parse(readFileSync(path.join(folder, name), 'utf8')) as Omit<Transcript, 'body'> & {
        body: string;
      };
      const raw = readFileSync(path.join(folder, meta.body));
      const body =
        meta.framing === 'data-lines' ? Buffer.from(frameDataLines(raw.toString('utf8'), protocol)) : raw;
      out.push({ ...meta, protocol, body });
    }
  }
  return out;
}

/** Where the real provider serves each call (with `p` the provider's model name). */
export function pathOf(t: Transcript): string {
  const model = encodeURIComponent(t.model);
  switch (t.protocol) {
    case 'openai':
      return t.call === 'embed' ? '/v1/embeddings' : '/v1/chat/completions';
    case 'anthropic':
      return '/v1/messages';
    case 'google':
      if (t.call === 'embed') return `/v1beta/models/${model}:batchEmbedContents`;
      return t.call === 'stream'
        ? `/v1beta/models/${model}:streamGenerateContent?alt=sse`
        : `/v1beta/models/${model}:generateContent`;
    case 'ollama':
      return t.call === 'embed' ? '/api/embed' : '/api/chat';
  }
}

export const BASE_PATH: Record<Protocol, string> = {
  openai: '/v1',
  anthropic: '/v1',
  google: '/v1beta',
  ollama: '',
};

/**
 * A clone without the corpus beside it: one visible skipped line, or a failure when the run demands the corpus
 * (`MANA_LLM_REQUIRE_TRANSCRIPTS=1`).
 */
export function corpusMissing(dir: string): void {
  if (process.env.MANA_LLM_REQUIRE_TRANSCRIPTS === '1')
    it(`wire transcripts not found at ${dir}`, () => {
      throw new Error(
        `MANA_LLM_REQUIRE_TRANSCRIPTS=1 and no wire transcripts at ${dir} (set MANA_LLM_TRANSCRIPTS)`,
      );
    });
  else it.skip(`wire transcripts not found at ${dir}`, () => {});
}
