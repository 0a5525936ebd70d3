/**
 * Parts bench: the hand-made stream frame parser that `src/wire/frames.ts` held until the parts bench showed no
 * consistent 10 % gain end to end (bench/README.md). Put back into a copy of src/ by the `frames` variant.
 */
/** What a JSON string's text must not hold to be its own value: a quote, a backslash, a control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings; finding them is the point.
const NOT_PLAIN = /["\\\u0000-\u001f]/;
const CONTENT_OPEN = '{"content":"';
const CONTENT_CLOSE = '"}';

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isPrimitive(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

/** OpenAI's per-frame padding: a top-level string that changes in every frame (`"obfuscation":"Qup1BsQ3"`). */
const VARYING = 'obfuscation';
const VARYING_KEY = `"${VARYING}":`;

/**
 * Parses the JSON frames of one stream. Servers repeat everything but the delta from frame to frame
 * (`{"id":…,"object":…,"created":…,"model":…,"choices":[{"index":0,"delta":{…},"finish_reason":null}]}`), so once a
 * frame of that shape has been parsed, a later frame with the very same text around its delta is built from it and
 * only the delta is parsed; a text delta with nothing to unescape is not even parsed. OpenAI adds an `obfuscation`
 * string of random length after the choices to every frame: when the learnt frame has one, that value may differ
 * too (it is taken as is when it has nothing to unescape). Whatever path it takes, the result is what `JSON.parse`
 * returns: a fresh object with the same keys in the same order (a frame built this way is the learnt text with
 * only whole JSON values swapped, which JSON's grammar allows anywhere a value stands). Anything else is parsed
 * whole, and a bad frame throws `JSON.parse`'s SyntaxError.
 */
export class FrameParser {
  /** The learnt frame's text up to its delta value, and after it (up to the obfuscation value, when it has one). */
  #head: string | undefined;
  #tail = '';
  /** After the obfuscation value (its closing quote on), or undefined when the learnt frame has none. */
  #end: string | undefined;
  /** Private copies of the learnt frame's top level and its one choice (callers may change what they get). */
  #top: JsonObject = {};
  #choice: JsonObject = {};
  /**
   * Templates learnt since the last one that served: a server whose frames differ elsewhere too would make every
   * frame pay for learning, so after a few misses in a row it stops.
   */
  #misses = 0;

  parse(text: string): unknown {
    const head = this.#head;
    if (head !== undefined && text.startsWith(head)) {
      const tail = this.#tail;
      const end = this.#end;
      // Where the delta's text ends, and the obfuscation value.
      let at = -1;
      let varying: string | undefined;
      if (end === undefined) {
        if (text.length > head.length + tail.length && text.endsWith(tail)) at = text.length - tail.length;
      } else if (text.endsWith(end)) {
        const stop = text.length - end.length;
        // The last occurrence: the value after it holds no quote, so the tail cannot start inside it.
        at = text.lastIndexOf(tail, stop - tail.length);
        varying = text.slice(at + tail.length, stop);
        if (at !== -1 && NOT_PLAIN.test(varying)) at = -1;
      }
      if (at > head.length) {
        const delta = parseDelta(text.slice(head.length, at));
        if (delta !== undefined) {
          this.#misses = 0;
          const json: JsonObject = { ...this.#top, choices: [{ ...this.#choice, delta }] };
          // An existing key: assigning it keeps its place in the key order.
          if (varying !== undefined) json[VARYING] = varying;
          return json;
        }
      }
    }
    const json: unknown = JSON.parse(text);
    if (this.#misses < 4) this.#learn(text, json);
    else this.#head = undefined;
    return json;
  }

  /** Keeps `json` as the template when it has the one-choice shape and its delta can be found in `text`. */
  #learn(text: string, json: unknown): void {
    if (!isObject(json)) return;
    const choices = json.choices;
    if (!Array.isArray(choices) || choices.length !== 1) return;
    const choice: unknown = choices[0];
    if (!isObject(choice) || !isObject(choice.delta)) return;
    for (const k in json) if (k !== 'choices' && !isPrimitive(json[k])) return;
    for (const k in choice) if (k !== 'delta' && !isPrimitive(choice[k])) return;
    // Every other value is a primitive, so `"delta":` outside a string can only be this key (a top-level key of that
    // name holds a primitive, which the check below rejects); the delta must be written as JSON.stringify writes it.
    // A second `"delta":` (a duplicate key, whose last value JSON.parse keeps, or one nested in the delta) is refused.
    const at = text.indexOf('"delta":');
    if (at === -1 || text.indexOf('"delta":', at + 8) !== -1) return;
    const start = at + 8;
    const written = JSON.stringify(choice.delta);
    if (!text.startsWith(written, start)) return;
    const head = text.slice(0, start);
    let tail = text.slice(start + written.length);
    // No escape around the delta: a key written `"\u0064elta"` is a duplicate `delta` the search above cannot see.
    if (head.includes('\\') || tail.includes('\\')) return;
    let end: string | undefined;
    const varying = json[VARYING];
    // The obfuscation value may vary when it is a top-level string after the choices, written plain, and its key
    // appears once in the text (not in the head, and the choice has no key of that name): that one is the top's.
    if (
      typeof varying === 'string' &&
      !NOT_PLAIN.test(varying) &&
      !(VARYING in choice) &&
      !head.includes(VARYING_KEY)
    ) {
      const key = tail.indexOf(VARYING_KEY);
      const value = key + VARYING_KEY.length;
      if (key !== -1 && tail.indexOf(VARYING_KEY, value) === -1 && tail.startsWith(`"${varying}"`, value)) {
        end = tail.slice(value + 1 + varying.length);
        tail = tail.slice(0, value + 1);
      }
    }
    this.#misses++;
    this.#head = head;
    this.#tail = tail;
    this.#end = end;
    this.#top = { ...json };
    this.#choice = { ...choice };
  }
}

/** A delta's text as an object, or undefined when it is anything else (the frame is then parsed whole). */
function parseDelta(text: string): JsonObject | undefined {
  if (text.startsWith(CONTENT_OPEN) && text.endsWith(CONTENT_CLOSE) && text.length >= 14) {
    const content = text.slice(CONTENT_OPEN.length, text.length - CONTENT_CLOSE.length);
    if (!NOT_PLAIN.test(content)) return { content };
  }
  try {
    const delta: unknown = JSON.parse(text);
    return isObject(delta) ? delta : undefined;
  } catch {
    return undefined;
  }
}
