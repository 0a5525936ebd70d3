import type {
  JSONObject,
  LanguageModelV3StreamPart,
  SharedV3ProviderMetadata,
  SharedV3Warning,
} from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import { isManaLLMError } from '../errors.js';
import type { OpenedStream } from '../routing/open-stream.js';
import type { CallOptions, ChatChunk, ChatRequest, FinishReason, Usage } from '../types.js';
import { finishReason, routingMetadata, usageOf } from './metadata.js';

type Part = LanguageModelV3StreamPart;

interface ToolState {
  id: string;
  name: string;
  args: string;
  extra: unknown;
}

/** Turns OpenAI chunks into the AI SDK's stream parts, holding what spans chunks (open blocks, tool calls). */
class PartWriter {
  #text: string | undefined;
  #reasoning: string | undefined;
  #blocks = 0;
  readonly #tools = new Map<number, ToolState>();
  finish: FinishReason | null = null;
  usage: Usage | undefined;
  resolved = '';

  constructor(readonly emit: (p: Part) => void) {}

  chunk(c: ChatChunk, first: boolean): void {
    if (first) {
      this.resolved = c.model;
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
    if (d.reasoning_content) {
      this.#closeText();
      if (this.#reasoning === undefined) {
        this.#reasoning = `reasoning-${this.#blocks++}`;
        this.emit({ type: 'reasoning-start', id: this.#reasoning });
      }
      this.emit({ type: 'reasoning-delta', id: this.#reasoning, delta: d.reasoning_content });
    }
    if (d.content) {
      this.#closeReasoning();
      if (this.#text === undefined) {
        this.#text = `text-${this.#blocks++}`;
        this.emit({ type: 'text-start', id: this.#text });
      }
      this.emit({ type: 'text-delta', id: this.#text, delta: d.content });
    }
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

  #closeText(): void {
    if (this.#text === undefined) return;
    this.emit({ type: 'text-end', id: this.#text });
    this.#text = undefined;
  }

  #closeReasoning(): void {
    if (this.#reasoning === undefined) return;
    this.emit({ type: 'reasoning-end', id: this.#reasoning });
    this.#reasoning = undefined;
  }

  /** Closes open blocks and hands over complete tool calls. */
  end(): void {
    this.#closeReasoning();
    this.#closeText();
    for (const tool of this.#tools.values()) {
      this.emit({ type: 'tool-input-end', id: tool.id });
      this.emit({
        type: 'tool-call',
        toolCallId: tool.id,
        toolName: tool.name,
        input: tool.args || '{}',
        ...(tool.extra === undefined
          ? {}
          : { providerMetadata: { mana: { extraContent: tool.extra as JSONObject } } }),
      });
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
  let chunks: OpenedStream;
  try {
    chunks = await llm.openStream(request, options);
  } catch (err) {
    throw mapError(err);
  }
  const metadata: SharedV3ProviderMetadata = routingMetadata(chunks.routing);
  let cancelled = false;
  return new ReadableStream<Part>({
    start(controller) {
      const writer = new PartWriter((p) => controller.enqueue(p));
      controller.enqueue({ type: 'stream-start', warnings });
      void (async () => {
        try {
          let first = true;
          for (let r = await chunks.next(); !r.done; r = await chunks.next()) {
            writer.chunk(r.value, first);
            first = false;
          }
          if (cancelled) return;
          writer.end();
          controller.enqueue({
            type: 'finish',
            finishReason: finishReason(writer.finish),
            usage: usageOf(writer.usage),
            providerMetadata: metadata,
          });
          controller.close();
        } catch (err) {
          if (cancelled) return;
          if (!isManaLLMError(err)) {
            // The caller's abort: the AI SDK handles its own abort reason.
            controller.error(err);
            return;
          }
          controller.enqueue({ type: 'error', error: mapError(err) });
          writer.end();
          controller.enqueue({
            type: 'finish',
            finishReason: { unified: 'error', raw: undefined },
            usage: usageOf(writer.usage),
            providerMetadata: metadata,
          });
          controller.close();
        }
      })();
    },
    cancel() {
      cancelled = true;
      void chunks.return();
    },
  });
}
