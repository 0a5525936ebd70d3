import { describe, expect, it } from 'vitest';
import { createFetchHandler, createNodeHandler } from '../../src/http/index.js';
import { ConfigError } from '../../src/index.js';

const issues = (options: unknown) => {
  try {
    createFetchHandler({} as never, options as never);
    createNodeHandler({} as never, options as never);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  return [];
};

describe('mana-llm/http options that could never work', () => {
  it.each([
    '/api?v=1',
    '/api#llm',
    '/api llm',
    '/api\tllm',
    '/ü',
    '/a"b',
    '/a<b>',
    '/api/{version}',
    '/a\\b',
    '/a\u007f',
  ])(
    'a basePath %j no request path can hold is a ConfigError naming basePath, not a handler that answers 404 to all',
    (basePath) => {
      expect(issues({ basePath })).toEqual([{ path: 'basePath', message: expect.stringContaining('path') }]);
    },
  );

  it.each(['', '/api/llm', "/a-b_c.d~e!$&'()*+,;=:@", '/api%20llm', '/v1/x', '/a|b[c]^'])(
    'basePath %j is accepted',
    (basePath) => {
      expect(issues({ basePath })).toEqual([]);
    },
  );

  it.each(['x-api-key', 'Authorization', 'X-API-KEY', 'proxy-authorization', 'cookie'])(
    'requestIdHeader %j (a header carrying a key) is a ConfigError: the key would be echoed and logged as the request id',
    (requestIdHeader) => {
      expect(issues({ requestIdHeader })).toEqual([
        { path: 'requestIdHeader', message: expect.stringContaining('key') },
      ]);
    },
  );
});
