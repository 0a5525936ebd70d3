import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import { toChatCall } from './call-options.js';
import { toAISDKError } from './errors.js';
import { finishReason, routingMetadata, toolCallPart, usageOf } from './metadata.js';
import { streamParts } from './stream-parts.js';

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
    const stream = await streamParts(this.#llm, request, callOptions, warnings, (err) =>
      toAISDKError(err, this.modelId, 'languageModel', request),
    );
    return { stream, request: { body: request } };
  }
}
