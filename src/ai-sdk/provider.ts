import {
  type EmbeddingModelV3,
  type EmbeddingModelV3CallOptions,
  type EmbeddingModelV3Result,
  NoSuchModelError,
  type ProviderV3,
} from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import type { EmbedRequest } from '../types.js';
import { callOptions, headerWarnings } from './call-options.js';
import { type ModelType, toAISDKError } from './errors.js';
import { ManaLanguageModel } from './language-model.js';
import { routingMetadata } from './metadata.js';

/** An AI SDK provider backed by a mana-llm client: `mana('mana/fast-text')` is a language model. */
export interface ManaProvider extends ProviderV3 {
  (modelId: string): ManaLanguageModel;
  languageModel(modelId: string): ManaLanguageModel;
  embeddingModel(modelId: string): ManaEmbeddingModel;
  /** The same as `embeddingModel` (the name older AI SDK code calls). */
  textEmbeddingModel(modelId: string): ManaEmbeddingModel;
}

/** Fails fast on an alias that is not defined (`NoSuchModelError`), as the AI SDK's own providers do. */
function check(llm: ManaLLM, modelId: string, modelType: ModelType): void {
  try {
    llm.resolve(modelId);
  } catch (err) {
    const mapped = toAISDKError(err, modelId, modelType, undefined);
    throw mapped instanceof NoSuchModelError ? mapped : err;
  }
}

/**
 * Wraps a mana-llm client as a Vercel AI SDK provider (specification v3, `ai@6`): every model id is an alias,
 * `provider/model` or bare model, routed with mana-llm's fallback, health and streaming commit point.
 * @throws NoSuchModelError (from the accessors) for an alias that is not defined
 */
export function createManaProvider(llm: ManaLLM): ManaProvider {
  const languageModel = (modelId: string): ManaLanguageModel => {
    check(llm, modelId, 'languageModel');
    return new ManaLanguageModel(llm, modelId);
  };
  const embeddingModel = (modelId: string): ManaEmbeddingModel => {
    check(llm, modelId, 'embeddingModel');
    return new ManaEmbeddingModel(llm, modelId);
  };
  return Object.assign((modelId: string) => languageModel(modelId), {
    specificationVersion: 'v3' as const,
    languageModel,
    embeddingModel,
    textEmbeddingModel: embeddingModel,
    imageModel(modelId: string): never {
      throw new NoSuchModelError({ modelId, modelType: 'imageModel' });
    },
  });
}

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
    return {
      // embed() hands out `data` in input order, a custom adapter's too (docs/embeddings.md).
      embeddings: res.data.map((d) => d.embedding),
      usage: { tokens: res.usage.prompt_tokens },
      providerMetadata: routingMetadata(res.routing),
      warnings: headerWarnings(options.headers),
    };
  }
}
