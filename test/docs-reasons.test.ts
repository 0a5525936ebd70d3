// docs/fallback.md lists every `attempts[].reason` (the list comes from a compile-checked record of AttemptReason),
// and its table or text says when each happens.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { AttemptReason } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fallback = readFileSync(join(root, 'docs/fallback.md'), 'utf8');

// A record, not a list: adding a reason to AttemptReason fails to compile until it is named here too.
const REASONS: Record<AttemptReason, true> = {
  ok: true,
  unconfigured: true,
  unhealthy: true,
  'breaker-open': true,
  cooling: true,
  saturated: true,
  capability: true,
  dimensions: true,
  'model-not-found': true,
  connection: true,
  timeout: true,
  'http-error': true,
  'rate-limited': true,
  auth: true,
  'bad-response': true,
  blocked: true,
  'caller-error': true,
  'context-length': true,
  deadline: true,
  'hedged-out': true,
};

/** The reasons named in the sentence "The reasons, all together: …." of docs/fallback.md. */
function listed(): string[] {
  const at = fallback.indexOf('The reasons, all together:');
  expect(at, 'docs/fallback.md lacks "The reasons, all together:"').toBeGreaterThan(-1);
  const sentence = fallback.slice(at, fallback.indexOf('. ', at)).replace(/\s+/g, ' ');
  return [...sentence.matchAll(/`([a-z-]+)`/g)].map((m) => m[1] as string);
}

describe('docs/fallback.md lists every attempt reason', () => {
  it('names exactly the reasons AttemptReason has', () => {
    expect(listed().sort()).toEqual(Object.keys(REASONS).sort());
  });

  // `ok` (the entry served) needs no explanation.
  it.each(Object.keys(REASONS).filter((r) => r !== 'ok'))(
    'says when %s happens (a table row or the text around it)',
    (reason) => {
      // Named once in the list and at least once more where it is explained, or explained in the list itself.
      const named = fallback.split(`\`${reason}\``).length - 1;
      expect(
        named >= 2 || fallback.includes(`\`${reason}\` (`),
        `docs/fallback.md never explains ${reason}`,
      ).toBe(true);
    },
  );
});
