import type { Attempt } from './errors.js';

/** A JSON Schema object, passed through as is. */
export type JsonSchema = Record<string, unknown>;

/** A text content part. */
export interface TextPart {
  type: 'text';
  text: string;
}

/** An image content part: an http(s) URL or a `data:` URL. */
export interface ImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' | undefined };
}

/** One part of a message's content. */
export type ContentPart = TextPart | ImagePart;

/**
 * What a provider needs back with a tool call on the next turn, in the shape Google's OpenAI-compatible endpoint uses:
 * Gemini's `thoughtSignature` (Gemini 3 rejects a replayed function call without it).
 */
export interface ToolCallExtra {
  google?: { thought_signature?: string };
}

/** A tool call made by the assistant (OpenAI shape). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Provider data to send back unchanged with this call (Gemini's thought signature). */
  extra_content?: ToolCallExtra;
}

/** One message of a conversation (OpenAI Chat Completions shape). */
export type ChatMessage =
  | { role: 'system'; content: string | TextPart[]; name?: string | undefined }
  /** OpenAI's newer name for a system message; sent as `system` to protocols without it. */
  | { role: 'developer'; content: string | TextPart[]; name?: string | undefined }
  | { role: 'user'; content: string | ContentPart[]; name?: string | undefined }
  | {
      role: 'assistant';
      content?: string | TextPart[] | null | undefined;
      tool_calls?: ToolCall[] | undefined;
      name?: string | undefined;
    }
  | { role: 'tool'; content: string | TextPart[]; tool_call_id: string };

/** A function the model may call. */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: JsonSchema; strict?: boolean };
}

/** How the model may use tools. */
export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/** Structured output request. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; description?: string; schema?: JsonSchema; strict?: boolean | null };
    };

/** A chat request (OpenAI Chat Completions shape; `model` may be an alias, `provider/model` or a bare model). */
export interface ChatRequest {
  model?: string | undefined;
  messages: ChatMessage[];
  temperature?: number | undefined;
  max_tokens?: number | undefined;
  top_p?: number | undefined;
  frequency_penalty?: number | undefined;
  presence_penalty?: number | undefined;
  stop?: string | string[] | undefined;
  seed?: number | undefined;
  response_format?: ResponseFormat | undefined;
  tools?: ToolDefinition[] | undefined;
  tool_choice?: ToolChoice | undefined;
  stream_options?: { include_usage?: boolean } | undefined;
  user?: string | undefined;
}

/** Why generation stopped. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/** Token counts. */
export interface Usage {
  /** Every prompt token, cached ones included (as OpenAI counts them). */
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** `cached_tokens`: how many of the prompt tokens were read from the provider's prompt cache, when it says. */
  prompt_tokens_details?: { cached_tokens?: number };
}

/** The assistant's message in a completion. */
export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  /** The model's refusal (OpenAI structured outputs), instead of content. */
  refusal?: string | null;
  tool_calls?: ToolCall[];
  reasoning_content?: string;
}

/** A non-streamed completion as an adapter returns it (OpenAI `chat.completion`). */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  /** `provider/model` that answered. */
  model: string;
  choices: { index: number; message: AssistantMessage; finish_reason: FinishReason | null }[];
  usage?: Usage;
}

/** How a call was routed. */
export interface Routing {
  requested: string;
  alias?: string;
  resolved: string;
  attempts: Attempt[];
  /** true when the answer came from the response cache (the chain was skipped: `attempts` is empty). */
  cached?: boolean;
}

/** What `chat()` resolves to: the completion plus its routing. */
export interface ChatResponse extends ChatCompletion {
  routing: Routing;
}

/** A streamed tool-call fragment (OpenAI shape: `index` identifies the call across chunks). */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  extra_content?: ToolCallExtra;
}

/** One streamed chunk (OpenAI `chat.completion.chunk`); `model` is the resolved `provider/model`. */
export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      /** A streamed refusal: content, like text (it commits the stream). */
      refusal?: string | null;
      tool_calls?: ToolCallDelta[];
      reasoning_content?: string;
    };
    finish_reason: FinishReason | null;
  }[];
  usage?: Usage | null;
}

/** An embeddings request (OpenAI shape). */
export interface EmbedRequest {
  model?: string | undefined;
  input: string | string[];
  dimensions?: number | undefined;
  /**
   * How OpenAI-compatible servers are asked to send the vectors (default `'base64'`, as the official SDKs do).
   * Only the wire changes: `embed()` always resolves to arrays of numbers (docs/embeddings.md).
   */
  encoding_format?: 'float' | 'base64' | undefined;
}

/** Embeddings as an adapter returns them. */
export interface Embeddings {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** What `embed()` resolves to. */
export interface EmbedResponse extends Embeddings {
  routing: Routing;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Budget for the whole call across the chain; overrides `timeouts.totalMs`. */
  timeoutMs?: number | undefined;
  /** Use the response cache for this call (non-streaming only). */
  cache?: boolean | undefined;
  /**
   * Hedging for this call, overriding the alias's `hedge.afterMs`: start the next entry in parallel when the current
   * one has not answered (a stream: not committed) after this many ms; `'auto'` from its latency; 0 turns it off.
   */
  hedgeAfterMs?: number | 'auto' | undefined;
}
