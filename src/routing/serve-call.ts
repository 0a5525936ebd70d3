import type { ChainEntry } from '../aliases/schema.js';
import type { ResponseCache } from '../cache/response-cache.js';
import { cutModel, ProviderResponseError } from '../errors.js';
import { isCount, isUsage, type JsonObject, vectorLength } from '../providers/json-shapes.js';
import { choicesProblem } from '../providers/openai-reply.js';
import { activeChannel, type ManaTraceMessage } from '../trace-channels.js';
import type {
  CallOptions,
  ChatCompletion,
  ChatRequest,
  ChatResponse,
  Embeddings,
  EmbedRequest,
  Routing,
  Usage,
} from '../types.js';
import type { CallPlan, ProviderSlot, RouterContext } from './context.js';
import type { CallPlanner } from './plan-call.js';
import { reportFailure, reportRequest, reportServed } from './report.js';
import { type Step, walkChain } from './walk-chain.js';

/** What a non-streaming call needs from its client; built once per client. */
export interface CallServices {
  readonly ctx: RouterContext;
  readonly planner: CallPlanner;
  readonly cache: ResponseCache | undefined;
}

/**
 * A non-streaming call (chat or embed), inside its tracing channel (`mana-llm:chat`, `mana-llm:embed`) while
 * something subscribes. Not `async`: the call's own promise, one layer fewer; a throw while planning is a rejection.
 * @throws what planning and the walk throw, reported as the call's failure
 */
export function serveCall<T extends ChatCompletion | Embeddings, R extends ChatRequest | EmbedRequest>(
  services: CallServices,
  kind: 'chat' | 'embed',
  request: R,
  opts: CallOptions | undefined,
  step: Step<T, R>,
): Promise<T & { routing: Routing }> {
  const ch = activeChannel(kind);
  if (!ch) return serve(services, kind, request, opts, step, undefined);
  const msg: ManaTraceMessage = { kind, request };
  return ch.tracePromise(() => serve(services, kind, request, opts, step, msg), msg);
}

/** Planning, the response cache, the chain walk, routing info and events. */
async function serve<T extends ChatCompletion | Embeddings, R extends ChatRequest | EmbedRequest>(
  services: CallServices,
  kind: 'chat' | 'embed',
  request: R,
  opts: CallOptions | undefined,
  step: Step<T, R>,
  trace: ManaTraceMessage | undefined,
): Promise<T & { routing: Routing }> {
  const { ctx, planner, cache } = services;
  const plan = planner.plan(kind, request, opts, trace);
  reportRequest(ctx, plan, request);
  const cached = cache?.open<T & { routing: Routing }>(plan, request, opts);
  const ticket = cached && (await cached);
  if (ticket?.hit) return ticket.hit;
  try {
    const served = await walkChain(ctx, plan, step, request);
    served.attempt.end();
    const res = served.value as T & { routing: Routing };
    res.routing = routingOf(plan, served.entry.target, plan.attempts);
    if (ticket && 'save' in ticket) ticket.save(res);
    reportServed(ctx, plan, served.entry.target, usageOf(kind, res));
    return res;
  } catch (err) {
    throw reportFailure(ctx, plan, err);
  }
}

/**
 * A custom adapter's answer as the router may use it: a copy (it gets its own `routing`, though the adapter may hand
 * out one frozen or shared object), held to the rule a built-in adapter's reply is (openai-reply.ts): a reply whose
 * choices callers cannot take, or embeddings without one vector per input (`inputs`), is a malformed one; a usage
 * without counts is read as reporting none.
 */
function ownAnswer<T>(
  slot: ProviderSlot,
  entry: ChainEntry,
  answer: Promise<T>,
  inputs?: number,
): Promise<T> {
  if (slot.config.type !== 'custom') return answer;
  return answer.then((v) => {
    const copy: JsonObject = { ...(v as JsonObject) };
    let wrong: string | undefined;
    if (inputs === undefined) wrong = choicesProblem(copy.choices);
    else {
      const data = inInputOrder(copy.data, inputs);
      if (typeof data === 'string') wrong = data;
      else copy.data = data;
    }
    if (wrong !== undefined)
      throw new ProviderResponseError(`${cutModel(entry.target)}: the adapter's answer ${wrong}`, entry);
    if (copy.usage != null && !isUsage(copy.usage)) delete copy.usage;
    return copy as T;
  });
}

/**
 * A custom adapter's embeddings `data` in input order, as a built-in adapter hands them out (each item given its
 * index), or what makes it not one vector per input: finite numbers, all of one length that is not 0, each index (or
 * the item's position when it has none) a distinct input's.
 */
function inInputOrder(data: unknown, inputs: number): JsonObject[] | string {
  if (!Array.isArray(data)) return 'has no data list';
  if (data.length !== inputs) return `holds ${data.length} embeddings for ${inputs} inputs`;
  if (vectorLength(data) === 0)
    return 'holds an empty vector, one that is not all numbers, or vectors of different lengths';
  const ordered: JsonObject[] = [];
  for (let i = 0; i < inputs; i++) {
    const item = data[i] as JsonObject;
    const index = item.index ?? i;
    if (!isCount(index) || index >= inputs || ordered[index] !== undefined)
      return 'holds an index out of range, repeated or not a number';
    ordered[index] = { ...item, index };
  }
  return ordered;
}

/** Chat attempts: the request with the entry's model, as is. Built once: nothing in it is per call. */
export const CHAT_STEP: Step<ChatCompletion, ChatRequest> = {
  timeoutLabel: 'no answer',
  run: (slot, entry, context, request) =>
    ownAnswer(slot, entry, slot.adapter.chat({ ...request, model: entry.model }, context)),
};

/** Embedding attempts: the input always as an array; an alias with `dimensions` skips vectors of another length. */
export const EMBED_STEP: Step<Embeddings, EmbedRequest> = {
  timeoutLabel: 'no answer',
  run: (slot, entry, context, request) => {
    const input = Array.isArray(request.input) ? request.input : [request.input];
    return ownAnswer(
      slot,
      entry,
      slot.adapter.embed({ ...request, input, model: entry.model }, context),
      input.length,
    );
  },
  reject: (v, plan) => {
    const dims = plan.alias?.dimensions;
    // Every item holds a vector by now: a custom adapter's answer without one is malformed (ownAnswer).
    return dims !== undefined && v.data.some((d) => d.embedding.length !== dims) ? 'dimensions' : undefined;
  },
};

/** The `routing` a served call carries: what was asked for, the alias, the entry that served and the attempts. */
export function routingOf(
  plan: CallPlan,
  resolved: string,
  attempts: ChatResponse['routing']['attempts'],
): ChatResponse['routing'] {
  return plan.alias
    ? { requested: plan.requested, alias: plan.alias.name, resolved, attempts }
    : { requested: plan.requested, resolved, attempts };
}

/**
 * Usage for the `response` event: a completion's as is; embeddings have prompt tokens only. By the call's `kind`, not
 * the answer's `object`, which a custom adapter may leave out.
 */
function usageOf(kind: 'chat' | 'embed', res: ChatCompletion | Embeddings): Usage | undefined {
  if (kind === 'chat') return (res as ChatCompletion).usage;
  const u = res.usage;
  return u?.prompt_tokens
    ? { prompt_tokens: u.prompt_tokens, completion_tokens: 0, total_tokens: u.total_tokens }
    : undefined;
}
