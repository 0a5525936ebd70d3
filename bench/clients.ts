/**
 * The clients the benchmark compares, each doing the same work against the same upstream: build the request,
 * send it, parse the whole answer (every SSE/NDJSON frame's JSON too) and check the text.
 *
 * The peers (`openai`, `ai`, `@ai-sdk/openai-compatible`) are bench-only devDependencies, loaded with a
 * computed specifier so that the root typecheck passes in a clone where `bench/` is not installed.
 */
// The floor uses the very undici module mana-llm loads (root node_modules, 7.30.2): same code, same JIT state.
import { Agent } from '../node_modules/undici/index.js';
import { createManaLLM, type ManaLLM, type ProviderAdapter, type ProviderOptions } from '../src/index.js';
import { REAL_TEXT, REPLY_TEXT, SHAPE, TOKEN } from './upstream.js';

/**
 * Which OpenAI-compatible stream to ask for: `burst`, the 256 small identical frames written back to back;
 * `paced`, the realistic stream (OpenAI's current frames with their random-length `obfuscation` field, real
 * tokens, groups of events 1–3 ms apart); `obfuscated`, the realistic frames written back to back.
 */
export type StreamShape = 'burst' | 'paced' | 'obfuscated';

/** The model name that makes the upstream send each shape, and the text length it carries. */
const SHAPES: Record<StreamShape, { model: string; length: number }> = {
  burst: { model: 'm', length: TOKEN.length * (SHAPE.streamChunks - 2) },
  paced: { model: 'r', length: REAL_TEXT.length },
  obfuscated: { model: 'o', length: REAL_TEXT.length },
};

/** What one streamed answer took. */
export interface StreamStat {
  /** Microseconds from the call to the first chunk that carries text. */
  readonly ttfcUs: number;
  readonly chunks: number;
}

/** One client under test; a missing method means the client has no such row. */
export interface Client {
  /** Short id for `--clients=`. */
  readonly id: string;
  readonly name: string;
  chat(): Promise<void>;
  stream(shape?: StreamShape): Promise<StreamStat>;
  /** The floor only: the same stream, each chunk handed over through an async generator (a reference point). */
  streamIterated?(): Promise<StreamStat>;
  embed(): Promise<void>;
  ollamaChat?(): Promise<void>;
  ollamaStream?(): Promise<StreamStat>;
  /** The floor only: the same NDJSON stream, each parsed line handed over through an async generator (a reference). */
  ollamaStreamIterated?(): Promise<StreamStat>;
  /** mana-llm only: a chat answered from its memory cache (the same request every time). */
  cachedChat?(): Promise<void>;
  /** A call whose first target refuses the connection and whose second answers. */
  fallback?(): Promise<void>;
  close(): Promise<void>;
}

/** Ports the clients talk to. */
export interface Targets {
  /** The live upstream. */
  readonly url: string;
  /** A port on 127.0.0.1 where nothing listens. */
  readonly deadUrl: string;
}

const MESSAGES = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say something short.' },
];
const INPUTS = Array.from(
  { length: SHAPE.embedCount },
  (_, i) => `document number ${i}, a few words of text`,
);
const KEY = 'sk-bench-0123456789';
const STREAM_TEXT_LENGTH = SHAPES.burst.length;
const OLLAMA_TEXT_LENGTH = TOKEN.length * (SHAPE.streamChunks - 1);

function checkText(text: unknown): void {
  if (text !== REPLY_TEXT) throw new Error(`unexpected reply: ${String(text).slice(0, 80)}`);
}

function checkStream(text: string, expected: number): void {
  if (text.length !== expected) throw new Error(`stream carried ${text.length} characters, not ${expected}`);
}

function checkEmbeddings(vectors: ArrayLike<ArrayLike<number>>): void {
  if (vectors.length !== SHAPE.embedCount || vectors[0]?.length !== SHAPE.embedDims)
    throw new Error(`unexpected embeddings: ${vectors.length} × ${vectors[0]?.length}`);
}

const now = () => performance.now();

/**
 * Hand-written SSE reader used by the floor and by fetch: split on blank lines with indexOf, JSON.parse each
 * `data:` frame, collect the text. Assumes the upstream's `\n\n` framing (which this bench controls).
 */
async function readSSEText(
  body: AsyncIterable<string>,
  started: number,
): Promise<StreamStat & { text: string }> {
  let buf = '';
  let text = '';
  let chunks = 0;
  let ttfcUs = 0;
  for await (const piece of body) {
    buf += piece;
    let start = 0;
    let end: number;
    while ((end = buf.indexOf('\n\n', start)) !== -1) {
      const data = buf.startsWith('data: ', start) ? buf.slice(start + 6, end) : '';
      start = end + 2;
      if (data === '' || data === '[DONE]') continue;
      const json = JSON.parse(data) as { choices: { delta: { content?: string } }[] };
      const c = json.choices[0]?.delta.content;
      if (c) {
        if (chunks === 0) ttfcUs = (now() - started) * 1000;
        chunks++;
        text += c;
      }
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
  return { ttfcUs, chunks, text };
}

/** The floor's SSE loop as an async generator: each parsed chunk handed to the caller, as any `for await` API does. */
async function* sseChunks(
  body: AsyncIterable<string>,
): AsyncGenerator<{ choices: { delta: { content?: string } }[] }> {
  let buf = '';
  for await (const piece of body) {
    buf += piece;
    let start = 0;
    let end: number;
    while ((end = buf.indexOf('\n\n', start)) !== -1) {
      const data = buf.startsWith('data: ', start) ? buf.slice(start + 6, end) : '';
      start = end + 2;
      if (data === '' || data === '[DONE]') continue;
      yield JSON.parse(data);
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
}

/** The same for NDJSON (Ollama). */
async function readNDJSONText(
  body: AsyncIterable<string>,
  started: number,
): Promise<StreamStat & { text: string }> {
  let buf = '';
  let text = '';
  let chunks = 0;
  let ttfcUs = 0;
  for await (const piece of body) {
    buf += piece;
    let start = 0;
    let end: number;
    while ((end = buf.indexOf('\n', start)) !== -1) {
      const line = buf.slice(start, end);
      start = end + 1;
      if (line === '') continue;
      const json = JSON.parse(line) as { message?: { content?: string } };
      const c = json.message?.content;
      if (c) {
        if (chunks === 0) ttfcUs = (now() - started) * 1000;
        chunks++;
        text += c;
      }
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
  return { ttfcUs, chunks, text };
}

/** The floor's NDJSON loop as an async generator: each parsed line handed to the caller. */
async function* ndjsonObjects(
  body: AsyncIterable<string>,
): AsyncGenerator<{ message?: { content?: string } }> {
  let buf = '';
  for await (const piece of body) {
    buf += piece;
    let start = 0;
    let end: number;
    while ((end = buf.indexOf('\n', start)) !== -1) {
      const line = buf.slice(start, end);
      start = end + 1;
      if (line !== '') yield JSON.parse(line);
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
}

/** Reads a stream's text through `for await`, as every client under test hands its chunks over. */
async function readIterated<T>(
  items: AsyncIterable<T>,
  textOf: (item: T) => string | null | undefined,
  started: number,
  length: number,
): Promise<StreamStat> {
  let text = '';
  let chunks = 0;
  let ttfcUs = 0;
  for await (const item of items) {
    const c = textOf(item);
    if (c) {
      if (chunks === 0) ttfcUs = (now() - started) * 1000;
      chunks++;
      text += c;
    }
  }
  checkStream(text, length);
  return { ttfcUs, chunks };
}

async function* decode(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  for await (const b of body) yield decoder.decode(b, { stream: true });
}

/** The floor: undici's `Agent#request` on a keep-alive pool, a hand-written SSE/NDJSON loop, nothing else. */
export function floorClient({ url, deadUrl }: Targets): Client {
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
  const post = (origin: string, path: string, body: unknown) =>
    agent.request({ origin, path, method: 'POST', headers, body: JSON.stringify(body) });
  const chat = async (origin = url) => {
    const res = await post(origin, '/v1/chat/completions', { model: 'm', messages: MESSAGES });
    const json = (await res.body.json()) as { choices: { message: { content: string } }[] };
    checkText(json.choices[0]?.message.content);
  };
  return {
    id: 'floor',
    name: 'undici (floor)',
    chat: () => chat(),
    async stream(shape = 'burst') {
      const { model, length } = SHAPES[shape];
      const started = now();
      const res = await post(url, '/v1/chat/completions', { model, messages: MESSAGES, stream: true });
      res.body.setEncoding('utf8');
      const r = await readSSEText(res.body, started);
      checkStream(r.text, length);
      return r;
    },
    async streamIterated() {
      const started = now();
      const res = await post(url, '/v1/chat/completions', { model: 'm', messages: MESSAGES, stream: true });
      res.body.setEncoding('utf8');
      const chunks = sseChunks(res.body);
      return readIterated(chunks, (c) => c.choices[0]?.delta.content, started, STREAM_TEXT_LENGTH);
    },
    async embed() {
      const res = await post(url, '/v1/embeddings', { model: 'e', input: INPUTS });
      const json = (await res.body.json()) as { data: { embedding: number[] }[] };
      checkEmbeddings(json.data.map((d) => d.embedding));
    },
    async ollamaChat() {
      const res = await post(url, '/api/chat', { model: 'm', messages: MESSAGES, stream: false });
      const json = (await res.body.json()) as { message: { content: string } };
      checkText(json.message.content);
    },
    async ollamaStream() {
      const started = now();
      const res = await post(url, '/api/chat', { model: 'm', messages: MESSAGES, stream: true });
      res.body.setEncoding('utf8');
      const r = await readNDJSONText(res.body, started);
      checkStream(r.text, OLLAMA_TEXT_LENGTH);
      return r;
    },
    async ollamaStreamIterated() {
      const started = now();
      const res = await post(url, '/api/chat', { model: 'm', messages: MESSAGES, stream: true });
      res.body.setEncoding('utf8');
      return readIterated(ndjsonObjects(res.body), (l) => l.message?.content, started, OLLAMA_TEXT_LENGTH);
    },
    async fallback() {
      try {
        await chat(deadUrl);
      } catch {
        await chat();
      }
    },
    close: () => agent.close(),
  };
}

/** Node's global `fetch` (its bundled undici and global dispatcher), same hand-written SSE loop. */
export function fetchClient({ url, deadUrl }: Targets): Client {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
  const post = (base: string, path: string, body: unknown) =>
    fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const chat = async (base = url) => {
    const res = await post(base, '/v1/chat/completions', { model: 'm', messages: MESSAGES });
    const json = (await res.json()) as { choices: { message: { content: string } }[] };
    checkText(json.choices[0]?.message.content);
  };
  return {
    id: 'fetch',
    name: 'fetch',
    chat: () => chat(),
    async stream(shape = 'burst') {
      const { model, length } = SHAPES[shape];
      const started = now();
      const res = await post(url, '/v1/chat/completions', { model, messages: MESSAGES, stream: true });
      const r = await readSSEText(decode(res.body as unknown as AsyncIterable<Uint8Array>), started);
      checkStream(r.text, length);
      return r;
    },
    async embed() {
      const res = await post(url, '/v1/embeddings', { model: 'e', input: INPUTS });
      const json = (await res.json()) as { data: { embedding: number[] }[] };
      checkEmbeddings(json.data.map((d) => d.embedding));
    },
    async fallback() {
      try {
        await chat(deadUrl);
      } catch {
        await chat();
      }
    },
    close: async () => undefined,
  };
}

/** The minimal surface of the openai SDK used here. */
interface OpenAISDK {
  chat: {
    completions: {
      create(body: Record<string, unknown>): Promise<unknown>;
    };
  };
  embeddings: { create(body: Record<string, unknown>): Promise<{ data: { embedding: number[] }[] }> };
}
type OpenAICtor = new (opts: { baseURL: string; apiKey: string; maxRetries: number }) => OpenAISDK;

/** The official `openai` SDK with its defaults, except no retries (a refused connection must fail at once). */
export async function openaiClient({ url, deadUrl }: Targets): Promise<Client> {
  const specifier = 'openai';
  const { default: OpenAI } = (await import(specifier)) as { default: OpenAICtor };
  const live = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
  const dead = new OpenAI({ baseURL: `${deadUrl}/v1`, apiKey: KEY, maxRetries: 0 });
  const chat = async (client: OpenAISDK) => {
    const r = (await client.chat.completions.create({ model: 'm', messages: MESSAGES })) as {
      choices: { message: { content: string } }[];
    };
    checkText(r.choices[0]?.message.content);
  };
  return {
    id: 'openai',
    name: 'openai SDK',
    chat: () => chat(live),
    async stream(shape = 'burst') {
      const { model, length } = SHAPES[shape];
      const started = now();
      const s = (await live.chat.completions.create({
        model,
        messages: MESSAGES,
        stream: true,
      })) as AsyncIterable<{
        choices: { delta: { content?: string } }[];
      }>;
      return readIterated(s, (c) => c.choices[0]?.delta.content, started, length);
    },
    async embed() {
      // The SDK asks for base64 unless told otherwise; every client here asks for floats.
      const r = await live.embeddings.create({ model: 'e', input: INPUTS, encoding_format: 'float' });
      checkEmbeddings(r.data.map((d) => d.embedding));
    },
    async fallback() {
      try {
        await chat(dead);
      } catch {
        await chat(live);
      }
    },
    close: async () => undefined,
  };
}

/** The minimal surface of the Vercel AI SDK used here. */
interface AISDK {
  generateText(o: Record<string, unknown>): Promise<{ text: string }>;
  streamText(o: Record<string, unknown>): { textStream: AsyncIterable<string> };
  embedMany(o: Record<string, unknown>): Promise<{ embeddings: number[][] }>;
}
interface CompatibleProvider {
  chatModel(id: string): unknown;
  embeddingModel(id: string): unknown;
}

/** The Vercel AI SDK (`generateText`, `streamText`, `embedMany`) with `createOpenAICompatible`. */
export async function aiSdkClient({ url, deadUrl }: Targets): Promise<Client> {
  const ai = 'ai';
  const compat = '@ai-sdk/openai-compatible';
  const sdk = (await import(ai)) as AISDK;
  const { createOpenAICompatible } = (await import(compat)) as {
    createOpenAICompatible(o: { name: string; baseURL: string; apiKey: string }): CompatibleProvider;
  };
  (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
  const live = createOpenAICompatible({ name: 'bench', baseURL: `${url}/v1`, apiKey: KEY });
  const dead = createOpenAICompatible({ name: 'dead', baseURL: `${deadUrl}/v1`, apiKey: KEY });
  const models = {
    burst: live.chatModel('m'),
    paced: live.chatModel('r'),
    obfuscated: live.chatModel('o'),
  };
  const model = models.burst;
  const deadModel = dead.chatModel('m');
  const embedder = live.embeddingModel('e');
  // The same wire request as the others: the AI SDK warns about system messages inside `messages`.
  const [system, ...messages] = MESSAGES;
  const prompt = { system: system?.content, messages, maxRetries: 0 };
  const chat = async (m: unknown) => {
    const r = await sdk.generateText({ model: m, ...prompt });
    checkText(r.text);
  };
  return {
    id: 'ai',
    name: 'AI SDK',
    chat: () => chat(model),
    async stream(shape = 'burst') {
      const started = now();
      const r = sdk.streamText({ model: models[shape], ...prompt });
      return readIterated(r.textStream, (c) => c, started, SHAPES[shape].length);
    },
    async embed() {
      const r = await sdk.embedMany({ model: embedder, values: INPUTS, maxRetries: 0 });
      checkEmbeddings(r.embeddings);
    },
    async fallback() {
      try {
        await chat(deadModel);
      } catch {
        await chat(model);
      }
    },
    close: async () => undefined,
  };
}

/**
 * mana-llm, called with `groq/m` (a well-known OpenAI-compatible provider id pointed at the local upstream) or
 * through `mana/` aliases. Probes are off so that only the calls under test touch the upstream.
 */
export function manaClient(
  { url, deadUrl }: Targets,
  viaAlias: boolean,
  /** The parts bench: another build of mana-llm (a copy of src/ with one part swapped), and its column name. */
  variant?: { create: typeof createManaLLM; id: string; name: string; cache?: boolean },
): Client & { llm: ManaLLM } {
  const create = variant?.create ?? createManaLLM;
  const llm = create({
    aliases: {
      aliases: {
        'mana/chat': { chain: ['groq/m'] },
        'mana/paced': { chain: ['groq/r'] },
        'mana/obfuscated': { chain: ['groq/o'] },
        'mana/embed': { chain: ['groq/e'] },
        'mana/local': { chain: ['ollama/m'] },
        // The first entry refuses every connection; its breaker never opens (see the fallback row).
        'mana/fallback': { chain: ['dead/m', 'groq/m'] },
      },
    },
    providers: {
      groq: { baseUrl: `${url}/v1`, apiKey: KEY },
      ollama: { baseUrl: url },
      dead: { type: 'openai', baseUrl: `${deadUrl}/v1`, apiKey: KEY },
    },
    health: { probes: false, failureThreshold: 1_000_000_000 },
    // The parts bench's builds only (`cache: true`): a response cache, used by the calls that ask for it (`cachedChat`).
    ...(variant?.cache ? { cache: { store: 'memory' as const } } : {}),
  });
  const names = viaAlias
    ? { chat: 'mana/chat', embed: 'mana/embed', local: 'mana/local' }
    : { chat: 'groq/m', embed: 'groq/e', local: 'ollama/m' };
  const chat = async (model: string) => {
    const r = await llm.chat({ model, messages: MESSAGES });
    checkText(r.choices[0]?.message.content);
  };
  const stream = (model: string, expected: number): Promise<StreamStat> => {
    const started = now();
    const chunks = llm.stream({ model, messages: MESSAGES });
    return readIterated(chunks, (c) => c.choices[0]?.delta.content, started, expected);
  };
  return {
    id: variant?.id ?? (viaAlias ? 'alias' : 'mana'),
    name: variant?.name ?? (viaAlias ? 'mana-llm (alias)' : 'mana-llm'),
    llm,
    chat: () => chat(names.chat),
    async cachedChat() {
      const r = await llm.chat({ model: names.chat, messages: MESSAGES }, { cache: true });
      checkText(r.choices[0]?.message.content);
    },
    stream: (shape = 'burst') =>
      shape === 'burst'
        ? stream(names.chat, STREAM_TEXT_LENGTH)
        : stream(viaAlias ? `mana/${shape}` : `groq/${SHAPES[shape].model}`, SHAPES[shape].length),
    async embed() {
      const r = await llm.embed({ model: names.embed, input: INPUTS });
      checkEmbeddings(r.data.map((d) => d.embedding));
    },
    ollamaChat: () => chat(names.local),
    ollamaStream: () => stream(names.local, OLLAMA_TEXT_LENGTH),
    ...(viaAlias ? { fallback: () => chat('mana/fallback') } : {}),
    close: () => llm.close(),
  };
}

/** An adapter that answers at once without I/O: the chain walk's own cost is all that is left to time. */
function instantAdapter(): ProviderAdapter {
  const reply = () => ({
    id: 'chatcmpl-stub',
    object: 'chat.completion' as const,
    created: 1_700_000_000,
    model: 'stub/m',
    choices: [
      { index: 0, message: { role: 'assistant' as const, content: 'ok' }, finish_reason: 'stop' as const },
    ],
  });
  const fail = () => Promise.reject(new Error('not used'));
  return {
    capabilities: () => ({ tools: true, vision: true, jsonSchema: true, embeddings: true }),
    chat: async () => reply(),
    stream: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
    embed: fail,
    probe: async () => ({ ok: true }),
    models: async () => ['m'],
  };
}

/** How many open-breaker entries the longest skip chain holds. */
export const SKIP_DEPTH = 8;

/**
 * A client whose `stub` provider answers without I/O and whose `down1…downN` providers refuse connections;
 * `openBreakers()` opens every `down` breaker (threshold 1, a cool-down longer than the run).
 */
export function breakerBench({ deadUrl }: Targets) {
  const providers: Record<string, ProviderOptions> = { stub: { type: 'custom', adapter: instantAdapter() } };
  const down: string[] = [];
  for (let i = 1; i <= SKIP_DEPTH; i++) {
    providers[`down${i}`] = { type: 'openai', baseUrl: `${deadUrl}/v1`, apiKey: KEY };
    down.push(`down${i}/m`);
  }
  const llm = createManaLLM({
    aliases: {
      aliases: {
        'mana/skip0': { chain: ['stub/m'] },
        'mana/skip1': { chain: [down[0], 'stub/m'] },
        [`mana/skip${SKIP_DEPTH}`]: { chain: [...down, 'stub/m'] },
      },
    },
    providers,
    health: { probes: false, failureThreshold: 1, cooldownMs: 1e12 },
  });
  return {
    llm,
    async openBreakers(): Promise<void> {
      await llm.chat({ model: `mana/skip${SKIP_DEPTH}`, messages: MESSAGES });
      const h = llm.health();
      for (let i = 1; i <= SKIP_DEPTH; i++) {
        if (h.providers[`down${i}`]?.state !== 'open') throw new Error(`down${i} did not open`);
      }
    },
    call: (depth: number) => llm.chat({ model: `mana/skip${depth}`, messages: MESSAGES }),
  };
}
