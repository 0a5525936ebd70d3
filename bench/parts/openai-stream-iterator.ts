/**
 * Variant `iterator` of bench/parts.ts (a candidate, not adopted): src/providers/openai-stream.ts with the
 * adapter's `async function*` replaced by a hand-written AsyncIterator (`Reader`) over the same frame handling:
 * one `then` per network read instead of the generator's `await` and `yield`. The same chunks, batches and errors
 * (the OpenAI stream tests pass against it); measured to see whether the generator layer is what the paced row
 * pays over the floor (bench/README.md, "Hand-made parts, measured").
 */
import type { Clock } from '../../src/clock.js';
import { ProviderError } from '../../src/errors.js';
import type { CallMeta } from '../../src/providers/endpoint.js';
import { badResponse, errorFromInBand, networkError, parseJson } from '../../src/providers/error-mapping.js';
import {
  carriesContent,
  finishes,
  inBandError,
  mayHoldProto,
  NO_PROTO,
  normaliseDelta,
  normaliseToolCall,
  type WireChoice,
  type WireReply,
} from '../../src/providers/openai-reply.js';
import type { ChatChunk } from '../../src/types.js';
import type { CancelSignal } from '../../src/wire/cancel.js';
import { bodyArrived, type HttpResponse } from '../../src/wire/http.js';
import { SSEParser } from '../../src/wire/sse.js';

/** What reading one stream needs besides its response. */
export interface ChatStreamRead {
  meta: CallMeta;
  /** The `provider/model` label every chunk carries. */
  model: string;
  /** The caller asked for a usage chunk (`stream_options.include_usage`). */
  wantUsage: boolean;
  maxFrameBytes: number;
  clock: Clock;
  cancel: CancelSignal;
}

/**
 * An OpenAI-compatible SSE stream as one array of chunks per network read: `open()` sends the request (on the
 * first `next()`), then frames are checked and normalised, one id per stream, ended by [DONE] or a finish reason
 * (a stream with neither is a bad response, never a short answer). The adapter returns this generator as it is:
 * wrapping it in another (`yield*`) costs a promise layer per network read.
 */
export function readChatStream(
  open: () => Promise<HttpResponse>,
  read: ChatStreamRead,
): AsyncGenerator<ChatChunk[]> {
  const { meta, model, wantUsage, clock, cancel } = read;
  let id: string | undefined;
  let created = 0;
  let finished = false;
  let sawDone = false;
  // Until the first chunk with content, each read's chunks go out up to that one (see `collect`).
  let early = true;
  const parser = new SSEParser(read.maxFrameBytes);

  /**
   * One frame as a chunk, undefined for a frame that carries nothing for the caller, or null for an error frame
   * after a finish reason: the answer was complete, the frame ends the stream like [DONE] (OpenRouter sends
   * "Token limit reached" after `finish_reason: "length"`; see docs/wire-conformance.md).
   */
  const chunkOf = (data: string, event: string | undefined): ChatChunk | undefined | null => {
    const json = parseJson(
      data,
      meta,
      'malformed stream frame',
      mayHoldProto(data) ? NO_PROTO : undefined,
    ) as WireReply | null;
    if (json === null || typeof json !== 'object') throw badResponse(meta, 'stream frame is not an object');
    const err = inBandError(json);
    if (err !== undefined || event === 'error') {
      if (finished) return null;
      throw errorFromInBand(err ?? json, meta);
    }
    let choices = json.choices;
    if (!Array.isArray(choices)) {
      // TGI leaves `choices` out of its usage-only frame.
      if (json.usage === undefined || json.usage === null)
        throw badResponse(meta, 'stream frame has no choices');
      json.choices = choices = [];
    }
    // Azure sends content-filter offsets after the finish reason in a choice without a delta: nothing to pass on.
    if (finished && choices.some((c) => c?.delta === undefined || c.delta === null))
      json.choices = choices = choices.filter((c) => c?.delta !== undefined && c.delta !== null);
    // Azure's leading prompt_filter_results frame and other empty frames carry nothing for the caller; a
    // usage-only frame is passed on only when the caller asked for it (some servers send it regardless).
    if (choices.length === 0 && (json.usage === undefined || json.usage === null || !wantUsage))
      return undefined;
    for (const c of choices) {
      const d = c?.delta;
      if (d === null || typeof d !== 'object') throw badResponse(meta, 'stream choice has no delta');
      if (finishes(c, meta)) finished = true;
      if (!normaliseDelta(d)) throw badResponse(meta, 'stream delta has a field of the wrong type');
      if (Array.isArray(d.tool_calls)) {
        // Some servers omit `index`; the position identifies the call then.
        d.tool_calls.forEach((t: unknown, i) => {
          if (!normaliseToolCall(t)) throw badResponse(meta, 'malformed tool call delta');
          if (typeof t.index !== 'number') t.index = i;
        });
      }
    }
    // One stable id per stream, whatever the server sends per frame.
    if (id === undefined) {
      id = typeof json.id === 'string' && json.id !== '' ? json.id : `chatcmpl-${clock.now().toString(36)}`;
      created = typeof json.created === 'number' ? json.created : Math.floor(clock.now() / 1000);
    }
    json.id = id;
    json.object = 'chat.completion.chunk';
    json.created = created;
    json.model = model;
    return json as unknown as ChatChunk;
  };

  let out: ChatChunk[] | undefined;
  const collect = (): boolean => {
    if (sawDone) return false;
    for (let e = parser.next(); e !== undefined; e = parser.next()) {
      if (e.data === '[DONE]') {
        finished = sawDone = true;
        return false;
      }
      const chunk = chunkOf(e.data, e.event);
      if (chunk === null) {
        sawDone = true;
        return false;
      }
      if (chunk === undefined) continue;
      if (out === undefined) out = [chunk];
      else out.push(chunk);
      if (early && carriesContent(chunk.choices as WireChoice[])) {
        early = false;
        return true;
      }
    }
    return false;
  };
  return new Reader(open, {
    feed: (v) => parser.feed(v),
    end: () => parser.end(),
    collect,
    take: () => {
      const b = out;
      out = undefined;
      return b;
    },
    get sawDone() {
      return sawDone;
    },
    get finished() {
      return finished;
    },
    meta,
    cancel,
  });
}

/** What `Reader` needs of the frame handling above. */
interface Decoder {
  feed(v: Uint8Array): void;
  end(): void;
  collect(): boolean;
  take(): ChatChunk[] | undefined;
  readonly sawDone: boolean;
  readonly finished: boolean;
  meta: CallMeta;
  cancel: CancelSignal;
}
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** The stream as a hand-written iterator: reads, feeds, hands out batches; the error after a batch comes next. */
class Reader implements AsyncGenerator<ChatChunk[]> {
  #open: (() => Promise<HttpResponse>) | undefined;
  #res: HttpResponse | undefined;
  #reader: AsyncIterator<Uint8Array> | undefined;
  readonly #d: Decoder;
  #more = false;
  #ending = false;
  #error: unknown;
  #closed = false;
  constructor(open: () => Promise<HttpResponse>, d: Decoder) {
    this.#open = open;
    this.#d = d;
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  async [Symbol.asyncDispose]() {
    await this.return();
  }
  next(): Promise<IteratorResult<ChatChunk[]>> {
    if (this.#closed) return this.#error !== undefined ? this.#rethrow() : Promise.resolve(DONE);
    const open = this.#open;
    if (open) {
      this.#open = undefined;
      return open().then(
        (res) => {
          this.#res = res;
          this.#reader = res.body[Symbol.asyncIterator]();
          return this.#pull();
        },
        (e) => {
          this.#closed = true;
          throw e;
        },
      );
    }
    if (this.#more) {
      try {
        const r = this.#emit();
        return r instanceof Promise ? r : Promise.resolve(r);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.#pull();
  }
  #rethrow(): Promise<never> {
    const e = this.#error;
    this.#error = undefined;
    return Promise.reject(e);
  }
  #pull(): Promise<IteratorResult<ChatChunk[]>> {
    return (this.#reader as AsyncIterator<Uint8Array>).next().then(this.#onRead, this.#onError);
  }
  readonly #onRead = (
    r: IteratorResult<Uint8Array>,
  ): IteratorResult<ChatChunk[]> | Promise<IteratorResult<ChatChunk[]>> => {
    const d = this.#d;
    try {
      if (r.done) {
        this.#ending = true;
        d.end();
      } else if (d.sawDone) return this.#pull();
      else d.feed(r.value);
      return this.#emit();
    } catch (e) {
      return this.#onError(e);
    }
  };
  readonly #onError = (e: unknown): IteratorResult<ChatChunk[]> => {
    if (this.#d.sawDone) {
      this.#closed = true;
      return DONE;
    }
    throw this.#fail(e);
  };
  #emit(): IteratorResult<ChatChunk[]> | Promise<IteratorResult<ChatChunk[]>> {
    const d = this.#d;
    for (;;) {
      let more: boolean;
      try {
        more = d.collect();
      } catch (err) {
        const b = d.take();
        if (b !== undefined) {
          this.#closed = true;
          this.#error = this.#map(err);
          this.#stop();
          return { done: false, value: b };
        }
        throw this.#fail(err);
      }
      this.#more = more;
      const b = d.take();
      if (b !== undefined) return { done: false, value: b };
      if (!more) break;
    }
    // [DONE] before the body's end: read on to it (a tick) when it has arrived, else cancel the request.
    if (d.sawDone && !this.#ending) {
      if (!bodyArrived((this.#res as HttpResponse).body)) {
        this.#closed = true;
        this.#stop();
        return DONE;
      }
    }
    if (this.#ending) {
      this.#closed = true;
      if (!d.finished) {
        this.#stop();
        throw badResponse(d.meta, 'stream ended before finish');
      }
      return DONE;
    }
    return this.#pull();
  }
  #map(err: unknown): unknown {
    if (err instanceof ProviderError) return err;
    return networkError(err, this.#d.cancel, this.#d.meta);
  }
  #fail(err: unknown): unknown {
    this.#closed = true;
    this.#stop();
    if (this.#d.sawDone) {
      return undefined;
    }
    return this.#map(err);
  }
  #stop(): void {
    this.#res?.body.destroy();
  }
  return(): Promise<IteratorResult<ChatChunk[]>> {
    this.#closed = true;
    this.#error = undefined;
    this.#stop();
    return Promise.resolve(DONE);
  }
  throw(e: unknown): Promise<IteratorResult<ChatChunk[]>> {
    this.#closed = true;
    this.#stop();
    return Promise.reject(e);
  }
}
