export type { AliasSummary } from './aliases/alias-registry.js';
export type { CacheStore } from './cache/cache-store.js';
export type { ManaLLM } from './client.js';
export type { Clock } from './clock.js';
export { createManaLLM } from './create-mana-llm.js';
export {
  AliasConfigError,
  type Attempt,
  type AttemptReason,
  ClosedError,
  ConfigError,
  type ConfigIssue,
  type ErrorCode,
  InvalidRequestError,
  isManaLLMError,
  ManaLLMError,
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderBlockedError,
  ProviderCapabilityError,
  ProviderConnectionError,
  ProviderError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderTimeoutError,
  StreamInterruptedError,
  type StreamPartial,
  UnknownAliasError,
} from './errors.js';
export type { BreakerState, CallKind, ManaLLMEventName, ManaLLMEvents, ManaLLMListener } from './events.js';
export type { BreakerRecord } from './health/breaker.js';
export type { HealthSnapshot, HealthStatus, ProviderHealth, TargetHealth } from './health/health-snapshot.js';
export type { HealthStore, HealthStoreStatus, HealthStoreUpdate } from './health/health-store.js';
export type { LatencyStat, TargetLatency } from './health/latency-book.js';
export type { ManaLLMOptions, ProviderOptions } from './options.js';
export type {
  AdapterChatRequest,
  AdapterContext,
  AdapterEmbedRequest,
  Capabilities,
  ProbeOutcome,
  ProviderAdapter,
} from './providers/adapter.js';
export type { ProviderType } from './providers/registry.js';
export type { CandidateState, ResolveResult } from './routing/explain-route.js';
export type { ModelList } from './routing/list-models.js';
export type { OpenedStream } from './routing/open-stream.js';
export { toServerSentEvents } from './to-server-sent-events.js';
export type { ManaTraceMessage } from './trace-channels.js';
export type {
  AssistantMessage,
  CallOptions,
  ChatChunk,
  ChatCompletion,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ContentPart,
  Embeddings,
  EmbedRequest,
  EmbedResponse,
  FinishReason,
  ImagePart,
  JsonSchema,
  ResponseFormat,
  Routing,
  TextPart,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDefinition,
  Usage,
} from './types.js';
