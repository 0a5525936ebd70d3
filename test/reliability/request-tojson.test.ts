import { afterEach, describe, expect, it } from 'vitest';
import { type ChatRequest, InvalidRequestError } from '../../src/index.js';
import { client, closeAll, mock, settle } from './support.js';

afterEach(closeAll);

async function openai() {
  const up = await mock('openai');
  const { llm } = client(
    { o: { type: 'openai', baseUrl: up.url, apiKey: 'k' } },
    { 'mana/x': ['o/gpt-4o-mini'] },
  );
  return { llm, up };
}

function withSchema(parameters: Record<string, unknown>): ChatRequest {
  return {
    model: 'mana/x',
    messages: [{ role: 'user', content: 'Hi' }],
    tools: [{ type: 'function', function: { name: 'f', parameters } }],
  };
}

describe('a toJSON in the request: what is sent is what was checked', () => {
  it('an own toJSON function on an array or not enumerable: InvalidRequestError with its path, nothing sent', async () => {
    const { llm, up } = await openai();
    const messages = Object.assign([{ role: 'user' as const, content: 'Hi' }], {
      toJSON: () => [{ role: 'user', content: 'other' }],
    });
    const hidden = Object.defineProperty({ type: 'object' }, 'toJSON', { value: () => ({ type: 'string' }) });
    const paths: string[] = [];
    for (const request of [{ model: 'mana/x', messages }, withSchema(hidden)]) {
      const r = await settle(llm.chat(request));
      expect(r.error).toBeInstanceOf(InvalidRequestError);
      paths.push((r.error as InvalidRequestError).issues[0]?.path ?? '');
    }
    expect(paths).toEqual(['request.messages.toJSON', 'request.tools[0].function.parameters.toJSON']);
    expect(up.requests).toHaveLength(0);
  });

  it('a toJSON that is not a function or not own (a Date), a function under another key: sent as JSON sends them', async () => {
    const { llm, up } = await openai();
    const schema = {
      type: 'object',
      toJSON: 'kept',
      default: new Date(0),
      gone: undefined,
      describe: () => 'no',
    };
    const r = await settle(llm.chat(withSchema(schema)));
    expect(r.error).toBeUndefined();
    const body = up.requests[0]?.body as { tools: { function: { parameters: unknown } }[] };
    expect(body.tools[0]?.function.parameters).toEqual({
      type: 'object',
      toJSON: 'kept',
      default: '1970-01-01T00:00:00.000Z',
    });
    expect((await settle(llm.chat(withSchema({ type: 'object', toJSON: undefined })))).error).toBeUndefined();
  });
});
