export type { ManaProviderOptions } from './call-options.js';
export { ManaEmbeddingModel } from './embedding-model.js';
export { ManaLanguageModel } from './language-model.js';
export { createManaProvider, type ManaProvider } from './provider.js';
