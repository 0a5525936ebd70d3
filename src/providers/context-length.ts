/**
 * Whether an upstream's 4xx error body says the prompt is longer than this model's context window. OpenAI-style
 * servers say it with a code; Anthropic, Gemini and most OpenAI-compatible servers (vLLM, DeepSeek, Mistral,
 * OpenRouter, Together, xAI) only in the message, so the message is read here, because no code exists to switch on
 * (error-mapping.ts reads two more: Anthropic's account 400s, Ollama's "does not support tools"). A too-long prompt
 * is not the caller's mistake while a later chain entry has a bigger window (docs/wire-conformance.md). Groq's 413
 * `rate_limit_exceeded` ("Request too large for model … on tokens per minute") is read the same way: the request
 * alone is over the account's per-minute limit, so waiting does not help, and another provider may take it.
 */
export function saysContextLength(status: number, json: unknown): boolean {
  if (status !== 400 && status !== 413 && status !== 422) return false;
  const error = (json as { error?: unknown } | null)?.error;
  // `{ "error": "…" }` (xAI, TGI, LM Studio): the text is the message.
  const err = typeof error === 'string' ? { message: error } : (error ?? json);
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; type?: unknown; message?: unknown };
  if (e.code === 'context_length_exceeded' || e.type === 'context_length_exceeded') return true;
  if (status === 413 && e.code === 'rate_limit_exceeded') return true;
  const message = typeof e.message === 'string' ? e.message.slice(0, 1000) : '';
  return PHRASES.some((re) => re.test(message));
}

const PHRASES = [
  // Anthropic: "prompt is too long: 208310 tokens > 200000 maximum"
  /\bprompt is too long\b/i,
  // Gemini: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
  /\binput token count\b.*\bexceeds the maximum\b/i,
  // vLLM, DeepSeek, OpenRouter, Together: "This model's maximum context length is 8192 tokens. However, …";
  // Mistral: "… too large for model with 32768 maximum context length"
  /\bmaximum context length\b/i,
  // llama.cpp server: "the request exceeds the available context size"
  /\bexceeds the available context size\b/i,
  // xAI: "This model's maximum prompt length is 131072 but the request contains 136973 tokens."
  /\bmaximum prompt length is\b/i,
];
