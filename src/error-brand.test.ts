import { describe, expect, it, vi } from 'vitest';
import * as here from './errors.js';

/** A second copy of the error modules, as the CommonJS build next to the ESM one would be. */
async function otherCopy(): Promise<typeof here> {
  // A fresh module registry: errors.ts and every module it imports (error-base.ts) load again.
  vi.resetModules();
  const copy = (await import('./errors.js')) as typeof here;
  expect(copy.ManaLLMError).not.toBe(here.ManaLLMError);
  return copy;
}

describe('error classes across copies of the package', () => {
  it('instanceof and isManaLLMError recognise an error from another copy, class by class', async () => {
    const other = await otherCopy();
    const info = { provider: 'p', model: 'm' };
    const foreign = new other.ProviderRateLimitError('slow down', { ...info, retryAfterMs: 5 });
    expect(here.isManaLLMError(foreign)).toBe(true);
    expect(foreign instanceof here.ManaLLMError).toBe(true);
    expect(foreign instanceof here.ProviderError).toBe(true);
    expect(foreign instanceof here.ProviderRateLimitError).toBe(true);
    expect(foreign instanceof here.ProviderAuthError).toBe(false);
    expect(foreign instanceof here.ConfigError).toBe(false);
    const alias = new other.AliasConfigError('bad', [{ path: 'aliases', message: 'x' }]);
    expect(alias instanceof here.ConfigError).toBe(true);
    expect(alias instanceof here.AliasConfigError).toBe(true);
    expect(new here.ConfigError('x') instanceof other.AliasConfigError).toBe(false);
    expect(
      new here.StreamInterruptedError('cut', {
        ...info,
        resolved: 'p/m',
        partial: { content: '', toolCalls: [] },
      }) instanceof other.ProviderError,
    ).toBe(true);
  });

  it('still says no to look-alikes, plain errors and primitives', async () => {
    const other = await otherCopy();
    const lookAlike = Object.assign(new Error('x'), { name: 'ProviderError', code: 'PROVIDER_HTTP' });
    for (const x of [lookAlike, new Error('x'), null, undefined, 'ProviderError', 42, {}]) {
      expect(here.isManaLLMError(x)).toBe(false);
      expect(x instanceof other.ProviderError).toBe(false);
    }
  });

  it('a subclass a user writes keeps ordinary instanceof', () => {
    class MyError extends here.ProviderError {}
    const e = new MyError('PROVIDER_HTTP', 'x', { provider: 'p', model: 'm' }, 502, true);
    expect(e instanceof MyError).toBe(true);
    expect(e instanceof here.ProviderError).toBe(true);
    expect(
      new here.ProviderError('PROVIDER_HTTP', 'x', { provider: 'p', model: 'm' }, 502, true) instanceof
        MyError,
    ).toBe(false);
  });
});
