import type { Clock } from '../clock.js';
import type { ChatChunk, Usage } from '../types.js';
import type { CancelSignal } from '../wire/cancel.js';
import { bodyArrived, type HttpResponse } from '../wire/http.js';
import { SSEParser } from '../wire/sse.js';
import { type CallMeta, jsonInsteadOfStream, startsJson } from './endpoint.js';
import { badResponse, errorFromInBand, networkError, parseJson } from './error-mapping.js';
import { callId, isCount, isUsage } from './json-shapes.js';
import {
  carriesContent,
  finishes,
  inBandError,
  mayHoldProto,
  NO_PROTO,
  normaliseDelta,
  normaliseToolCall,
  replyJson,
  type WireChoice,
  type WireReply,
} from './openai-reply.js';

/** What reading one stream needs besides its response. */
interface ChatStreamRead {
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
export async function* readChatStream(
  open: () => Promise<HttpResponse>,
  read: ChatStreamRead,
): AsyncGenerator<ChatChunk[]> {
  const { meta, model, wantUsage, clock, cancel } = read;
  const res = await open();
  let id: string | undefined;
  let created = 0;
  let finished = false;
  /**
   * Several choices (`n` > 1): the indexes seen and those finished, made when a choice other than 0 appears (until
   * then `finished` is choice 0's). The stream is finished only when all are, or a cut second answer looks complete;
   * sizes compared, not a scan: a hostile stream of ever new indexes must not cost a pass over all of them per frame.
   */
  let seen: Set<number> | undefined;
  let done: Set<number> | undefined;
  let sawChoice = false;
  let sawDone = false;
  let readPastDone = false;
  // Until the first chunk with content, each read's chunks go out up to that one (see `collect`).
  let early = true;
  let drained = false;
  // The index of the next tool call to start (`numberCalls`): choice 0's; other choices' (n > 1) by choice index,
  // made when one calls a tool.
  let nextCall = 0;
  let nextCalls: Map<number, number> | undefined;
  const parser = new SSEParser(read.maxFrameBytes);
  /** The chunks collected from what was fed and not yet yielded (most reads carry one: made on the first). */
  let out: ChatChunk[] | undefined;

  const usageChunk = (usage: Usage): ChatChunk => ({
    id: id as string,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [],
    usage,
  });

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
      if (!finished) throw errorFromInBand(err ?? json, meta);
      // OpenRouter's frame carries the stream's only usage: it still goes out when the caller asked for it.
      if (wantUsage && isUsage(json.usage)) (out ??= []).push(usageChunk(json.usage as Usage));
      return null;
    }
    let choices = json.choices;
    if (!Array.isArray(choices)) {
      // TGI leaves `choices` out of its usage-only frame.
      if (json.usage == null) throw badResponse(meta, 'stream frame has no choices');
      json.choices = choices = [];
    }
    // Checked where a frame carries one (once a stream, at its end, for most servers): a count callers cannot sum.
    if (json.usage != null && !isUsage(json.usage)) delete json.usage;
    // Azure sends content-filter offsets after the finish reason in a choice without a delta: nothing to pass on.
    if (finished && choices.some((c) => c?.delta == null))
      json.choices = choices = choices.filter((c) => c?.delta != null);
    // Azure's leading prompt_filter_results frame and other empty frames carry nothing for the caller; a
    // usage-only frame is passed on only when the caller asked for it (some servers send it regardless).
    if (choices.length === 0 && (json.usage == null || !wantUsage)) return undefined;
    for (const c of choices) {
      let d = c?.delta;
      if (d === null || typeof d !== 'object') {
        if (c?.finish_reason == null) {
          // Azure's Asynchronous Filter sends content-filter annotations between the tokens, each a frame of one
          // choice without a delta: nothing to pass on.
          if (choices.length === 1 && isAnnotation(c) && json.usage == null) return undefined;
          throw badResponse(meta, 'stream choice has no delta');
        }
        // Azure and some gateways send the finish reason in a choice without a delta: an empty one.
        d = c.delta = {};
      }
      const ends = finishes(c, meta);
      const i = c.index;
      if (seen === undefined && (i === 0 || typeof i !== 'number')) {
        if (ends) finished = true;
        sawChoice = true;
      } else {
        if (seen === undefined) {
          seen = new Set(sawChoice ? [0] : []);
          done = new Set(finished ? [0] : []);
        }
        const k = typeof i === 'number' ? i : 0;
        seen.add(k);
        if (ends) done!.add(k);
        finished = done!.size === seen.size;
      }
      if (!normaliseDelta(d)) throw badResponse(meta, 'stream delta has a field of the wrong type');
      if (Array.isArray(d.tool_calls)) {
        if (typeof i !== 'number' || i === 0) nextCall = numberCalls(d.tool_calls, nextCall, meta);
        else {
          nextCalls ??= new Map();
          nextCalls.set(i, numberCalls(d.tool_calls, nextCalls.get(i) ?? 0, meta));
        }
      }
    }
    // One stable id per stream, whatever the server sends per frame.
    if (id === undefined) {
      id = typeof json.id === 'string' && json.id !== '' ? json.id : `chatcmpl-${clock.now().toString(36)}`;
      created = isCount(json.created) ? json.created : Math.floor(clock.now() / 1000);
    }
    json.id = id;
    json.object = 'chat.completion.chunk';
    json.created = created;
    json.model = model;
    return json as unknown as ChatChunk;
  };

  /**
   * Moves the parser's frames into `out` until [DONE] or the text fed so far is used up; while `early`, it stops
   * after the first chunk with content (returning true: more may follow), so the first token does not wait for
   * the rest of its network read.
   */
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

  const reader = res.body[Symbol.asyncIterator]();
  try {
    const first = await reader.next();
    if (!first.done && startsJson(first.value))
      await jsonInsteadOfStream(first.value, reader, read.maxFrameBytes, meta, (text) =>
        replyJson(text, meta),
      );
    // One batch per network read: its frames are handled without a promise per line or event.
    for (let r = first; ; r = await reader.next()) {
      if (r.done) {
        // Some servers end the body right after `data: [DONE]`, without its blank line.
        parser.end();
      } else parser.feed(r.value);
      // The chunks of what was fed, as batches; the chunks before a bad frame go out before its error.
      for (let more = true; more; ) {
        try {
          more = collect();
        } catch (err) {
          if (out !== undefined) yield out;
          throw err;
        }
        if (out !== undefined) {
          const batch = out;
          out = undefined;
          yield batch;
        }
      }
      if (r.done) break;
      if (sawDone) {
        // Usually the whole body is in by now: read on to its end (a tick) instead of cancelling it.
        if (!bodyArrived(res.body)) break;
        readPastDone = true;
      }
    }
    drained = !sawDone || readPastDone;
  } catch (err) {
    // The answer was complete at [DONE]: a failure while reading past it changes nothing.
    if (sawDone) return;
    throw networkError(err, cancel, meta);
  } finally {
    // Stopped early (break, [DONE] before the body's end, an error): cancel the upstream request.
    if (!drained) res.body.destroy();
  }
  // Neither a finish reason nor [DONE]: a truncated answer must never look complete.
  if (!finished) throw badResponse(meta, 'stream ended before finish');
}

/**
 * Checks one choice's tool-call deltas and gives each call's first delta an id; `next` is the index of the choice's
 * next call to start (calls start in index order, so a delta at or past it is a call's first). Returns the new one.
 */
function numberCalls(calls: unknown[], next: number, meta: CallMeta): number {
  // Some servers omit `index`: the position identifies the call then (any other value is malformed).
  calls.forEach((t: unknown, i) => {
    if (!normaliseToolCall(t)) throw badResponse(meta, 'malformed tool call delta');
    if (t.index == null) t.index = i;
    else if (!isCount(t.index)) throw badResponse(meta, 'tool call delta index is not a whole number ≥ 0');
    // A call's first delta carries its id; one without (or with "") gets a new one, as in chat(). Later deltas
    // commonly carry "" or none: left as sent.
    if ((t.index as number) >= next) {
      next = (t.index as number) + 1;
      const call = t as { id?: unknown };
      call.id = callId(call.id);
    }
  });
  return next;
}

/** An Azure content-filter annotation: a choice with the filter's results for a span of the answer. */
const isAnnotation = (c: WireChoice | null | undefined): boolean =>
  c?.content_filter_offsets !== undefined || c?.content_filter_results !== undefined;
