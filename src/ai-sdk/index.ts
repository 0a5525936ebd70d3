export type { ManaProviderOptions } from './call-options.js';
export { ManaLanguageModel } from './language-model.js';
export { createManaProvider, ManaEmbeddingModel, type ManaProvider } from './provider.js';
