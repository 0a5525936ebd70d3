import { expect } from 'vitest';
import {
  type ChatChunk,
  type ChatResponse,
  type EmbedResponse,
  NoHealthyProviderError,
  StreamInterruptedError,
  type Usage,
} from '../../src/index.js';
import type { Expectation } from './corpus.js';

/** What a call gave, reduced to what a sidecar describes. */
export interface Outcome {
  text: string;
  reasoning: string;
  refusal: string;
  toolCalls: { id: string | undefined; name: string; arguments: string }[];
  finish: string | null;
  usage: Usage | undefined;
  /** The streamed content chunks that reached the caller (streams only). */
  contentChunks: number;
  error?: unknown;
  embed?: EmbedResponse;
}

function empty(): Outcome {
  return {
    text: '',
    reasoning: '',
    refusal: '',
    toolCalls: [],
    finish: null,
    usage: undefined,
    contentChunks: 0,
  };
}

/** A chat() result (or its rejection) as an outcome. */
export async function chatOutcome(p: Promise<ChatResponse>, model: string): Promise<Outcome> {
  const out = empty();
  let res: ChatResponse;
  try {
    res = await p;
  } catch (err) {
    out.error = err;
    return out;
  }
  // relabelled as the OpenAI shape says, whatever the provider sent
  expect(res).toMatchObject({ object: 'chat.completion', model, routing: { resolved: model } });
  expect(typeof res.id === 'string' && res.id !== '' && Number.isInteger(res.created)).toBe(true);
  const choice = res.choices[0];
  const m = choice?.message as ChatResponse['choices'][number]['message'] & { refusal?: unknown };
  // the types say string | null: an array (or anything else) passed through is a failure of its own
  expect(m.content === null || typeof m.content === 'string', 'message.content is a string or null').toBe(
    true,
  );
  out.text = m.content ?? '';
  out.reasoning = m.reasoning_content ?? '';
  out.refusal = typeof m.refusal === 'string' ? m.refusal : '';
  out.toolCalls = (m.tool_calls ?? []).map((c) => ({
    id: c.id,
    name: c.function.name,
    arguments: c.function.arguments,
  }));
  out.finish = choice?.finish_reason ?? null;
  out.usage = res.usage;
  return out;
}

/** A stream() read to its end (or its error) as an outcome: the deltas joined, the last finish and usage. */
export async function streamOutcome(stream: AsyncIterable<ChatChunk>, model: string): Promise<Outcome> {
  const out = empty();
  const ids = new Set<string>();
  const calls = new Map<number, { id: string | undefined; name: string; arguments: string }>();
  try {
    for await (const c of stream) {
      // every chunk relabelled: one id per stream, the resolved provider/model
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.model).toBe(model);
      ids.add(c.id);
      if (c.usage) out.usage = c.usage;
      for (const choice of c.choices) {
        const d = choice.delta as ChatChunk['choices'][number]['delta'] & { refusal?: unknown };
        expect(
          d.content === undefined || d.content === null || typeof d.content === 'string',
          'delta.content is a string or null',
        ).toBe(true);
        let carries = false;
        if (d.content) {
          out.text += d.content;
          carries = true;
        }
        if (d.reasoning_content) {
          expect(typeof d.reasoning_content).toBe('string');
          out.reasoning += d.reasoning_content;
          carries = true;
        }
        if (typeof d.refusal === 'string' && d.refusal !== '') {
          out.refusal += d.refusal;
          carries = true;
        }
        for (const t of d.tool_calls ?? []) {
          carries = true;
          let call = calls.get(t.index);
          if (!call) calls.set(t.index, (call = { id: undefined, name: '', arguments: '' }));
          if (t.id) call.id = t.id;
          if (t.function?.name) call.name += t.function.name;
          if (t.function?.arguments) call.arguments += t.function.arguments;
        }
        if (carries) out.contentChunks++;
        if (choice.finish_reason) out.finish = choice.finish_reason;
      }
    }
  } catch (err) {
    out.error = err;
  }
  expect(ids.size, 'one id per stream').toBeLessThanOrEqual(1);
  out.toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
  return out;
}

/** An embed() result (or its rejection) as an outcome. */
export async function embedOutcome(p: Promise<EmbedResponse>): Promise<Outcome> {
  const out = empty();
  try {
    out.embed = await p;
  } catch (err) {
    out.error = err;
  }
  return out;
}

/** The provider's own error: a direct `provider/model` that fell through ends in NoHealthyProviderError. */
function unwrap(err: unknown): unknown {
  return err instanceof NoHealthyProviderError ? err.cause : err;
}

/** Asserts an outcome against a sidecar's expectation. */
export function assertOutcome(out: Outcome, want: Expectation): void {
  if (want.error) {
    expect(out.error, 'the call must fail').toBeDefined();
    const err = unwrap(out.error) as {
      name?: string;
      status?: number;
      reason?: string;
      retryAfterMs?: number;
      retryable?: boolean;
    };
    const classes = want.error.anyOf ?? [want.error.class];
    expect(classes, `error class (${String((err as Error).message)})`).toContain(err.name);
    if (want.error.status !== undefined) expect(err.status).toBe(want.error.status);
    if (want.error.reason !== undefined) expect(err.reason).toBe(want.error.reason);
    if (want.error.retryAfterMs !== undefined)
      expect(err.retryAfterMs).toBe(want.error.retryAfterMs === null ? undefined : want.error.retryAfterMs);
    if (want.error.retryable !== undefined) expect(err.retryable).toBe(want.error.retryable);
    if (want.error.afterContent) {
      expect(out.error).toBeInstanceOf(StreamInterruptedError);
      expect(out.contentChunks).toBeGreaterThan(0);
    }
    // what reached the caller before the error
    if (want.text !== undefined) expect(out.text).toBe(want.text);
    if (want.reasoning !== undefined) expect(out.reasoning).toBe(want.reasoning);
    return;
  }
  if (out.error) throw out.error;
  if (want.embed) {
    const e = want.embed;
    const data = out.embed?.data ?? [];
    expect(data.length).toBe(e.count);
    expect(data.map((d) => d.embedding.length)).toEqual(e.dims);
    expect(data.map((d) => d.embedding.slice(0, e.head[0]?.length ?? 3))).toEqual(e.head);
    expect(data.map((d) => d.embedding.at(-1))).toEqual(e.tail);
    if (e.promptTokens !== undefined) expect(out.embed?.usage.prompt_tokens).toBe(e.promptTokens);
    return;
  }
  expect(out.text).toBe(want.text ?? '');
  expect(out.reasoning).toBe(want.reasoning ?? '');
  expect(out.refusal).toBe(want.refusal ?? '');
  const calls = want.toolCalls ?? [];
  expect(out.toolCalls.map((c) => c.name)).toEqual(calls.map((c) => c.name));
  expect(out.toolCalls.map((c) => c.arguments)).toEqual(calls.map((c) => c.arguments));
  calls.forEach((c, i) => {
    const id = out.toolCalls[i]?.id;
    if (c.id === null) expect(id, 'a generated tool call id').toMatch(/\S/);
    else expect(id).toBe(c.id);
  });
  if (want.finish !== undefined) expect(out.finish).toBe(want.finish);
  if (want.usage === null) expect(out.usage).toBeUndefined();
  else if (want.usage !== undefined) {
    const u = out.usage;
    expect({ prompt: u?.prompt_tokens, completion: u?.completion_tokens, total: u?.total_tokens }).toEqual(
      want.usage,
    );
  }
}
