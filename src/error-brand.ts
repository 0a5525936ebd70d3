/**
 * `instanceof` and `isManaLLMError()` across copies of the package in one process: an app that loads the ESM build
 * and a dependency that loads the CommonJS build (or two versions) get distinct classes. Each class's prototype
 * carries a registered-symbol tag with its own name; a check first asks the real prototype chain (the fast, usual
 * case), then looks for the class's tag anywhere on the value's prototype chain (as ky, cockatiel and the AI SDK do).
 */
const TAG = Symbol.for('mana-llm.error-class');

type Tagged = { readonly [TAG]?: string };

/** Tags each class's prototype with its (literal, minifier-proof) name. */
export function brand(classes: Record<string, abstract new (...args: never[]) => Error>): void {
  for (const [name, C] of Object.entries(classes)) {
    Object.defineProperty(C.prototype, TAG, { value: name, enumerable: false, writable: false });
  }
}

/** True when `x` is an instance of class `C` from this copy of the package or from another one. */
export function isBranded(C: abstract new (...args: never[]) => unknown, x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  if (Function.prototype[Symbol.hasInstance].call(C, x)) return true;
  // A user's subclass carries no tag of its own: it keeps plain `instanceof`.
  const proto = C.prototype as Tagged;
  const tag = Object.hasOwn(proto, TAG) ? proto[TAG] : undefined;
  if (tag === undefined) return false;
  for (let p = Object.getPrototypeOf(x) as Tagged | null; p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, TAG) && p[TAG] === tag) return true;
  }
  return false;
}
