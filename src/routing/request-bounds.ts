import { type ConfigIssue, InvalidRequestError } from '../errors.js';

/** The bounds a caller's request must fit before anything is built from it (see docs/limits.md). */
export interface RequestBounds {
  /** Largest request, as the length of its JSON text (each character counted as one byte). */
  readonly maxRequestBytes: number;
  /** Deepest nesting of arrays and objects, the request itself being depth 1. */
  readonly maxDepth: number;
}

/** A container being walked: its keys (undefined for arrays) and the next child to visit. */
interface Frame {
  readonly value: object;
  readonly keys: string[] | undefined;
  readonly length: number;
  at: number;
}

// Path segments named in an issue: a 6,000-level path is no help to anyone and would make the error itself huge.
const MAX_PATH_SEGMENTS = 12;

function pathOf(stack: readonly Frame[], root: string): string {
  let out = root;
  const n = Math.min(stack.length, MAX_PATH_SEGMENTS);
  for (let i = 0; i < n; i++) {
    const f = stack[i] as Frame;
    const key = f.keys ? (f.keys[f.at - 1] as string) : String(f.at - 1);
    out += f.keys ? (/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`) : `[${key}]`;
  }
  return stack.length > MAX_PATH_SEGMENTS ? `${out}…` : out;
}

function fail(message: string, path: string, cause?: unknown): never {
  const issues: ConfigIssue[] = [{ path, message }];
  throw new InvalidRequestError('Invalid request', issues, cause === undefined ? undefined : { cause });
}

/**
 * Checks, without recursion, that a request's content can be turned into an upstream request: nesting at most
 * `maxDepth`, JSON text at most `maxRequestBytes`, no cycle, no BigInt, every property readable. Content coming from
 * end users (a tool schema of 6,000 nested arrays) would otherwise overflow the stack while the body is built, and
 * that would count against every provider of the chain.
 * @throws InvalidRequestError
 */
export function checkRequestBounds(request: object, bounds: RequestBounds, root = 'request'): void {
  const { maxRequestBytes, maxDepth } = bounds;
  const stack: Frame[] = [];
  const open = new Set<object>();
  let bytes = 0;
  const enter = (value: object): void => {
    if (open.has(value)) fail('contains a cycle (it cannot be sent as JSON)', pathOf(stack, root));
    if (stack.length >= maxDepth)
      fail(`is nested more than ${maxDepth} levels deep (limits.maxDepth)`, pathOf(stack, root));
    open.add(value);
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    stack.push({ value, keys, length: keys ? keys.length : (value as unknown[]).length, at: 0 });
    bytes += 2;
  };
  try {
    enter(request);
    while (stack.length > 0) {
      const f = stack[stack.length - 1] as Frame;
      if (f.at >= f.length) {
        open.delete(f.value);
        stack.pop();
        continue;
      }
      const i = f.at++;
      let child: unknown;
      if (f.keys) {
        const key = f.keys[i] as string;
        child = (f.value as Record<string, unknown>)[key];
        // A key, its quotes, the colon and the comma.
        bytes += key.length + 4;
      } else {
        child = (f.value as unknown[])[i];
        bytes += 1;
      }
      switch (typeof child) {
        case 'string':
          bytes += child.length + 2;
          break;
        case 'number':
        case 'boolean':
          bytes += 5;
          break;
        case 'bigint':
          fail('is a BigInt (it cannot be sent as JSON)', pathOf(stack, root));
          break;
        case 'object':
          if (child === null) bytes += 4;
          else enter(child);
          break;
        default:
          // undefined, functions and symbols are left out of JSON, as JSON.stringify does.
          break;
      }
      if (bytes > maxRequestBytes)
        fail(`is larger than ${maxRequestBytes} bytes as JSON (limits.maxRequestBytes)`, root);
    }
  } catch (err) {
    if (err instanceof InvalidRequestError) throw err;
    // A getter or proxy trap in the caller's object threw while it was read.
    const text = (err instanceof Error ? err.message : String(err)).slice(0, 200);
    // Caller-supplied text: no control characters (ESC, CR, LF, NUL) into a message that may reach a log.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
    fail(`cannot be read: ${text.replace(/[\u0000-\u001f\u007f]+/g, ' ')}`, pathOf(stack, root), err);
  }
}
