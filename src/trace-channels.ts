import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import type { Attempt } from './errors.js';
import type { CallKind } from './events.js';
import type { ChatRequest, EmbedRequest, Usage } from './types.js';

/**
 * The message the `mana-llm:chat`, `mana-llm:stream` and `mana-llm:embed` tracing channels carry. One object per
 * call, filled in as the call goes: at `start` it has `kind`, `request` and (once planned) `id`, `requested`,
 * `alias`; at `asyncEnd` also `resolved`, `attempts`, `usage` (and for streams `firstChunkMs`, `cancelled`), with
 * `result` (chat, embed) or `error`.
 */
export interface ManaTraceMessage {
  readonly kind: CallKind;
  /** The caller's request as given (it may hold message content: a subscriber decides what to record). */
  readonly request: ChatRequest | EmbedRequest;
  id?: string;
  requested?: string;
  alias?: string;
  resolved?: string;
  attempts?: readonly Attempt[];
  usage?: Usage;
  /** Streams: milliseconds from the call's start to its first content chunk. */
  firstChunkMs?: number;
  /** Streams: the consumer stopped the stream before its upstream ended. */
  cancelled?: boolean;
  /** Chat and embed: the response (set by `tracePromise`). */
  result?: unknown;
  /** Why the call failed. */
  error?: unknown;
}

// Channels are process-wide by name in Node itself (so an APM agent finds them without a reference to the client);
// holding the three objects here only saves a lookup per call.
const CHANNELS: Record<CallKind, TracingChannel<unknown, ManaTraceMessage & object>> = {
  chat: tracingChannel('mana-llm:chat'),
  stream: tracingChannel('mana-llm:stream'),
  embed: tracingChannel('mana-llm:embed'),
};

/** The channel for `kind`, or undefined when nobody subscribes (the call then builds no message at all). */
export function activeChannel(kind: CallKind): (typeof CHANNELS)[CallKind] | undefined {
  const ch = CHANNELS[kind];
  return ch.hasSubscribers ? ch : undefined;
}

/** Streams publish by hand (a stream is not a promise): `start` and `end` when the walk begins. */
export function publishStreamStart(msg: ManaTraceMessage): void {
  const ch = CHANNELS.stream;
  ch.start.publish(msg);
  ch.end.publish(msg);
}

/** Streams: `error` (when `error` is given), then `asyncStart` and `asyncEnd` when the stream is over. */
export function publishStreamEnd(msg: ManaTraceMessage, error?: unknown): void {
  const ch = CHANNELS.stream;
  if (error !== undefined) {
    msg.error = error;
    ch.error.publish(msg);
  }
  ch.asyncStart.publish(msg);
  ch.asyncEnd.publish(msg);
}
