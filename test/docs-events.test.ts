// README.md and docs/events.md list every event (the list comes from the compile-checked EVENT_NAMES), and every
// error class exported by the package has its row in docs/errors.md with the code and httpStatus it carries.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as mana from '../src/index.js';
import { EVENT_NAMES } from './helpers/client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
/** The cells of the table row that starts with `first`, or undefined. */
const row = (text: string, first: string) =>
  text
    .split('\n')
    .find((l) => l.startsWith(`| ${first}`))
    ?.split('|')
    .map((c) => c.trim());

describe('docs list every event and error', () => {
  it.each([...EVENT_NAMES])('README.md and docs/events.md have a row for the %s event', (name) => {
    expect(row(read('README.md'), `\`${name}\` |`), `README.md events table lacks ${name}`).toBeDefined();
    expect(row(read('docs/events.md'), `\`${name}\` |`), `docs/events.md lacks ${name}`).toBeDefined();
  });

  // One instance of each class, built the way the library builds it, to read its code and httpStatus.
  const info = { provider: 'p', model: 'm' };
  const errors: mana.ManaLLMError[] = [
    new mana.ConfigError('x'),
    new mana.AliasConfigError('x'),
    new mana.InvalidRequestError('x'),
    new mana.UnknownAliasError('mana/x'),
    new mana.ProviderConnectionError('x', info),
    new mana.ProviderTimeoutError('x', info),
    new mana.ProviderRateLimitError('x', info),
    new mana.ProviderAuthError('x', info),
    new mana.ProviderCapabilityError('x', { ...info, capability: 'tools' }),
    new mana.ProviderBlockedError('x', { ...info, reason: 'SAFETY' }),
    new mana.ProviderResponseError('x', info),
    new mana.StreamInterruptedError('x', {
      ...info,
      resolved: 'p/m',
      partial: { content: '', toolCalls: [] },
    }),
    new mana.NoHealthyProviderError('mana/x', []),
    new mana.ClosedError(),
  ];

  it.each(errors.map((e) => [e.name, e] as const))(
    'docs/errors.md has %s with its code and status',
    (name, e) => {
      const cells = row(read('docs/errors.md'), `\`${name}\``);
      expect(cells, `docs/errors.md lacks ${name}`).toBeDefined();
      expect(cells?.[2]).toBe(`\`${e.code}\``);
      expect(cells?.[3]).toBe(String(e.httpStatus));
      expect(cells?.[4]).toBe(e.retryable ? 'yes' : 'no');
    },
  );

  it('checks every error class the package exports', () => {
    const exported = Object.entries(mana)
      .filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error)
      .map(([k]) => k)
      .filter((k) => !['ManaLLMError', 'ProviderError', 'ProviderHTTPError'].includes(k));
    expect(errors.map((e) => e.name).sort()).toEqual(exported.sort());
    // ProviderHTTPError's status depends on the upstream's: its row says how.
    expect(row(read('docs/errors.md'), '`ProviderHTTPError`')?.[3]).toMatch(/502.*404.*4xx/);
  });
});
