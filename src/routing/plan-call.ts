import type { AliasRegistry } from '../aliases/alias-registry.js';
import { ClosedError, InvalidRequestError } from '../errors.js';
import type { CallKind } from '../events.js';
import { CallImages } from '../providers/images.js';
import type { ManaTraceMessage } from '../trace-channels.js';
import type { CallOptions, ChatRequest, EmbedRequest } from '../types.js';
import { validateCall } from '../validate-request.js';
import { chatNeeds } from './candidates.js';
import type { CallPlan, Needs, RouterContext } from './context.js';
import { reportFailure, reportRequest } from './report.js';
import { checkRequestBounds } from './request-bounds.js';
import { type DirectChains, resolveModel } from './resolve-model.js';

const EMBED_NEEDS: Needs = Object.freeze({ embeddings: true });

/**
 * An alias with `dimensions` skips every vector of another length: a call asking it for another length could only
 * end, after calling every member, in NoHealthyProviderError. It is the caller's mistake, refused before any I/O.
 */
function checkDimensions(request: EmbedRequest, dims: number | undefined): void {
  if (dims === undefined || request.dimensions === undefined || request.dimensions === dims) return;
  throw new InvalidRequestError('Invalid request', [
    { path: 'dimensions', message: `must be ${dims} (the alias's dimensions) or left out` },
  ]);
}

/** Turns a call into a plan: validates it, resolves its model to a chain and sets its budget. One per client. */
export class CallPlanner {
  #seq = 0;

  constructor(
    readonly ctx: RouterContext,
    readonly aliases: AliasRegistry,
    readonly direct: DirectChains,
    readonly hasCache: boolean,
  ) {}

  /**
   * The plan of one call; a refused call is still reported as a request that failed.
   * @throws ClosedError, InvalidRequestError, UnknownAliasError, ConfigError, the signal's reason
   */
  plan(
    kind: CallKind,
    request: ChatRequest | EmbedRequest,
    opts: CallOptions | undefined,
    trace: ManaTraceMessage | undefined,
  ): CallPlan {
    const ctx = this.ctx;
    if (ctx.closed) throw new ClosedError();
    const id = String(++this.#seq);
    // Before anything reads the request: a malformed call is a 400 that never reaches a provider.
    try {
      validateCall(kind, request, opts, this.hasCache);
    } catch (err) {
      throw this.#refused(id, kind, request, err, trace);
    }
    if (opts?.signal?.aborted) throw opts.signal.reason;
    let r: ReturnType<typeof resolveModel>;
    try {
      r = resolveModel(request.model, this.aliases, ctx.opts.defaultProvider, this.direct);
      if (kind === 'embed') checkDimensions(request as EmbedRequest, r.alias?.dimensions);
      // Before anything is built from the content: a request too deep or too big is the caller's error.
      checkRequestBounds(request, ctx.opts.limits);
    } catch (err) {
      throw this.#refused(id, kind, request, err, trace);
    }
    const needs = kind === 'embed' ? EMBED_NEEDS : chatNeeds(request as ChatRequest);
    const now = ctx.clock.now();
    const deadline = now + (opts?.timeoutMs ?? ctx.opts.timeouts.totalMs);
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
      hedgeAfterMs: opts?.hedgeAfterMs ?? r.alias?.hedge?.afterMs,
    };
    if (!needs.vision || kind === 'embed') return plan;
    const { messages } = request as ChatRequest;
    return { ...plan, images: new CallImages(ctx.images, messages, opts?.signal, deadline) };
  }

  /** An unknown alias or a malformed call is still a request that failed: hosts counting failures must see it. */
  #refused(id: string, kind: CallKind, request: unknown, err: unknown, trace?: ManaTraceMessage): unknown {
    const ctx = this.ctx;
    let model: unknown;
    try {
      model = (request as { model?: unknown } | null)?.model;
    } catch {
      // A getter that throws: the InvalidRequestError being reported says so.
    }
    const requested = typeof model === 'string' ? model : '';
    const call = { id, kind, requested, alias: undefined, startedAt: ctx.clock.now(), attempts: [], trace };
    reportRequest(ctx, call, undefined);
    return reportFailure(ctx, call, err, 0);
  }
}
