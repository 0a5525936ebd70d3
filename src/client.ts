import { type FSWatcher, watch as watchFs } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { AliasRegistry, AliasSummary } from './aliases/alias-registry.js';
import type { ResponseCache } from './cache/response-cache.js';
import { AliasConfigError, ClosedError, isManaLLMError, ProviderTimeoutError } from './errors.js';
import type { CallKind, ManaLLMEventName, ManaLLMListener } from './events.js';
import type { HealthSnapshot } from './health/health-cache.js';
import type { Prober } from './health/prober.js';
import { CallImages } from './providers/images.js';
import { AttemptSignal } from './routing/attempt.js';
import { chatNeeds, precheck } from './routing/candidates.js';
import type { CallPlan, Needs, RouterContext } from './routing/context.js';
import { type OpenedStream, openStream } from './routing/open-stream.js';
import { reportFailure, reportRequest, reportServed } from './routing/report.js';
import { checkRequestBounds } from './routing/request-bounds.js';
import { DirectChains, resolveModel } from './routing/resolve-model.js';
import { type ChatStream, streamChain } from './routing/stream-chain.js';
import { type Step, walkChain } from './routing/walk-chain.js';
import {
  activeChannel,
  type ManaTraceMessage,
  publishStreamEnd,
  publishStreamStart,
} from './trace-channels.js';
import type {
  CallOptions,
  ChatChunk,
  ChatCompletion,
  ChatRequest,
  ChatResponse,
  Embeddings,
  EmbedRequest,
  EmbedResponse,
  Routing,
  Usage,
} from './types.js';
import { validateCall, validateModel } from './validate-request.js';
import type { Http } from './wire/http.js';

/** State of one chain entry as `resolve()` explains it. */
export type CandidateState =
  | 'ready'
  | 'unhealthy'
  | 'cooling'
  | 'half-open'
  | 'unconfigured'
  | 'saturated'
  | 'capability';

/** What `resolve()` returns: the routing decision a call would make now, without calling anything. */
export interface ResolveResult {
  requested: string;
  alias?: string;
  candidates: { target: string; provider: string; model: string; state: CandidateState; until?: number }[];
}

/** What `models()` returns: every configured provider's models, best effort. */
export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; owned_by: string }[];
  errors: { provider: string; error: string }[];
}

/** Parts the composition root hands to the client. */
export interface ClientParts {
  ctx: RouterContext;
  aliases: AliasRegistry;
  http: Http;
  prober: Prober | undefined;
  aliasesPath: string | undefined;
  cache?: ResponseCache | undefined;
  /** Closed with the client: the image fetcher's connections. */
  images?: { close(): Promise<void> };
}

/** The mana-llm client: `chat`, `stream`, `embed`, plus routing explanations, health and lifecycle. */
export class ManaLLM {
  readonly #ctx: RouterContext;
  readonly #aliases: AliasRegistry;
  readonly #http: Http;
  readonly #prober: Prober | undefined;
  readonly #cache: ResponseCache | undefined;
  readonly #images: { close(): Promise<void> } | undefined;
  /** Direct `provider/model` strings already parsed (per client, bounded). */
  readonly #direct = new DirectChains();
  readonly #cleanup: (() => void)[] = [];
  #seq = 0;
  #closed = false;

  /** @internal use `createManaLLM` */
  constructor(parts: ClientParts) {
    this.#ctx = parts.ctx;
    this.#aliases = parts.aliases;
    this.#http = parts.http;
    this.#prober = parts.prober;
    this.#cache = parts.cache;
    this.#images = parts.images;
    const { ctx } = parts;
    this.#cleanup.push(ctx.health.onTransition((t) => ctx.events.emit('health', t)));
    this.#cleanup.push(ctx.health.onStoreStatus((s) => ctx.events.emit('store', s)));
    if (parts.prober) {
      const prober = parts.prober;
      // Probes start on the next tick so that createManaLLM itself never does network I/O.
      this.#cleanup.push(
        ctx.clock.setTimer(0, () => prober.start()),
        () => prober.stop(),
        // A provider that just went down (calls, a probe, or another process) is re-probed on the fast schedule.
        ctx.health.onTransition((t) => {
          if (!t.healthy) prober.recover(t.provider);
        }),
      );
    }
    const path = parts.aliasesPath;
    if (path && ctx.opts.watch) this.#watch(path);
    if (path && ctx.opts.reloadOnSignal) {
      const signal = ctx.opts.reloadOnSignal;
      const onSignal = () => void this.reload().catch(() => undefined);
      process.on(signal, onSignal);
      this.#cleanup.push(() => process.off(signal, onSignal));
    }
  }

  #watch(path: string): void {
    const name = basename(path);
    let cancel: (() => void) | undefined;
    // Watch the directory: editors replace files by rename, which ends a watch on the file itself.
    const watcher: FSWatcher = watchFs(dirname(path), (_event, file) => {
      if (file !== null && file !== name) return;
      cancel?.();
      cancel = this.#ctx.clock.setTimer(50, () => void this.reload().catch(() => undefined));
    });
    watcher.on('error', () => undefined);
    watcher.unref();
    this.#cleanup.push(() => {
      cancel?.();
      watcher.close();
    });
  }

  #plan(
    kind: CallKind,
    request: ChatRequest | EmbedRequest,
    opts: CallOptions | undefined,
    trace: ManaTraceMessage | undefined,
  ): CallPlan {
    if (this.#closed) throw new ClosedError();
    const id = String(++this.#seq);
    // Before anything reads the request: a malformed call is a 400 that never reaches a provider.
    try {
      validateCall(kind, request, opts, this.#cache !== undefined);
    } catch (err) {
      throw this.#refused(id, kind, (request as { model?: unknown } | null)?.model, err, trace);
    }
    if (opts?.signal?.aborted) throw opts.signal.reason;
    let r: ReturnType<typeof resolveModel>;
    try {
      r = resolveModel(request.model, this.#aliases, this.#ctx.opts.defaultProvider, this.#direct);
      // Before anything is built from the content: a request too deep or too big is the caller's error.
      checkRequestBounds(request, this.#ctx.opts.limits);
    } catch (err) {
      throw this.#refused(id, kind, request.model, err, trace);
    }
    const needs = kind === 'embed' ? EMBED_NEEDS : chatNeeds(request as ChatRequest);
    const now = this.#ctx.clock.now();
    const deadline = now + (opts?.timeoutMs ?? this.#ctx.opts.timeouts.totalMs);
    const plan: CallPlan = {
      id,
      kind,
      requested: r.requested,
      alias: r.alias,
      chain: r.chain,
      needs,
      signal: opts?.signal,
      startedAt: now,
      deadline,
      attempts: [],
      trace,
    };
    if (!needs.vision || kind === 'embed') return plan;
    const { messages } = request as ChatRequest;
    return { ...plan, images: new CallImages(this.#ctx.images, messages, opts?.signal, deadline) };
  }

  /** An unknown alias or a malformed call is still a request that failed: hosts counting failures must see it. */
  #refused(
    id: string,
    kind: CallKind,
    model: unknown,
    err: unknown,
    trace: ManaTraceMessage | undefined,
  ): unknown {
    const { events } = this.#ctx;
    const requested = typeof model === 'string' ? model : '';
    if (events.has('request')) events.emit('request', { id, kind, requested });
    if (events.has('failure') && isManaLLMError(err))
      events.emit('failure', { id, kind, requested, error: err, durationMs: 0 });
    if (trace && kind === 'stream') {
      trace.id = id;
      trace.requested = requested;
      publishStreamStart(trace);
      publishStreamEnd(trace, err);
    }
    return err;
  }

  /**
   * One chat completion, from the first chain entry that can serve it.
   * @throws InvalidRequestError, NoHealthyProviderError, ProviderError subclasses for the caller's own mistakes, UnknownAliasError, the signal's reason
   */
  chat(request: ChatRequest, opts?: CallOptions): Promise<ChatResponse> {
    // Not `async`: the promise of #serve itself, one layer fewer; #serve plans, so a throw is still a rejection.
    const ch = activeChannel('chat');
    if (!ch) return this.#serve<ChatCompletion, ChatRequest>('chat', request, opts, CHAT_STEP, undefined);
    const msg: ManaTraceMessage = { kind: 'chat', request };
    return ch.tracePromise(() => this.#serve('chat', request, opts, CHAT_STEP, msg), msg);
  }

  /** The non-streaming call: planning, response cache, chain walk, routing info and events. */
  async #serve<T extends ChatCompletion | Embeddings, R extends ChatRequest | EmbedRequest>(
    kind: 'chat' | 'embed',
    request: R,
    opts: CallOptions | undefined,
    step: Step<T, R>,
    trace: ManaTraceMessage | undefined,
  ): Promise<T & { routing: Routing }> {
    const plan = this.#plan(kind, request, opts, trace);
    reportRequest(this.#ctx, plan, request);
    const cached = this.#cache?.open<T & { routing: Routing }>(plan, request, opts);
    const ticket = cached && (await cached);
    if (ticket?.hit) return ticket.hit;
    try {
      const served = await walkChain(this.#ctx, plan, step, request);
      served.done();
      const res = served.value as T & { routing: Routing };
      res.routing = routing(plan, served.entry.target, served.attempts);
      if (ticket && 'save' in ticket) ticket.save(res);
      reportServed(this.#ctx, plan, served.entry.target, usageOf(res));
      return res;
    } catch (err) {
      throw reportFailure(this.#ctx, plan, err);
    }
  }

  /**
   * A streamed chat completion (OpenAI chunks). Falls back invisibly until the first content chunk; after it,
   * a failure ends the stream with StreamInterruptedError. Breaking out of the loop cancels the upstream.
   */
  stream(request: ChatRequest, opts?: CallOptions): AsyncGenerator<ChatChunk, void, undefined> {
    return this.#stream(request, opts);
  }

  #stream(request: ChatRequest, opts: CallOptions | undefined): ChatStream {
    // The routing generator itself, planning on its first step (as an `async *stream` would).
    return streamChain(
      this.#ctx,
      () =>
        this.#plan(
          'stream',
          request,
          opts,
          activeChannel('stream') ? { kind: 'stream', request } : undefined,
        ),
      request,
    );
  }

  /**
   * A streamed chat completion that resolves once it commits (its first content chunk arrived), for HTTP handlers
   * that must choose their status before writing: the stream hands out the held chunks first and carries `routing`
   * and `model`. Breaking out of the loop cancels the upstream.
   * @throws NoHealthyProviderError, UnknownAliasError, ProviderError subclasses for the caller's own mistakes, the signal's reason
   */
  openStream(request: ChatRequest, opts?: CallOptions): Promise<OpenedStream> {
    return openStream(this.#stream(request, opts), (c) => routing(c.plan, c.target, c.attempts));
  }

  /**
   * Embeddings (OpenAI shape). An alias with `dimensions` skips members whose vectors have another length.
   * @throws InvalidRequestError, NoHealthyProviderError, UnknownAliasError, the signal's reason
   */
  embed(request: EmbedRequest, opts?: CallOptions): Promise<EmbedResponse> {
    // Not `async`, as chat.
    const ch = activeChannel('embed');
    if (!ch) return this.#serve<Embeddings, EmbedRequest>('embed', request, opts, EMBED_STEP, undefined);
    const msg: ManaTraceMessage = { kind: 'embed', request };
    return ch.tracePromise(() => this.#serve('embed', request, opts, EMBED_STEP, msg), msg);
  }

  /**
   * Explains the routing decision a call would make now, without calling anything.
   * @throws UnknownAliasError, InvalidRequestError
   */
  resolve(model?: string, request?: ChatRequest): ResolveResult {
    validateModel(model);
    if (request !== undefined) validateCall('chat', request, undefined, true);
    const r = resolveModel(model, this.#aliases, this.#ctx.opts.defaultProvider, this.#direct);
    const needs = request ? chatNeeds(request) : {};
    return {
      requested: r.requested,
      ...(r.alias ? { alias: r.alias.name } : {}),
      candidates: r.chain.map((entry) => {
        const base = { target: entry.target, provider: entry.provider, model: entry.model };
        const pre = precheck(this.#ctx, entry, needs);
        if ('adapter' in pre) {
          return {
            ...base,
            state: this.#ctx.health.peek(entry.provider) === 'half-open' ? 'half-open' : 'ready',
          };
        }
        return pre.until === undefined
          ? { ...base, state: pre.reason }
          : { ...base, state: pre.reason, until: pre.until };
      }),
    };
  }

  /**
   * Every configured provider's model list, best effort: a provider that fails or does not answer within
   * `timeouts.totalMs` is named in `errors`.
   * @throws the signal's reason, ClosedError
   */
  async models(opts: { signal?: AbortSignal } = {}): Promise<ModelList> {
    if (this.#closed) throw new ClosedError();
    const out: ModelList = { object: 'list', data: [], errors: [] };
    // One attempt signal for all providers: the caller's abort, close() and the deadline on the injected clock.
    const attempt = new AttemptSignal(this.#ctx, opts.signal);
    const { totalMs } = this.#ctx.opts.timeouts;
    attempt.arm(this.#ctx.clock, totalMs, () =>
      attempt.expire(
        new ProviderTimeoutError(`model list: no answer within ${totalMs}ms`, { provider: '', model: '' }),
      ),
    );
    const lists = await Promise.allSettled(
      [...this.#ctx.providers.values()].map(async (slot) => ({
        id: slot.config.id,
        names: await attempt.race(slot.adapter.models({ signal: attempt.signal })),
      })),
    );
    const aborted = attempt.abortReason();
    attempt.end();
    if (aborted !== undefined) throw aborted;
    const ids = [...this.#ctx.providers.keys()];
    lists.forEach((r, i) => {
      const provider = ids[i] as string;
      if (r.status === 'fulfilled') {
        for (const name of r.value.names)
          out.data.push({ id: `${provider}/${name}`, object: 'model', owned_by: provider });
      } else {
        out.errors.push({ provider, error: r.reason instanceof Error ? r.reason.message : String(r.reason) });
      }
    });
    return out;
  }

  /** The loaded aliases, sorted by name. */
  aliases(): { default: string | null; aliases: readonly AliasSummary[] } {
    return { default: this.#aliases.default ?? null, aliases: this.#aliases.list() };
  }

  /** Every configured provider's breaker state, and the targets cooling after a 429. */
  health(): HealthSnapshot {
    return this.#ctx.health.snapshot();
  }

  /**
   * Re-reads the aliases; on any error the previous aliases stay in force.
   * @throws AliasConfigError
   */
  async reload(): Promise<void> {
    try {
      const config = await this.#aliases.reload();
      this.#ctx.events.emit('reload', { ok: true, aliases: config.aliases.size });
    } catch (err) {
      const error =
        err instanceof AliasConfigError ? err : new AliasConfigError('reload failed', [], { cause: err });
      this.#ctx.events.emit('reload', { ok: false, error });
      throw error;
    }
  }

  /** Subscribes to an event (see docs/events.md). */
  on<K extends ManaLLMEventName>(name: K, listener: ManaLLMListener<K>): this {
    this.#ctx.events.on(name, listener);
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<K extends ManaLLMEventName>(name: K, listener: ManaLLMListener<K>): this {
    this.#ctx.events.once(name, listener);
    return this;
  }

  /** Unsubscribes a listener (or every listener of the event). */
  off<K extends ManaLLMEventName>(name: K, listener?: ManaLLMListener<K>): this {
    this.#ctx.events.off(name, listener);
    return this;
  }

  /** Stops probes, watchers and signal handlers, settles in-flight calls with `CLOSED`, closes connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.closed = true;
    for (const fn of this.#cleanup.splice(0)) fn();
    const closed = new ClosedError();
    for (const c of this.#ctx.live) c.abort(closed);
    await Promise.allSettled([...this.#ctx.providers.values()].map((s) => s.adapter.close?.()));
    await this.#http.close();
    await this.#images?.close();
    await Promise.allSettled([this.#ctx.health.close(), this.#cache?.close()]);
    this.#ctx.events.removeAll();
    this.#direct.clear();
  }

  /** `await using llm = createManaLLM(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const EMBED_NEEDS: Needs = Object.freeze({ embeddings: true });

/** Chat attempts: the request with the entry's model, as is. Built once: nothing in it is per call. */
const CHAT_STEP: Step<ChatCompletion, ChatRequest> = {
  attemptMs: Number.POSITIVE_INFINITY,
  timeoutLabel: 'no answer',
  run: (slot, entry, context, request) => slot.adapter.chat({ ...request, model: entry.model }, context),
};

/** Embedding attempts: the input always as an array; an alias with `dimensions` skips vectors of another length. */
const EMBED_STEP: Step<Embeddings, EmbedRequest> = {
  attemptMs: Number.POSITIVE_INFINITY,
  timeoutLabel: 'no answer',
  run: (slot, entry, context, request) =>
    slot.adapter.embed(
      {
        ...request,
        input: Array.isArray(request.input) ? request.input : [request.input],
        model: entry.model,
      },
      context,
    ),
  reject: (v, plan) => {
    const dims = plan.alias?.dimensions;
    return dims !== undefined && v.data.some((d) => d.embedding.length !== dims) ? 'dimensions' : undefined;
  },
};

function routing(
  plan: CallPlan,
  resolved: string,
  attempts: ChatResponse['routing']['attempts'],
): ChatResponse['routing'] {
  return plan.alias
    ? { requested: plan.requested, alias: plan.alias.name, resolved, attempts }
    : { requested: plan.requested, resolved, attempts };
}

/** Usage for the `response` event: a completion's as is; embeddings have prompt tokens only. */
function usageOf(res: ChatCompletion | Embeddings): Usage | undefined {
  if (res.object === 'chat.completion') return res.usage;
  const u = res.usage;
  return u.prompt_tokens
    ? { prompt_tokens: u.prompt_tokens, completion_tokens: 0, total_tokens: u.total_tokens }
    : undefined;
}
