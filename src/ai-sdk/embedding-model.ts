import type { EmbeddingModelV3, EmbeddingModelV3CallOptions, EmbeddingModelV3Result } from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import type { EmbedRequest } from '../types.js';
import { callOptions } from './call-options.js';
import { toAISDKError } from './errors.js';
import { routingMetadata } from './metadata.js';

/** A mana-llm embedding alias (or `provider/model`) as an AI SDK v3 embedding model. */
export class ManaEmbeddingModel implements EmbeddingModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'mana-llm';
  readonly modelId: string;
  /** No limit of its own: the upstream's applies (an over-long batch is the upstream's 4xx). */
  readonly maxEmbeddingsPerCall = undefined;
  readonly supportsParallelCalls = true;
  readonly #llm: ManaLLM;

  constructor(llm: ManaLLM, modelId: string) {
    this.#llm = llm;
    this.modelId = modelId;
  }

  /** Embeds `values` through the alias's chain, vectors in input order. */
  async doEmbed(options: EmbeddingModelV3CallOptions): Promise<EmbeddingModelV3Result> {
    const request: EmbedRequest = { model: this.modelId, input: options.values };
    const res = await this.#llm
      .embed(request, callOptions(options.abortSignal, options.providerOptions))
      .catch((err: unknown) => {
        throw toAISDKError(err, this.modelId, 'embeddingModel', request);
      });
    const embeddings = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    return {
      embeddings,
      usage: { tokens: res.usage.prompt_tokens },
      providerMetadata: routingMetadata(res.routing),
      warnings: [],
    };
  }
}
