import { type FSWatcher, type Stats, statSync, watch as watchFs } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { AliasRegistry, AliasSummary } from './aliases/alias-registry.js';
import type { ResponseCache } from './cache/response-cache.js';
import { AliasConfigError, ClosedError, ConfigError } from './errors.js';
import type { ManaLLMEventName, ManaLLMListener } from './events.js';
import type { HealthSnapshot } from './health/health-snapshot.js';
import type { Prober } from './health/prober.js';
import { textOf } from './redact.js';
import { AttemptSignal } from './routing/attempt.js';
import { streamChain } from './routing/chat-stream.js';
import type { RouterContext } from './routing/context.js';
import { explainRoute, type ResolveResult } from './routing/explain-route.js';
import { listModels, type ModelList } from './routing/list-models.js';
import { type OpenedStream, openStream } from './routing/open-stream.js';
import { CallPlanner } from './routing/plan-call.js';
import { DirectChains } from './routing/resolve-model.js';
import { type CallServices, CHAT_STEP, EMBED_STEP, serveCall } from './routing/serve-call.js';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  EmbedRequest,
  EmbedResponse,
} from './types.js';
import { validateOptions } from './validate-request.js';
import type { Http } from './wire/http.js';

/** Parts the composition root hands to the client. */
interface ClientParts {
  ctx: RouterContext;
  aliases: AliasRegistry;
  http: Http;
  prober: Prober | undefined;
  cache: ResponseCache | undefined;
}

/** The mana-llm client: `chat`, `stream`, `embed`, plus routing explanations, health and lifecycle. */
export class ManaLLM {
  readonly #ctx: RouterContext;
  readonly #parts: ClientParts;
  /** Direct `provider/model` strings already parsed (per client, bounded). */
  readonly #direct = new DirectChains();
  readonly #services: CallServices;
  readonly #cleanup: (() => void)[] = [];
  /** The one close(): a second call waits for it too. */
  #closing: Promise<void> | undefined;

  /** @internal use `createManaLLM` */
  constructor(parts: ClientParts) {
    const { ctx } = parts;
    this.#ctx = ctx;
    this.#parts = parts;
    // First: a watch the system refuses throws before anything of this client runs (nobody could close it).
    const path = 'path' in ctx.opts.aliasSource ? ctx.opts.aliasSource.path : undefined;
    if (path && ctx.opts.watch) this.#watch(path);
    const planner = new CallPlanner(ctx, parts.aliases, this.#direct, parts.cache !== undefined);
    this.#services = { ctx, planner, cache: parts.cache };
    this.#cleanup.push(ctx.health.transitions.add((t) => ctx.events.emit('health', t)));
    // A provider's breaker that opens releases this client's attempts still waiting on it (docs/latency.md).
    this.#cleanup.push(ctx.health.opened.add((p) => AttemptSignal.releaseWaiting(ctx.live, p)));
    this.#cleanup.push(ctx.health.storeStatus.add((s) => ctx.events.emit('store', s)));
    if (parts.prober) {
      const prober = parts.prober;
      // Probes start on the next tick so that createManaLLM itself never does network I/O.
      this.#cleanup.push(
        ctx.clock.setTimer(0, () => prober.start()),
        () => prober.stop(),
        // A provider that just went down (calls, a probe, or another process) is re-probed on the fast schedule.
        ctx.health.transitions.add((t) => {
          if (!t.healthy) prober.recover(t.provider);
        }),
      );
    }
    if (path && ctx.opts.reloadOnSignal) {
      const signal = ctx.opts.reloadOnSignal;
      const onSignal = () => void this.reload().catch(() => undefined);
      process.on(signal, onSignal);
      this.#cleanup.push(() => process.off(signal, onSignal));
    }
  }

  /** @throws ConfigError when the system refuses the watch (ENOSPC: its limit of watchers is reached) */
  #watch(path: string): void {
    const name = basename(path);
    let cancel: (() => void) | undefined;
    let named = false;
    // What the path leads to: a Kubernetes ConfigMap update renames a new `..data` link over the old one, and no
    // event names the file; an event for another entry reloads only when this changed.
    let seen = identity(statSync(path, { throwIfNoEntry: false }));
    const settle = async (): Promise<void> => {
      const force = named;
      named = false;
      const now = identity(await stat(path).catch(() => undefined));
      const changed = now !== seen;
      seen = now;
      if (force || changed) await this.reload();
    };
    let watcher: FSWatcher;
    try {
      // Watch the directory: editors replace files by rename, which ends a watch on the file itself.
      watcher = watchFs(dirname(path), (_event, file) => {
        if (file === null || file === name) named = true;
        cancel?.();
        cancel = this.#ctx.clock.setTimer(50, () => void settle().catch(() => undefined));
      });
    } catch (err) {
      const { code } = err as { code?: unknown };
      const why = typeof code === 'string' ? code : textOf(err);
      throw new ConfigError(
        'cannot watch the aliases file',
        [{ path: 'watch', message: `cannot watch ${dirname(path)} (${why})` }],
        { cause: err },
      );
    }
    watcher.on('error', () => undefined);
    watcher.unref();
    this.#cleanup.push(() => {
      cancel?.();
      watcher.close();
    });
  }

  /**
   * One chat completion, from the first chain entry that can serve it.
   * @throws InvalidRequestError, NoHealthyProviderError, ProviderError subclasses for the caller's own mistakes, UnknownAliasError, the signal's reason
   */
  chat(request: ChatRequest, opts?: CallOptions): Promise<ChatResponse> {
    return serveCall(this.#services, 'chat', request, opts, CHAT_STEP);
  }

  /**
   * A streamed chat completion (OpenAI chunks). Falls back invisibly until the first content chunk; after it,
   * a failure ends the stream with StreamInterruptedError. Breaking out of the loop cancels the upstream.
   */
  stream(request: ChatRequest, opts?: CallOptions): AsyncGenerator<ChatChunk, void, undefined> {
    // The routing generator itself, planning on its first step.
    return streamChain(this.#services, request, opts);
  }

  /**
   * A streamed chat completion that resolves once it commits (its first content chunk arrived), for HTTP handlers
   * that must choose their status before writing: the stream hands out the held chunks first and carries `routing`
   * and `model`. Breaking out of the loop cancels the upstream.
   * @throws NoHealthyProviderError, UnknownAliasError, ProviderError subclasses for the caller's own mistakes, the signal's reason
   */
  openStream(request: ChatRequest, opts?: CallOptions): Promise<OpenedStream> {
    return openStream(this.#services, request, opts);
  }

  /**
   * Embeddings (OpenAI shape). An alias with `dimensions` skips members whose vectors have another length.
   * @throws InvalidRequestError, NoHealthyProviderError, UnknownAliasError, the signal's reason
   */
  embed(request: EmbedRequest, opts?: CallOptions): Promise<EmbedResponse> {
    return serveCall(this.#services, 'embed', request, opts, EMBED_STEP);
  }

  /**
   * Explains the routing decision a call would make now, without calling anything.
   * @throws UnknownAliasError, InvalidRequestError
   */
  resolve(model?: string, request?: ChatRequest): ResolveResult {
    return explainRoute(this.#ctx, this.#parts.aliases, this.#direct, model, request);
  }

  /**
   * Every configured provider's model list, best effort: a provider that fails or does not answer within
   * `timeouts.totalMs` is named in `errors`.
   * @throws InvalidRequestError, the signal's reason, ClosedError
   */
  async models(opts: { signal?: AbortSignal | undefined } = {}): Promise<ModelList> {
    if (this.#ctx.closed) throw new ClosedError();
    validateOptions(opts);
    return listModels(this.#ctx, opts.signal);
  }

  /** The loaded aliases, sorted by name. */
  aliases(): { default: string | null; aliases: readonly AliasSummary[] } {
    return { default: this.#parts.aliases.default ?? null, aliases: this.#parts.aliases.list() };
  }

  /** Every configured provider's breaker state, and the targets cooling after a 429. */
  health(): HealthSnapshot {
    return this.#ctx.health.snapshot();
  }

  /**
   * Re-reads the aliases; on any error the previous aliases stay in force.
   * @throws AliasConfigError, ClosedError
   */
  async reload(): Promise<void> {
    if (this.#ctx.closed) throw new ClosedError();
    try {
      const config = await this.#parts.aliases.reload();
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
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#ctx.closed = true;
    for (const fn of this.#cleanup.splice(0)) fn();
    const closed = new ClosedError();
    for (const c of this.#ctx.live) c.abort(closed);
    // `async`: a custom adapter's close() that throws at once must not stop the rest from closing.
    await Promise.allSettled([...this.#ctx.providers.values()].map(async (s) => s.adapter.close?.()));
    await this.#parts.http.close();
    await this.#ctx.images.fetcher.close();
    await Promise.allSettled([this.#ctx.health.close(), this.#parts.cache?.close()]);
    this.#ctx.events.removeAll();
    this.#direct.clear();
  }

  /** `await using llm = createManaLLM(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A file's identity (device, inode, mtime, size), or '' when it is missing or unreadable. */
function identity(st: Stats | undefined): string {
  return st ? `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}` : '';
}
