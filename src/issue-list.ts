import type { ConfigIssue } from './errors.js';
import { cleanText } from './redact.js';

/** More issues than this are summarised in one, so a huge malformed request cannot build a huge message. */
const MAX_ISSUES = 20;

/** Collects a request's issues; `add` is the only allocation, and it happens only for invalid input. */
export class IssueList {
  list: ConfigIssue[] | undefined;
  add(path: string, message: string): void {
    this.list ??= [];
    if (this.list.length < MAX_ISSUES) this.list.push({ path, message });
    else if (this.list.length === MAX_ISSUES)
      this.list.push({ path: '', message: 'and more issues not shown' });
  }
}

/** What a value someone sent is, for a message: `nothing`, `null`, `an array` (or the given word), `an object`, `a string`… */
export function kindOf(x: unknown, array = 'an array'): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return array;
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

/**
 * A value someone sent, for a message: a string cut to `max` characters, quoted (a line break shows as `\n`) and
 * cleaned as any text in an error message (docs/limits.md); anything else its kind.
 */
export function shown(x: unknown, max = 40): string {
  if (typeof x !== 'string') return kindOf(x);
  const text = cleanText(JSON.stringify(x.slice(0, max)), Number.POSITIVE_INFINITY);
  return x.length > max ? `${text}…` : text;
}

/** True for a non-empty array; otherwise adds why not: missing, not `expected`, or empty (no `one` in it). */
export function isList(
  x: unknown,
  path: string,
  expected: string,
  one: string,
  out: IssueList,
): x is unknown[] {
  if (Array.isArray(x) && x.length > 0) return true;
  if (x === undefined) out.add(path, 'is required');
  else if (Array.isArray(x)) out.add(path, `must contain at least one ${one}`);
  else out.add(path, `must be ${expected}, got ${kindOf(x)}`);
  return false;
}
