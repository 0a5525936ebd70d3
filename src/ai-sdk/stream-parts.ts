import type { LanguageModelV3StreamPart, SharedV3ProviderMetadata, SharedV3Warning } from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import { isManaLLMError } from '../errors.js';
import type { CallOptions, ChatChunk, ChatRequest, FinishReason, Usage } from '../types.js';
import { finishReason, routingMetadata, toolCallPart, usageOf } from './metadata.js';

type Part = LanguageModelV3StreamPart;

interface ToolState {
  id: string;
  name: string;
  args: string;
  extra: unknown;
}

/** Turns OpenAI chunks into the AI SDK's stream parts, holding what spans chunks (the open block, tool calls). */
class PartWriter {
  // Opening a text block closes the reasoning block and the other way round: at most one is open.
  #block: { type: 'text' | 'reasoning'; id: string } | undefined;
  #blocks = 0;
  readonly #tools = new Map<number, ToolState>();
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
    for (const t of d.tool_calls ?? []) {
      let tool = this.#tools.get(t.index);
      if (!tool) {
        tool = { id: t.id ?? `call-${t.index}`, name: t.function?.name ?? '', args: '', extra: undefined };
        this.#tools.set(t.index, tool);
        this.emit({ type: 'tool-input-start', id: tool.id, toolName: tool.name });
      }
      const extra = t.extra_content;
      if (extra !== undefined) tool.extra = extra;
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

  /** Closes open blocks and hands over complete tool calls. */
  end(): void {
    this.#close();
    for (const tool of this.#tools.values()) {
      this.emit({ type: 'tool-input-end', id: tool.id });
      this.emit(toolCallPart(tool.id, tool.name, tool.args, tool.extra));
    }
    this.#tools.clear();
  }
}

/**
 * Opens the stream with `llm.openStream` (the chain walk happens here, so a walk that fails rejects with
 * `mapError(err)`), then hands out the rest as AI SDK parts, the routing record with the `finish` part.
 */
export async function streamParts(
  llm: ManaLLM,
  request: ChatRequest,
  options: CallOptions,
  warnings: SharedV3Warning[],
  mapError: (err: unknown) => unknown,
): Promise<ReadableStream<Part>> {
  const chunks = await llm.openStream(request, options).catch((err: unknown) => {
    throw mapError(err);
  });
  const metadata: SharedV3ProviderMetadata = routingMetadata(chunks.routing);
  let cancelled = false;
  return new ReadableStream<Part>({
    start(controller) {
      const writer = new PartWriter((p) => controller.enqueue(p));
      controller.enqueue({ type: 'stream-start', warnings });
      void (async () => {
        let failed = false;
        try {
          try {
            for await (const c of chunks) writer.chunk(c);
          } catch (err) {
            // Not a mana-llm error: the caller's abort, which the AI SDK handles itself.
            if (cancelled || !isManaLLMError(err)) throw err;
            controller.enqueue({ type: 'error', error: mapError(err) });
            failed = true;
          }
          if (cancelled) return;
          writer.end();
          controller.enqueue({
            type: 'finish',
            finishReason: failed ? { unified: 'error', raw: undefined } : finishReason(writer.finish),
            usage: usageOf(writer.usage),
            providerMetadata: metadata,
          });
          controller.close();
        } catch (err) {
          if (!cancelled) controller.error(err);
        }
      })();
    },
    cancel() {
      cancelled = true;
      void chunks.return();
    },
  });
}
