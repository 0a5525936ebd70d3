import { afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../src/index.js';
import { closeAll, harness, rejection, USER } from './helpers/client.js';

afterEach(closeAll);

describe('the call option cache takes true or false only', () => {
  for (const cache of [1, 0, 'yes', null, {}]) {
    it(`refuses cache ${JSON.stringify(cache)} before any request, naming the option`, async () => {
      const { llm, up } = await harness({ upstreams: { a: 'openai' } });
      const err = (await rejection(
        llm.chat({ model: 'a/m', messages: USER }, { cache } as never),
      )) as InvalidRequestError;
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.issues).toEqual([{ path: 'cache', message: 'must be true or false' }]);
      expect(up.a?.requests).toHaveLength(0);
    });
  }
});
