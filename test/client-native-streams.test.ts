import { afterEach, describe, expect, it } from 'vitest';
import {
  NoHealthyProviderError,
  ProviderAuthError,
  ProviderHTTPError,
  ProviderRateLimitError,
  ProviderResponseError,
} from '../src/index.js';
import { closeAll, collect, harness, KEY, rejection, USER } from './helpers/client.js';
import { rawUpstream } from './helpers/raw-upstream.js';

// The native stream protocols (Anthropic Messages SSE, Gemini SSE) bent the ways real servers and gateways bend them,
// read through the public API over real local HTTP.

afterEach(closeAll);

/** A client whose one provider (`a`, of `type`) answers every request 200 with `body`. */
async function over(type: 'anthropic' | 'google', body: string, contentType: string) {
  const raw = await rawUpstream(
    (_, res) => void res.writeHead(200, { 'content-type': contentType }).end(body),
  );
  const h = await harness({ upstreams: {}, providers: { a: { type, baseUrl: raw.url, apiKey: KEY } } });
  return h.llm;
}

/** The error a stream call ended with, as its one attempt saw it. */
async function streamError(llm: Awaited<ReturnType<typeof over>>) {
  const err = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
  return err instanceof NoHealthyProviderError ? err.cause : err;
}

describe('Anthropic and Gemini: a stream request answered 200 with a JSON error body instead of an event stream', () => {
  const anthropic429 = { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } };
  const anthropic401 = {
    type: 'error',
    error: { type: 'authentication_error', message: 'invalid x-api-key' },
  };
  const anthropic529 = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
  const gemini429 = { error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } };
  const gemini403 = { error: { code: 403, message: 'Permission denied', status: 'PERMISSION_DENIED' } };

  it.each([
    ['Anthropic, a rate limit', 'anthropic', anthropic429, 'application/json', ProviderRateLimitError],
    ['Anthropic, a wrong key', 'anthropic', anthropic401, 'application/json', ProviderAuthError],
    [
      'Anthropic, overloaded, labelled as a stream',
      'anthropic',
      anthropic529,
      'text/event-stream',
      ProviderHTTPError,
    ],
    ['Gemini, a rate limit', 'google', gemini429, 'application/json; charset=UTF-8', ProviderRateLimitError],
    ['Gemini, a wrong key', 'google', gemini403, 'application/json', ProviderAuthError],
    [
      'Gemini, a rate limit in a JSON list',
      'google',
      [gemini429],
      'application/json',
      ProviderRateLimitError,
    ],
  ] as const)('%s is classified like the same error in an event', async (_, type, body, contentType, cls) => {
    const err = await streamError(await over(type, `\n${JSON.stringify(body)}\n`, contentType));
    expect(err).toBeInstanceOf(cls);
    expect(String((err as Error).message)).not.toContain(KEY);
  });

  it('a whole answer where a stream was asked for is still a bad response', async () => {
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    const reply = { candidates: [{ content: { parts: [{ text: 'Hi' }] }, finishReason: 'STOP' }] };
    expect(
      await streamError(await over('anthropic', JSON.stringify(message), 'application/json')),
    ).toBeInstanceOf(ProviderResponseError);
    expect(await streamError(await over('google', JSON.stringify(reply), 'application/json'))).toBeInstanceOf(
      ProviderResponseError,
    );
  });
});
