import { type EmbeddingModelV3, NoSuchModelError, type ProviderV3 } from '@ai-sdk/provider';
import type { ManaLLM } from '../client.js';
import { isManaLLMError } from '../errors.js';
import { ManaEmbeddingModel } from './embedding-model.js';
import { ManaLanguageModel } from './language-model.js';

/** An AI SDK provider backed by a mana-llm client: `mana('mana/fast-text')` is a language model. */
export interface ManaProvider extends ProviderV3 {
  (modelId: string): ManaLanguageModel;
  languageModel(modelId: string): ManaLanguageModel;
  embeddingModel(modelId: string): ManaEmbeddingModel;
  /** The same as `embeddingModel` (the name older AI SDK code calls). */
  textEmbeddingModel(modelId: string): ManaEmbeddingModel;
}

/** Fails fast on an alias that is not defined (`NoSuchModelError`), as the AI SDK's own providers do. */
function check(llm: ManaLLM, modelId: string, modelType: 'languageModel' | 'embeddingModel'): void {
  try {
    llm.resolve(modelId);
  } catch (err) {
    if (isManaLLMError(err) && err.code === 'UNKNOWN_ALIAS') {
      throw new NoSuchModelError({ modelId, modelType, message: err.message });
    }
    throw err;
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
  }) satisfies ManaProvider & { textEmbeddingModel(id: string): EmbeddingModelV3 };
}
