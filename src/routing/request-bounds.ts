import { InvalidRequestError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { cannotRead, cleanText } from '../redact.js';
import { issuePath } from '../unknown-keys.js';

// Path segments named in an issue: a 6,000-level path is no help to anyone and would make the error itself huge.
const MAX_PATH_SEGMENTS = 12;

/** Where the walk is: the containers from the root down and the key taken in each, plus the size so far. */
interface Walk {
  readonly maxDepth: number;
  readonly maxBytes: number;
  readonly containers: object[];
  readonly keys: (string | number)[];
  bytes: number;
}

/** Thrown inside the walk (its path taken the first `depth` keys), turned into an InvalidRequestError at the top. */
class Refusal {
  constructor(
    readonly message: string,
    readonly depth: number,
  ) {}
}

/** Where the walk stopped; its keys are the caller's text, cleaned as any in an error message (no control, no key). */
function pathOf(w: Walk, n: number): string {
  const path = cleanText(issuePath(w.keys.slice(0, Math.min(n, MAX_PATH_SEGMENTS)), 'request'), 300);
  return n > MAX_PATH_SEGMENTS ? `${path}…` : path;
}

function visit(w: Walk, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.bytes += value.length + 2;
      break;
    case 'number':
    case 'boolean':
      w.bytes += 5;
      break;
    case 'bigint':
      throw new Refusal('is a BigInt (it cannot be sent as JSON)', w.keys.length);
    case 'object':
      if (value === null) w.bytes += 4;
      else container(w, value);
      break;
    default:
      // undefined, functions and symbols are left out of JSON, as JSON.stringify does.
      break;
  }
  if (w.bytes > w.maxBytes)
    throw new Refusal(`is larger than ${w.maxBytes} bytes as JSON (limits.maxRequestBytes)`, 0);
}

// Recursion bounded by maxDepth: the walk itself can never overflow the stack, whatever the request holds.
function container(w: Walk, value: object): void {
  const { containers, keys } = w;
  if (containers.length >= w.maxDepth) {
    // A cycle also ends here, as an endless depth: tell it apart by the container seen twice on the way down.
    containers.push(value);
    const again = containers.findIndex((c, i) => containers.indexOf(c) < i);
    throw again === -1
      ? new Refusal(`is nested more than ${w.maxDepth} levels deep (limits.maxDepth)`, keys.length)
      : new Refusal('contains a cycle (it cannot be sent as JSON)', again);
  }
  containers.push(value);
  // JSON.stringify would send what an own toJSON returns (an array's, a non-enumerable one too), not what is checked.
  if (Object.hasOwn(value, 'toJSON') && typeof (value as { toJSON: unknown }).toJSON === 'function') {
    keys.push('toJSON');
    throw new Refusal('is a toJSON function (what is sent would not be what was checked)', keys.length);
  }
  w.bytes += 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      keys.push(i);
      w.bytes += 1;
      visit(w, value[i]);
      keys.pop();
    }
  } else {
    for (const key of Object.keys(value)) {
      keys.push(key);
      // A key, its quotes, the colon and the comma.
      w.bytes += key.length + 4;
      visit(w, (value as Record<string, unknown>)[key]);
      keys.pop();
    }
  }
  containers.pop();
}

/**
 * Checks that a request's content can be turned into an upstream request: nesting at most `maxDepth` (the request
 * itself is depth 1), JSON text at most `maxRequestBytes` (each character counted as one byte), no cycle, no BigInt,
 * every property readable, no own `toJSON` function (see docs/limits.md). Content coming from end users (a tool
 * schema of 6,000 nested arrays) would otherwise overflow the stack while the body is built, and that would count
 * against every provider of the chain.
 * @throws InvalidRequestError
 */
export function checkRequestBounds(request: object, bounds: ResolvedOptions['limits']): void {
  const { maxDepth, maxRequestBytes: maxBytes } = bounds;
  const w: Walk = { maxDepth, maxBytes, containers: [], keys: [], bytes: 0 };
  try {
    container(w, request);
  } catch (err) {
    if (err instanceof Refusal)
      throw new InvalidRequestError('Invalid request', [
        { path: pathOf(w, err.depth), message: err.message },
      ]);
    const issue = { path: pathOf(w, w.keys.length), message: cannotRead(err) };
    throw new InvalidRequestError('Invalid request', [issue], { cause: err });
  }
}
