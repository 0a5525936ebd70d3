import { describe, expect, it, vi } from 'vitest';
import { InvalidRequestError, ManaLLMError, ProviderResponseError } from '../../src/index.js';

describe('toJSON of a cause chain (found by a seventh review)', () => {
  it('a two-step loop (A → B → A) is shown once, then short', () => {
    const a = new InvalidRequestError('first');
    const b = new ProviderResponseError('second', { provider: 'p', model: 'm', cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    const json = JSON.parse(JSON.stringify(a));
    expect(json.cause).toMatchObject({ name: 'ProviderResponseError', message: 'second', provider: 'p' });
    expect(json.cause.cause).toEqual({ name: 'InvalidRequestError', message: 'first' });
  });

  it('a foreign cause keeps 500 characters of its message', () => {
    const err = new InvalidRequestError('outer', [], { cause: new Error('word '.repeat(2_000)) });
    expect(JSON.parse(JSON.stringify(err)).cause.message).toBe(`${'word '.repeat(100).slice(0, 500)}…`);
  });

  it('a cause whose class overrides toJSON is shown as that toJSON gives it', () => {
    class Mine extends ProviderResponseError {
      override toJSON(): Record<string, unknown> {
        return { mine: true };
      }
    }
    const err = new InvalidRequestError('outer', [], {
      cause: new Mine('inner', { provider: 'p', model: 'm' }),
    });
    expect(JSON.parse(JSON.stringify(err)).cause).toEqual({ mine: true });
  });

  it('a loop through a cause from another copy of the package (ESM and CJS) does not overflow the stack', async () => {
    // A second instance of the module, as an app that loads both builds has.
    vi.resetModules();
    const other: typeof import('../../src/index.js') = await import('../../src/index.js');
    expect(other.ManaLLMError).not.toBe(ManaLLMError);
    const a = new InvalidRequestError('ours');
    const b = new other.ProviderResponseError('theirs', { provider: 'p', model: 'm', cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    const json = JSON.parse(JSON.stringify(a));
    expect(json.cause).toMatchObject({ name: 'ProviderResponseError', message: 'theirs' });
    expect(JSON.stringify(json).length).toBeLessThan(5_000);
  });
});
