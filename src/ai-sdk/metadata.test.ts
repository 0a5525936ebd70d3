import { describe, expect, it } from 'vitest';
import type { Usage } from '../types.js';
import { finishReason, routingMetadata, usageOf } from './metadata.js';

describe('AI SDK usage, finish reasons and routing metadata', () => {
  it('cached input tokens and reasoning output tokens when the upstream reports them', () => {
    const u = {
      prompt_tokens: 100,
      completion_tokens: 40,
      total_tokens: 140,
      prompt_tokens_details: { cached_tokens: 60 },
      completion_tokens_details: { reasoning_tokens: 25 },
    } as Usage;
    expect(usageOf(u)).toEqual({
      inputTokens: { total: 100, noCache: 40, cacheRead: 60, cacheWrite: undefined },
      outputTokens: { total: 40, text: 15, reasoning: 25 },
      raw: u,
    });
  });

  it('plain usage, and none at all', () => {
    expect(usageOf({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 })).toMatchObject({
      inputTokens: { total: 5, noCache: 5, cacheRead: undefined },
      outputTokens: { total: 7, text: 7, reasoning: undefined },
    });
    expect(usageOf(undefined).inputTokens.total).toBeUndefined();
    // JSON's 1e999 parses to Infinity: not a count, so no cached/reasoning split (no -Infinity text tokens).
    const odd = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } as Usage;
    Object.assign(odd, {
      prompt_tokens_details: { cached_tokens: Number.POSITIVE_INFINITY },
      completion_tokens_details: { reasoning_tokens: Number.NaN },
    });
    expect(usageOf(odd)).toMatchObject({
      inputTokens: { total: 5, noCache: 5, cacheRead: undefined },
      outputTokens: { total: 7, text: 7, reasoning: undefined },
    });
  });

  it('every input token cached, every output token reasoning: a split equal to its total is kept', () => {
    const u = {
      prompt_tokens: 8,
      completion_tokens: 3,
      total_tokens: 11,
      prompt_tokens_details: { cached_tokens: 8 },
      completion_tokens_details: { reasoning_tokens: 3 },
    } as Usage;
    expect(usageOf(u)).toMatchObject({
      inputTokens: { total: 8, noCache: 0, cacheRead: 8 },
      outputTokens: { total: 3, text: 0, reasoning: 3 },
    });
  });

  it('finish reasons keep the raw value', () => {
    expect(finishReason('tool_calls')).toEqual({ unified: 'tool-calls', raw: 'tool_calls' });
    expect(finishReason('content_filter')).toEqual({ unified: 'content-filter', raw: 'content_filter' });
    expect(finishReason(null)).toEqual({ unified: 'other', raw: undefined });
    expect(finishReason('length')).toEqual({ unified: 'length', raw: 'length' });
    expect(finishReason('function_call')).toEqual({ unified: 'tool-calls', raw: 'function_call' });
  });

  it('routing metadata is JSON: errors as their message', () => {
    const meta = routingMetadata({
      requested: 'mana/x',
      alias: 'mana/x',
      resolved: 'b/m',
      attempts: [{ target: 'a/m', reason: 'timeout', durationMs: 5, error: new Error('slow') as never }],
    });
    expect(JSON.parse(JSON.stringify(meta))).toEqual({
      mana: {
        requested: 'mana/x',
        alias: 'mana/x',
        resolved: 'b/m',
        attempts: [{ target: 'a/m', reason: 'timeout', durationMs: 5, error: 'slow' }],
      },
    });
  });
});
