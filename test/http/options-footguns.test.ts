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

  it.each([
    'content-type',
    'Content-Length',
    'retry-after',
    'vary',
    'allow',
    'x-mana-llm-resolved',
    'Access-Control-Allow-Origin',
    'access-control-expose-headers',
    'transfer-encoding',
  ])(
    'requestIdHeader %j (a header the handler writes on its answers) is a ConfigError: the id and that header would overwrite each other',
    (requestIdHeader) => {
      expect(issues({ requestIdHeader })).toEqual([
        { path: 'requestIdHeader', message: expect.stringContaining('writes') },
      ]);
    },
  );

  it('requestIdHeader x-correlation-id (or the default) is accepted', () => {
    expect(issues({ requestIdHeader: 'x-correlation-id' })).toEqual([]);
    expect(issues({})).toEqual([]);
  });
});

describe('mana-llm/http apiKeys no request can present', () => {
  it.each([
    ['a line break inside', 'serve-SECRET\nkey'],
    ['a control character', 'serve-SECRET\u0000key'],
    ['a zero-width space (pasted)', 'serve-SECRET\u200bkey'],
    ['a character beyond Latin-1', 'serve-SECRET-ключ'],
  ])('a key with %s is a ConfigError naming its index, never showing the key', (_, key) => {
    const found = issues({ apiKeys: ['fine-key', key] });
    expect(found).toEqual([
      { path: 'apiKeys[1]', message: expect.stringContaining('no request can present it') },
    ]);
    expect(JSON.stringify(found)).not.toContain('SECRET');
  });

  it('a key with a space inside (presentable as X-API-Key) or around it (compared trimmed) is accepted', () => {
    expect(issues({ apiKeys: ['two words', 'read-from-a-file\n', ' k2 ', 'caf\u00e9'] })).toEqual([]);
  });
});
