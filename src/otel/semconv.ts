/**
 * The OpenTelemetry GenAI semantic-convention names mana-llm records, copied here (as the semantic-conventions
 * package recommends for incubating names) from semantic conventions v1.45.0 (`@opentelemetry/semantic-conventions`
 * 1.45.0, GenAI client spans, status "development").
 */
export const ATTR = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestStream: 'gen_ai.request.stream',
  temperature: 'gen_ai.request.temperature',
  maxTokens: 'gen_ai.request.max_tokens',
  topP: 'gen_ai.request.top_p',
  responseModel: 'gen_ai.response.model',
  timeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
  // mana-llm's own, for what the conventions have no name for (the routing).
  alias: 'mana.alias',
  attempts: 'mana.attempts',
  cached: 'mana.cached',
  cancelled: 'mana.cancelled',
  target: 'mana.attempt.target',
  reason: 'mana.attempt.reason',
  index: 'mana.attempt.index',
} as const;

/** `gen_ai.provider.name` well-known values for the provider ids mana-llm knows by name. */
const WELL_KNOWN: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  groq: 'groq',
};

/**
 * `gen_ai.provider.name` of a `provider/model` target: the conventions' well-known value where there is one, else
 * the configured provider id (the conventions allow custom values).
 */
export function providerName(target: string): string {
  const i = target.indexOf('/');
  const id = i < 0 ? target : target.slice(0, i);
  // Own keys only: a caller's `constructor/m` is not Object's constructor.
  return Object.hasOwn(WELL_KNOWN, id) ? (WELL_KNOWN[id] as string) : id;
}
