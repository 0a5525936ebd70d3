import type { ChainEntry } from '../aliases/schema.js';
import { cutModel, ProviderResponseError } from '../errors.js';
import type { ChatChunk, ChatRequest } from '../types.js';
import type { Step } from './walk-chain.js';

/** One attempt's stream read up to its commit point: the reader, the chunks held so far, and whether it ended. */
export interface HeldStream {
  readonly reader: AsyncIterator<ChatChunk[]>;
  readonly held: ChatChunk[];
  /** The upstream ended (cleanly) before any content chunk. */
  readonly ended: boolean;
}

/**
 * Cancels a stream's upstream through its reader, whatever the reader makes of that (a custom adapter's hand-written
 * `return()` may throw at once or answer a plain result).
 */
export function stopReader(reader: AsyncIterator<unknown>): void {
  try {
    void Promise.resolve(reader.return?.()).catch(() => undefined);
  } catch {
    // Nothing to cancel that its signal does not.
  }
}

/** The batches of an adapter without `streamBatches`: each chunk of its `stream()` alone. */
async function* eachAlone(stream: AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk[]> {
  for await (const c of stream) yield [c];
}

/**
 * A custom adapter's batches, each checked to be an array of objects with a `choices` list (the built-in adapters'
 * always are): anything else is a malformed reply, never handed to the consumer. Its `return()` reaches the
 * adapter's iterator at once, as it does unchecked.
 */
function checked(batches: AsyncIterable<ChatChunk[]>, entry: ChainEntry): AsyncIterable<ChatChunk[]> {
  const source = batches[Symbol.asyncIterator]();
  const check = (r: IteratorResult<ChatChunk[]>): IteratorResult<ChatChunk[]> => {
    if (r.done || (Array.isArray(r.value) && r.value.every(isChunk))) return r;
    throw new ProviderResponseError(
      `${cutModel(entry.target)}: the adapter's stream handed out something that is not a chunk`,
      entry,
    );
  };
  const reader: AsyncIterator<ChatChunk[]> = {
    // A hand-written iterator may answer a plain result, not a promise (`for await` takes both).
    next: () => Promise.resolve(source.next()).then(check),
    return: () => source.return?.() ?? Promise.resolve({ done: true, value: undefined }),
  };
  return { [Symbol.asyncIterator]: () => reader };
}

const isChunk = (c: unknown): boolean => Array.isArray((c as { choices?: unknown } | null)?.choices);

/** A chunk that commits the stream: text, a refusal, a tool-call fragment or reasoning. */
function commitsStream(c: ChatChunk): boolean {
  const d = c.choices[0]?.delta;
  if (!d) return false;
  return (
    !!d.content ||
    !!d.reasoning_content ||
    !!d.refusal ||
    // A custom adapter's `tool_calls: null` is no tool calls, as the partial answer reads it.
    (Array.isArray(d.tool_calls) && d.tool_calls.length > 0)
  );
}

/**
 * Opens one attempt's stream and reads until the first content chunk (the commit point) or a clean end; the
 * rest of the batch holding that chunk is held too.
 */
async function readUntilCommit(stream: AsyncIterable<ChatChunk[]>): Promise<HeldStream> {
  const reader = stream[Symbol.asyncIterator]();
  const held: ChatChunk[] = [];
  try {
    for (;;) {
      const r = await reader.next();
      if (r.done) return { reader, held, ended: true };
      let committed = false;
      for (const c of r.value) {
        held.push(c);
        committed ||= commitsStream(c);
      }
      if (committed) return { reader, held, ended: false };
    }
  } catch (err) {
    stopReader(reader);
    throw err;
  }
}

/**
 * Stream attempts: read up to the commit point (or a clean end); failures before it fall back invisibly. The served
 * attempt stays open, judged by how the stream ends. Built once: nothing in it is per call.
 */
export const STREAM_STEP: Step<HeldStream, ChatRequest> = {
  attemptCap: 'firstChunkMs',
  timeoutLabel: 'no first content chunk',
  run: ({ adapter, config }, entry, context, req) => {
    const r = { ...req, model: entry.model };
    // Its `streamBatches` when it has one: one promise per network read.
    const batches = adapter.streamBatches
      ? adapter.streamBatches(r, context)
      : eachAlone(adapter.stream(r, context));
    return readUntilCommit(config.type === 'custom' ? checked(batches, entry) : batches);
  },
  // A commit is not yet a success: a provider whose streams all break after it must leave rotation.
  judgedAtEnd: (opened) => !opened.ended,
  // A hedged stream that committed in the same turn as the winner: its reader is let go (its request is aborted).
  discard: (opened) => stopReader(opened.reader),
};
