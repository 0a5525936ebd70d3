import { createHash } from 'node:crypto';
import type { CallKind } from '../events.js';
import { isJsonObject, isUsage, type JsonObject, vectorLength } from '../providers/json-shapes.js';
import { choicesProblem, mayHoldProto, NO_PROTO } from '../providers/openai-reply.js';
import type { CallPlan, RouterContext } from '../routing/context.js';
import { routingOf } from '../routing/serve-call.js';
import type { CallOptions, Routing } from '../types.js';
import { followAbort } from '../wire/cancel.js';
import type { WireLimits } from '../wire/limits.js';
import type { CacheStore } from './cache-store.js';

/** JSON with every object's keys sorted, so equal requests give equal text whatever order their fields came in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  // No prototype: a key like "__proto__" stays an ordinary key.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The cache key of a call: sha256 of the call kind, the resolved alias or `provider/model`, and the request
 * without `model` (embedding input normalised to a list), as stable JSON.
 */
export function cacheKey(kind: CallKind, resolved: string, request: object): string {
  const { model: _model, ...rest } = request as Record<string, unknown>;
  if (kind === 'embed' && typeof rest.input === 'string') rest.input = [rest.input];
  return createHash('sha256')
    .update(`${kind}\n${resolved}\n${stableJson(rest)}`)
    .digest('hex');
}

/** A call that uses the cache: either the cached answer, or `save` to store the answer once it is served. */
type CacheTicket<T> = { readonly hit: T } | { readonly hit?: undefined; save(value: T): void };

interface Stored {
  readonly v: 1;
  readonly resolved: string;
  readonly response: Record<string, unknown>;
}

/** What the cache needs from its client. */
type CacheContext = Pick<RouterContext, 'events' | 'clock' | 'closed'> & {
  readonly opts: { readonly limits: Pick<WireLimits, 'maxResponseBytes' | 'maxEmbeddingResponseBytes'> };
};

/** The client's response cache for non-streaming chat and embeddings. */
export class ResponseCache {
  /** The misses of the calls waiting on the store now. */
  readonly #waiting = new Set<() => void>();

  constructor(
    readonly store: CacheStore,
    readonly ttlMs: number,
    /**
     * The client's: its events, its clock (a read still pending at the call's deadline is a miss), its reply caps (a
     * stored answer longer than its kind's is neither kept nor read) and whether it closed.
     */
    readonly ctx: CacheContext,
  ) {}

  /**
   * Looks the call up when it uses the cache (`{ cache: true }`, or an alias with `cache: true` unless the call
   * says `cache: false`); undefined, without waiting, when it does not.
   */
  open<T extends { routing: Routing }>(
    plan: CallPlan,
    request: object,
    opts: CallOptions | undefined,
  ): Promise<CacheTicket<T>> | undefined {
    if (!(opts?.cache ?? plan.alias?.cache === true)) return undefined;
    const resolved = plan.alias?.name ?? plan.chain[0]?.target ?? plan.requested;
    let key: string;
    try {
      key = cacheKey(plan.kind, resolved, request);
    } catch {
      return undefined; // a request JSON cannot express (a field whose own toJSON throws) is simply not cached
    }
    return this.#open<T>(plan, key);
  }

  async #open<T extends { routing: Routing }>(plan: CallPlan, key: string): Promise<CacheTicket<T>> {
    const { events, opts } = this.ctx;
    const max = plan.kind === 'embed' ? opts.limits.maxEmbeddingResponseBytes : opts.limits.maxResponseBytes;
    const text = await this.#read(plan, key, max);
    // A hit read back after close() or the caller's abort is not served (nor reported): the walk's first step rejects.
    const ended = this.ctx.closed || plan.signal?.aborted;
    const hit =
      text !== undefined && !ended && fits(text, max)
        ? parse(text, plan.kind, plan.alias?.dimensions)
        : undefined;
    if (events.has('cache'))
      events.emit('cache', {
        id: plan.id,
        kind: plan.kind,
        requested: plan.requested,
        key,
        hit: !!hit,
      });
    if (hit) {
      const routing: Routing = { ...routingOf(plan, hit.resolved, []), cached: true };
      return { hit: { ...hit.response, routing } as unknown as T };
    }
    return {
      save: (value: T) => {
        // Only whole answers: a choice without a finish reason was cut short.
        const choices = (value as { choices?: { finish_reason?: unknown }[] }).choices;
        if (choices?.some((c) => c.finish_reason == null)) return;
        const { routing, ...response } = value;
        const stored: Stored = { v: 1, resolved: routing.resolved, response };
        // A cache that cannot store (it throws or rejects) is a cache that misses; an answer over the cap would
        // never be read.
        const set = async () => {
          const text = JSON.stringify(stored);
          if (fits(text, max)) await this.store.setResponse(key, text, this.ttlMs);
        };
        void set().catch(() => {});
      },
    };
  }

  /**
   * The stored text, or a miss (never a failure) when the store fails, or when the call ends while the store has not
   * answered: its caller aborts, its budget runs out, or the client closes (a store that never answers must not
   * hold the call).
   */
  async #read(plan: CallPlan, key: string, max: number): Promise<string | undefined> {
    let got: ReturnType<CacheStore['getResponse']>;
    let pending: boolean;
    try {
      got = this.store.getResponse(key, max);
      // Read inside the try: an answer whose `then` getter throws is a miss too.
      pending = typeof (got as PromiseLike<unknown> | undefined)?.then === 'function';
    } catch {
      return undefined;
    }
    if (!pending) return textOf(got);
    let miss = () => {};
    let unfollow: (() => void) | undefined;
    let cancelTimer: (() => void) | undefined;
    try {
      return await new Promise<string | undefined>((resolve) => {
        miss = () => resolve(undefined);
        this.#waiting.add(miss);
        unfollow = plan.signal && followAbort(plan.signal, miss);
        cancelTimer = this.ctx.clock.setTimer(plan.deadline - this.ctx.clock.now(), miss);
        // Adopted, not called: a hand-made thenable's then() that throws is a miss too (a native promise as it is).
        Promise.resolve(got).then((v) => resolve(textOf(v)), miss);
      });
    } finally {
      unfollow?.();
      cancelTimer?.();
      this.#waiting.delete(miss);
    }
  }

  /** Lets the calls waiting on the store go on as misses (they find the client closed), then closes the store. */
  async close(): Promise<void> {
    for (const miss of this.#waiting) miss();
    await this.store.close?.();
  }
}

/** What a store answered, when it is a text: anything else (a custom store gone wrong) is a miss. */
const textOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Whether a stored answer is within the call's reply cap, in UTF-8 bytes as Redis measures it (`STRLEN`). */
function fits(text: string, maxBytes: number): boolean {
  return Buffer.byteLength(text) <= maxBytes;
}

/**
 * A stored answer for a call of `kind`, its usage included, or undefined when the text is not one (corrupt, or
 * planted in a shared store); embeddings of an alias with `dimensions` must have that length (another process's
 * alias, or this one's before a reload).
 */
function parse(text: string, kind: string, dims: number | undefined): Stored | undefined {
  try {
    // Without own `__proto__` keys, as an upstream's reply is handed out.
    const s = (mayHoldProto(text) ? NO_PROTO.parse(text) : JSON.parse(text)) as Partial<Stored> | null;
    const r = s?.response;
    return s?.v === 1 &&
      typeof s.resolved === 'string' &&
      isJsonObject(r) &&
      (r.usage == null || isUsage(r.usage)) &&
      (kind === 'embed' ? isEmbeddings(r, dims) : isCompletion(r))
      ? (s as Stored)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `r` holds choices callers can take (openai-reply.ts), each with a finish reason (only whole answers are stored). */
function isCompletion(r: JsonObject): boolean {
  return (
    choicesProblem(r.choices) === undefined &&
    (r.choices as { finish_reason?: unknown }[]).every(
      (c) => typeof c.finish_reason === 'string' && c.finish_reason !== '',
    )
  );
}

/**
 * Whether `r` holds vectors as an upstream's reply must (openai-embeddings.ts): finite numbers, all of one length
 * that is not 0 (the alias's `dimensions` when it has them).
 */
function isEmbeddings(r: JsonObject, dims: number | undefined): boolean {
  const length = Array.isArray(r.data) ? vectorLength(r.data) : 0;
  return length > 0 && (dims === undefined || length === dims);
}
