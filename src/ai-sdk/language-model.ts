import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  SharedV3Warning,
} from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import { isManaLLMError } from '../errors.js';
import { callId } from '../providers/json-shapes.js';
import type { OpenedStream } from '../routing/open-stream.js';
import type { ChatChunk, FinishReason, Usage } from '../types.js';
import { followAbort } from '../wire/cancel.js';
import { toChatCall } from './call-options.js';
import { toAISDKError } from './errors.js';
import { finishReason, routingMetadata, toolCallPart, usageOf } from './metadata.js';

/** A mana-llm model id (an alias, `provider/model` or a bare model) as an AI SDK v3 language model. */
export class ManaLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'mana-llm';
  readonly modelId: string;
  /** Image URLs go to mana-llm as they are: it fetches them itself (within its `images.fetch` policy). */
  readonly supportedUrls: Record<string, RegExp[]> = { 'image/*': [/^https?:\/\/.+/] };
  readonly #llm: ManaLLM;

  constructor(llm: ManaLLM, modelId: string) {
    this.#llm = llm;
    this.modelId = modelId;
  }

  /** One chat completion through the alias's chain. */
  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const { request, options: callOptions, warnings } = toChatCall(this.modelId, options);
    const res = await this.#llm.chat(request, callOptions).catch((err: unknown) => {
      throw toAISDKError(err, this.modelId, 'languageModel', request);
    });
    const choice = res.choices[0];
    const message = choice?.message;
    const content: LanguageModelV3Content[] = [];
    if (message?.reasoning_content) content.push({ type: 'reasoning', text: message.reasoning_content });
    if (message?.content) content.push({ type: 'text', text: message.content });
    // A refusal is the answer's content (docs/wire-conformance.md); the AI SDK has no part of its own for it.
    if (message?.refusal) content.push({ type: 'text', text: message.refusal });
    for (const call of message?.tool_calls ?? [])
      content.push(toolCallPart(call.id, call.function.name, call.function.arguments, call.extra_content));
    return {
      content,
      finishReason: finishReason(choice?.finish_reason),
      usage: usageOf(res.usage),
      providerMetadata: routingMetadata(res.routing),
      request: { body: request },
      response: { id: res.id, modelId: res.model, timestamp: new Date(res.created * 1000) },
      warnings,
    };
  }

  /**
   * A streamed completion. The chain is walked before this resolves (up to mana-llm's commit point), so an
   * outage that nothing in the chain could serve rejects here, where the AI SDK's retry sees it; after the first
   * chunk a failure is an `error` part.
   */
  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const { request, options: callOptions, warnings } = toChatCall(this.modelId, options);
    request.stream_options = { include_usage: true };
    const mapError = (err: unknown) => toAISDKError(err, this.modelId, 'languageModel', request);
    // Cancelling the parts aborts the call at once (return() would wait for a silent upstream's next chunk). The
    // caller's signal is followed until the stream ends, not AbortSignal.any(): Node keeps every signal
    // any() makes on its sources for good, so a long-lived signal grew per call.
    const cancel = new AbortController();
    const { signal } = callOptions;
    const unfollow = signal ? followAbort(signal, () => cancel.abort(signal.reason)) : () => undefined;
    callOptions.signal = cancel.signal;
    const chunks = await this.#llm.openStream(request, callOptions).catch((err: unknown) => {
      unfollow();
      throw mapError(err);
    });
    return { stream: toParts(chunks, warnings, mapError, cancel, unfollow), request: { body: request } };
  }
}

type Part = LanguageModelV3StreamPart;

/** Turns OpenAI chunks into the AI SDK's stream parts, holding what spans chunks (the open block, tool calls). */
class PartWriter {
  // Opening a text block closes the reasoning block and the other way round: at most one is open.
  #block: { type: 'text' | 'reasoning'; id: string } | undefined;
  #blocks = 0;
  readonly #tools = new Map<number, { id: string; name: string; args: string; extra: unknown }>();
  #started = false;
  finish: FinishReason | null = null;
  usage: Usage | undefined;

  constructor(readonly emit: (p: Part) => void) {}

  chunk(c: ChatChunk): void {
    if (!this.#started) {
      this.#started = true;
      this.emit({
        type: 'response-metadata',
        id: c.id,
        modelId: c.model,
        timestamp: new Date(c.created * 1000),
      });
    }
    if (c.usage) this.usage = c.usage;
    const choice = c.choices[0];
    if (!choice) return;
    if (choice.finish_reason) this.finish = choice.finish_reason;
    const d = choice.delta;
    if (d.reasoning_content) this.#delta('reasoning', d.reasoning_content);
    if (d.content) this.#delta('text', d.content);
    if (d.refusal) this.#delta('text', d.refusal);
    for (const t of d.tool_calls ?? []) {
      let tool = this.#tools.get(t.index);
      if (!tool) {
        // A custom adapter's call without an id (or with "") gets a unique one, as a built-in adapter's does.
        tool = { id: callId(t.id), name: t.function?.name ?? '', args: '', extra: undefined };
        this.#tools.set(t.index, tool);
        this.emit({ type: 'tool-input-start', id: tool.id, toolName: tool.name });
      }
      const extra = t.extra_content;
      // A later delta of the same call may carry `extra_content: null` (a proxy that writes every field): never over
      // the signature of an earlier one.
      if (extra != null) tool.extra = extra;
      const args = t.function?.arguments;
      if (args) {
        tool.args += args;
        this.emit({ type: 'tool-input-delta', id: tool.id, delta: args });
      }
    }
  }

  #delta(type: 'text' | 'reasoning', delta: string): void {
    if (this.#block?.type !== type) {
      this.#close();
      this.#block = { type, id: `${type}-${this.#blocks++}` };
      this.emit({ type: `${type}-start`, id: this.#block.id });
    }
    this.emit({ type: `${type}-delta`, id: this.#block.id, delta });
  }

  #close(): void {
    if (this.#block === undefined) return;
    this.emit({ type: `${this.#block.type}-end`, id: this.#block.id });
    this.#block = undefined;
  }

  /** Closes open blocks and, unless the stream broke (`complete` false), hands over the tool calls. */
  end(complete: boolean): void {
    this.#close();
    // A call the upstream never finished is not handed over: its arguments may be cut anywhere.
    if (!complete) return;
    for (const tool of this.#tools.values()) {
      this.emit({ type: 'tool-input-end', id: tool.id });
      this.emit(toolCallPart(tool.id, tool.name, tool.args, tool.extra));
    }
  }
}

/** A committed stream as AI SDK parts, the routing record with the `finish` part. */
function toParts(
  chunks: OpenedStream,
  warnings: SharedV3Warning[],
  mapError: (err: unknown) => unknown,
  cancel: AbortController,
  unfollow: () => void,
): ReadableStream<Part> {
  const metadata = routingMetadata(chunks.routing);
  let cancelled = false;
  return new ReadableStream<Part>({
    start(controller) {
      const writer = new PartWriter((p) => controller.enqueue(p));
      controller.enqueue({ type: 'stream-start', warnings });
      void (async () => {
        let finish: LanguageModelV3FinishReason;
        try {
          for await (const c of chunks) writer.chunk(c);
          finish = finishReason(writer.finish);
        } catch (err) {
          if (cancelled) return;
          // Not a mana-llm error: the caller's abort, which the AI SDK handles itself.
          if (!isManaLLMError(err)) return controller.error(err);
          controller.enqueue({ type: 'error', error: mapError(err) });
          finish = { unified: 'error', raw: undefined };
        } finally {
          unfollow();
        }
        if (cancelled) return;
        writer.end(finish.unified !== 'error'); // 'error' only when the stream broke
        controller.enqueue({
          type: 'finish',
          finishReason: finish,
          usage: usageOf(writer.usage),
          providerMetadata: metadata,
        });
        controller.close();
      })();
    },
    cancel() {
      cancelled = true;
      cancel.abort(new DOMException('the stream parts were cancelled', 'AbortError'));
      void chunks.return().catch(() => {});
    },
  });
}
