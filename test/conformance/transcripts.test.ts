import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createManaLLM, type ManaLLM } from '../../src/index.js';
import { createFakeClock } from '../../src/testing/index.js';
import {
  BASE_PATH,
  corpusDir,
  corpusMissing,
  type Expectation,
  loadCorpus,
  PROTOCOLS,
  type Protocol,
  pathOf,
  type Transcript,
} from './corpus.js';
import { assertOutcome, chatOutcome, embedOutcome, type Outcome, streamOutcome } from './outcome.js';
import { type ReplayServer, startReplayServer, WAYS, type Way } from './replay-server.js';

/**
 * Every recorded transcript of real provider traffic, served from a local server at the path the real provider
 * serves, through the public API, three ways: whole, one write per event, small pieces. See docs/wire-conformance.md.
 */

const dir = corpusDir();
const corpus = loadCorpus(dir);

/**
 * Transcripts where the sidecar says two readings are defensible: the one we chose, and why. Every lenient transcript
 * must be listed here (a new one forces a decision).
 */
const CHOSEN: Record<string, { why: string; expect?: Partial<Expectation> }> = {
  'openrouter-minimax-error-after-length.stream': {
    why: 'the finish_reason ends the answer; an error frame after it (here "Token limit reached", restating the length finish) cannot un-finish it',
  },
  'gemini25-search-tool-use-usage.stream': {
    why: 'prompt_tokens counts toolUsePromptTokenCount too (it is billed as input): prompt + completion = total, as in OpenAI usage',
    expect: { usage: { prompt: 325, completion: 370, total: 695 } },
  },
  'gemini3-code-execution-parts.chat': {
    why: 'prompt_tokens counts toolUsePromptTokenCount too (it is billed as input): prompt + completion = total, as in OpenAI usage',
    expect: { usage: { prompt: 312, completion: 35, total: 347 } },
  },
  'magistral-content-parts.stream': {
    why: 'content parts are unpacked: text parts become delta.content (a string), thinking parts reasoning_content',
  },
  'bbw-qwen3-tool-call-length.chat': {
    why: 'a complete tool call is the answer: finish_reason tool_calls, as for every other protocol that called a tool',
  },
};

/** Whether a stream has an end marker that must end it even when the body stays open. */
function hasEndMarker(t: Transcript): boolean {
  const text = t.body.toString('utf8');
  switch (t.protocol) {
    case 'openai':
      // a whole [DONE] event: a body that stops after `data: [DONE]` without its blank line ends only with the body
      return /data: \[DONE\](\r?\n){2}/.test(text);
    case 'anthropic':
      return text.includes('"message_stop"');
    case 'google':
      return text.includes('"finishReason"');
    case 'ollama':
      return text.includes('"done":true') || text.includes('"done": true');
  }
}

/** `p`, or a failure after `ms` of real time: a stream that waits for more after its end marker hangs otherwise. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms}ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const clients: ManaLLM[] = [];

function client(server: ReplayServer, protocol: Protocol): ManaLLM {
  const llm = createManaLLM({
    aliases: { aliases: { 'mana/unused': { chain: ['p/unused'] } } },
    providers: {
      p: { type: protocol, baseUrl: `${server.origin}${BASE_PATH[protocol]}`, apiKey: 'test-key' },
    },
    clock: createFakeClock(),
    health: { probes: false },
  });
  clients.push(llm);
  return llm;
}

afterEach(async () => {
  for (const llm of clients.splice(0)) await llm.close();
});

function run(llm: ManaLLM, t: Transcript): Promise<Outcome> {
  const model = `p/${t.model}`;
  const messages = [{ role: 'user' as const, content: 'Hi' }];
  if (t.call === 'embed') return embedOutcome(llm.embed({ model, input: t.input ?? ['Hi'] }));
  if (t.call === 'chat') return chatOutcome(llm.chat({ model, messages }), model);
  return streamOutcome(llm.stream({ model, messages, stream_options: { include_usage: true } }), model);
}

async function replay(server: ReplayServer, t: Transcript, way: Way, holdOpen = false): Promise<void> {
  const path = pathOf(t);
  server.serve({ transcript: t, way, holdOpen }, path);
  const out = await within(run(client(server, t.protocol), t), 10_000, t.id);
  // the adapter called the real provider's path, once
  expect(server.hits).toEqual([{ method: 'POST', url: path }]);
  const chosen = CHOSEN[t.id];
  assertOutcome(out, { ...t.expect, ...chosen?.expect });
}

if (!corpus || corpus.length === 0) corpusMissing(dir);

for (const protocol of PROTOCOLS) {
  const list = (corpus ?? []).filter((t) => t.protocol === protocol);
  if (list.length === 0) continue;
  describe(`${protocol} transcripts (${list.length})`, () => {
    let server: ReplayServer;
    beforeAll(async () => {
      server = await startReplayServer();
    });
    afterAll(() => server.close());

    it('every lenient transcript has a chosen reading', () => {
      for (const t of list) if (t.lenient) expect(CHOSEN[t.id]?.why, t.id).toBeTruthy();
    });

    for (const t of list) {
      for (const way of WAYS) it(`${t.id} (${way})`, () => replay(server, t, way));
      if (t.call === 'stream' && !t.expect.error && hasEndMarker(t))
        it(`${t.id} ends at its end marker while the body stays open`, () =>
          replay(server, t, 'events', true));
    }
  });
}
