import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameParser } from './frames.js';

// The reference, kept before any spy replaces `JSON.parse`.
const realParse: (text: string) => unknown = JSON.parse.bind(JSON);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Everything `JSON.parse`'s result is made of: own keys in order, prototypes, array-ness, values. */
function shape(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return { value: v, type: typeof v, negZero: Object.is(v, -0) };
  if (Array.isArray(v)) return { array: v.map(shape), proto: Object.getPrototypeOf(v) === Array.prototype };
  return {
    proto: Object.getPrototypeOf(v) === Object.prototype,
    entries: Reflect.ownKeys(v).map((k) => {
      const d = Object.getOwnPropertyDescriptor(v, k);
      return [String(k), d?.enumerable, d?.writable, d?.configurable, shape(d?.value)];
    }),
  };
}

/** Asserts that `parser.parse(text)` is `JSON.parse(text)` in every observable way, and returns the result. */
function same(parser: FrameParser, text: string): unknown {
  return check(parser.parse(text), text);
}

function check(got: unknown, text: string): unknown {
  const want = realParse(text);
  expect(JSON.stringify(got)).toBe(JSON.stringify(want));
  expect(shape(got)).toEqual(shape(want));
  expect(got).toStrictEqual(want);
  return got;
}

/** Changes everything a caller could change in a result, at every level. */
function vandalize(v: unknown): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) vandalize(x);
    v.push({ injected: true }, 1);
    v.unshift('first');
    return;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    vandalize(o[k]);
    if (k.length % 2 === 0) delete o[k];
    else o[k] = 'changed';
  }
  o.model = 'mutated';
  o.content = 'mutated';
  o.choices = [{ delta: { content: 'mutated' } }];
  o.delta = { content: 'mutated' };
}

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** `parser.parse(text)` returns what `JSON.parse(text)` returns, or both throw the same SyntaxError. */
function sameOutcome(parser: FrameParser, text: string): void {
  const want = outcome(() => realParse(text));
  const got = outcome(() => parser.parse(text));
  expect(got.ok).toBe(want.ok);
  if (got.ok && want.ok) {
    expect(JSON.stringify(got.value)).toBe(JSON.stringify(want.value));
    expect(shape(got.value)).toEqual(shape(want.value));
  } else if (!got.ok && !want.ok) {
    expect(got.error).toBeInstanceOf(SyntaxError);
    expect((got.error as Error).constructor).toBe((want.error as Error).constructor);
    expect((got.error as Error).message).toBe((want.error as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Generators: frames as streaming servers write them.

const tricky = fc.constantFrom(
  '"',
  '\\',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"delta":',
  '"}',
  '{"content":"',
  '\\"',
  '\\u0041',
  '😀',
  '\ud83d',
  '\ude00',
  '\u2028',
  '\u2029',
  'é',
  'a',
  ' ',
);
/** Text without quote, backslash or control character: what the `{"content":"…"}` fast path takes. */
const plain = fc
  .oneof(
    fc.string({
      unit: fc.constantFrom('a', 'b', ' ', 'é', '😀', '\u2028', '{', '}', ']', ',', ':'),
      maxLength: 24,
    }),
    fc.string({ unit: 'binary', maxLength: 16 }),
    fc.string({ maxLength: 24 }),
  )
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly what the fast path refuses.
  .map((s) => s.replace(/["\\\u0000-\u001f]/g, ''));
const text = fc.oneof(
  { weight: 4, arbitrary: plain },
  { weight: 2, arbitrary: fc.string({ unit: tricky, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '"}', '"delta":{"content":"x"}', '\\', '"', '\n', '\u2028') },
);

const delta: fc.Arbitrary<Obj> = fc.oneof(
  { weight: 8, arbitrary: text.map((s) => ({ content: s })) },
  { weight: 1, arbitrary: fc.constant({ role: 'assistant', content: '' }) },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: text.map((s) => ({ reasoning: s })) },
  { weight: 1, arbitrary: fc.constant({ content: null }) },
  { weight: 1, arbitrary: text.map((s) => ({ role: 'assistant', content: s, refusal: null })) },
  { weight: 1, arbitrary: text.map((s) => ({ delta: { content: s } })) },
  {
    weight: 1,
    arbitrary: fc.tuple(text, fc.nat(3), fc.boolean()).map(([s, index, first]) => ({
      tool_calls: [
        first
          ? { index, id: `call_${index}`, type: 'function', function: { name: 'get_weather', arguments: s } }
          : { index, function: { arguments: s } },
      ],
    })),
  },
);

const TOP_KEYS = ['id', 'object', 'created', 'model', 'system_fingerprint'] as const;
const CHOICE_KEYS = ['index', 'finish_reason', 'logprobs'] as const;

const template = fc.record({
  top: fc.shuffledSubarray([...TOP_KEYS]),
  values: fc.record({
    id: fc.string({ maxLength: 12 }).map((s) => `chatcmpl-${s}`),
    object: fc.constant('chat.completion.chunk'),
    created: fc.integer({ min: 0, max: 2_000_000_000 }),
    model: text,
    system_fingerprint: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  }),
  choicesAt: fc.nat(),
  usageAt: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
  obfuscation: fc.nat(3).map((n) => n === 0),
  // Rarely, a nested value repeated in every frame (Groq's `x_groq`, logprobs): such a frame is parsed whole.
  nested: fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Json>({ id: 'req_1' }, { delta: {} }, [], { delta: { content: 'a' } }),
    },
  ),
  nestedAt: fc.nat(),
  logprobs: fc.oneof(
    { weight: 10, arbitrary: fc.constant<Json>(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Json>({ content: [] }, { content: [{ token: 'a', logprob: -1 }] }),
    },
  ),
  choice: fc.shuffledSubarray([...CHOICE_KEYS]),
  deltaAt: fc.nat(),
});
type Template = typeof template extends fc.Arbitrary<infer T> ? T : never;

function insert<T>(list: T[], at: number, item: T): T[] {
  const i = at % (list.length + 1);
  return [...list.slice(0, i), item, ...list.slice(i)];
}

interface FrameOptions {
  delta: Json;
  kind?: 'delta' | 'finish' | 'newTop' | 'none' | 'two';
  delta2?: Json;
  id?: string;
  obfuscation?: string;
}

/** One frame of the template's stream, its keys in the template's order. */
function frame(tpl: Template, o: FrameOptions): Obj {
  const kind = o.kind ?? 'delta';
  const choice = (d: Json, index: number): Obj => {
    let entries: [string, Json][] = tpl.choice.map((k): [string, Json] => [
      k,
      k === 'index' ? index : k === 'finish_reason' ? (kind === 'finish' ? 'stop' : null) : tpl.logprobs,
    ]);
    if (kind === 'finish' && !tpl.choice.includes('finish_reason')) entries.push(['finish_reason', 'stop']);
    entries = insert(entries, tpl.deltaAt, ['delta', d]);
    return Object.fromEntries(entries);
  };
  let entries: [string, Json][] = tpl.top.map((k): [string, Json] => [k, tpl.values[k]]);
  if (kind === 'newTop') {
    const id = `chatcmpl-new-${o.id ?? ''}`;
    if (tpl.top.includes('id')) entries = entries.map(([k, v]) => [k, k === 'id' ? id : v]);
    else entries.unshift(['id', id]);
  }
  if (tpl.usageAt !== undefined) entries = insert(entries, tpl.usageAt, ['usage', null]);
  const choices: Json =
    kind === 'none'
      ? []
      : kind === 'two'
        ? [choice(o.delta, 0), choice(o.delta2 ?? {}, 1)]
        : [choice(kind === 'finish' ? {} : o.delta, 0)];
  entries = insert(entries, tpl.choicesAt, ['choices', choices]);
  if (kind === 'none') {
    const usage = { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 };
    if (tpl.usageAt === undefined) entries.push(['usage', usage]);
    else entries = entries.map(([k, v]) => [k, k === 'usage' ? usage : v]);
  }
  if (tpl.nested !== undefined) entries = insert(entries, tpl.nestedAt, ['x_groq', tpl.nested]);
  if (tpl.obfuscation) entries.push(['obfuscation', o.obfuscation ?? '']);
  return Object.fromEntries(entries);
}

interface Style {
  indent: string;
  colon: string;
  comma: string;
  /** Writes keys (or keys and string values) with a \u escape for every code unit. */
  escape: 'none' | 'keys' | 'all';
}

function quote(s: string, escapeAll: boolean): string {
  if (!escapeAll) return JSON.stringify(s);
  let out = '"';
  for (let i = 0; i < s.length; i++) out += `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

/** JSON text that is not JSON.stringify's: indented, spaced, or with escaped keys and strings. */
function write(v: Json, s: Style, depth = 0): string {
  if (v === null || typeof v !== 'object')
    return typeof v === 'string' ? quote(v, s.escape === 'all') : JSON.stringify(v);
  const pad = s.indent ? `\n${s.indent.repeat(depth + 1)}` : '';
  const end = s.indent ? `\n${s.indent.repeat(depth)}` : '';
  const sep = `,${s.comma}`;
  if (Array.isArray(v)) {
    return v.length === 0 ? '[]' : `[${v.map((x) => pad + write(x, s, depth + 1)).join(sep)}${end}]`;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return '{}';
  const items = keys.map(
    (k) => `${pad}${quote(k, s.escape !== 'none')}:${s.colon}${write(v[k] ?? null, s, depth + 1)}`,
  );
  return `{${items.join(sep)}${end}}`;
}

const style: fc.Arbitrary<Style | undefined> = fc.oneof(
  { weight: 7, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.record({
      indent: fc.constantFrom('', '  ', '\t'),
      colon: fc.constantFrom('', ' '),
      comma: fc.constantFrom('', ' '),
      escape: fc.constantFrom('none', 'keys', 'all') as fc.Arbitrary<Style['escape']>,
    }),
  },
);

const step = fc.record({
  kind: fc.oneof(
    { weight: 12, arbitrary: fc.constant('delta' as const) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('finish' as const, 'newTop' as const, 'none' as const, 'two' as const),
    },
  ),
  delta,
  delta2: delta,
  id: fc.string({ maxLength: 6 }),
  obfuscation: fc.string({ maxLength: 12 }),
  style,
});

const serialize = (v: Obj, s: Style | undefined): string =>
  s === undefined ? JSON.stringify(v) : write(v, s);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('FrameParser', () => {
  it('parses every frame of a stream exactly as JSON.parse does, whatever path it takes', () => {
    // How each parse was served, seen through the parser's JSON.parse calls: the whole text, only the delta
    // (template path), or nothing at all (plain-content fast path). Guards that the property reaches both paths.
    const spy = vi.spyOn(JSON, 'parse');
    const seen = { whole: 0, delta: 0, fast: 0 };
    fc.assert(
      fc.property(template, fc.array(step, { minLength: 1, maxLength: 30, size: 'max' }), (tpl, steps) => {
        const parser = new FrameParser();
        for (const s of steps) {
          const t = serialize(frame(tpl, s), s.style);
          spy.mockClear();
          const first = parser.parse(t);
          const calls = spy.mock.calls.map((c) => c[0]);
          check(first, t);
          if (calls.includes(t)) seen.whole++;
          else if (calls.length > 0) seen.delta++;
          else seen.fast++;
          // A second parse of the same text (now surely against a learnt template when the shape allows one) is a
          // new, equal object: changing the first result changes neither it nor anything parsed later.
          const second = same(parser, t);
          if (first !== null && typeof first === 'object') expect(second).not.toBe(first);
          vandalize(first);
          expect(shape(second)).toEqual(shape(realParse(t)));
          vandalize(second);
        }
      }),
      { numRuns: 300 },
    );
    expect(seen.fast).toBeGreaterThan(300);
    expect(seen.delta).toBeGreaterThan(300);
    expect(seen.whole).toBeGreaterThan(300);
  });

  it('throws exactly when JSON.parse throws, for texts that keep the learnt head and tail', () => {
    const MARK = '\u0000mark\u0000';
    const token = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '\\',
      ' ',
      '\n',
      '\u0000',
      '"content"',
      '"content":',
      '{"content":"',
      '"}',
      '"a"',
      '"delta"',
      '1',
      'null',
      '}]',
      '[{',
      'é',
    );
    const glue = fc.constantFrom(
      '],"x":[',
      '}],"x":[{"delta":',
      '}],"x":1,"y":[{"delta":',
      // These two make valid frames with a duplicate key (JSON.parse keeps the last copy); one may be learnt.
      ',"delta":',
      '}],"choices":[{"delta":',
      ',"y":',
      ',',
      '',
      '}',
      ']',
      '}]}',
      ' ',
    );
    const piece = fc.constantFrom(
      '{"content":"a\\"}',
      '{"content":"\u0001"}',
      '{"content":"a"}}',
      '{"content":"a"',
      '{"content":a"}',
      '{"content":"a"} x',
      '{"content":"a"}]',
      '{"content":"}',
      '{"content":""}',
      '{"content":"a" }',
      ' {"content":"a"}',
      '{"content":"\\u00"}',
      '{"content":"\\x"}',
      '[]',
      'null',
      '1',
      '"a"',
      '{}}',
      '{{}',
    );
    const attempt = fc.oneof(
      fc.record({ kind: fc.constant('middle' as const), middle: fc.string({ unit: token, maxLength: 12 }) }),
      fc.record({ kind: fc.constant('middle' as const), middle: piece }),
      fc.record({
        kind: fc.constant('middle' as const),
        middle: fc
          .tuple(delta, glue, delta)
          .map(([a, g, b]) => `${JSON.stringify(a)}${g}${JSON.stringify(b)}`),
      }),
      fc.record({ kind: fc.constant('truncate' as const), delta, at: fc.nat() }),
      fc.record({ kind: fc.constant('drop' as const), delta, at: fc.nat() }),
      fc.record({
        kind: fc.constant('append' as const),
        delta,
        junk: fc.string({ unit: token, maxLength: 4 }),
      }),
      fc.record({
        kind: fc.constant('garbage' as const),
        text: fc.string({ unit: 'binary', maxLength: 40 }),
      }),
      fc.record({ kind: fc.constant('valid' as const), delta }),
    );
    fc.assert(
      fc.property(
        template,
        delta,
        fc.array(attempt, { minLength: 1, maxLength: 15 }),
        fc.string({ maxLength: 8 }),
        (tpl, first, attempts, obfuscation) => {
          const parts = JSON.stringify(frame(tpl, { delta: first, obfuscation })).split(JSON.stringify(MARK));
          // The template's text around its delta, found through a marker written where the delta goes.
          const [head, tail] = JSON.stringify(frame(tpl, { delta: MARK, obfuscation })).split(
            JSON.stringify(MARK),
          );
          fc.pre(parts.length === 1 && head !== undefined && tail !== undefined);
          const parser = new FrameParser();
          same(parser, head + JSON.stringify(first) + tail);
          for (const a of attempts) {
            let t: string;
            if (a.kind === 'middle') t = head + a.middle + tail;
            else if (a.kind === 'garbage') t = a.text;
            else {
              const valid = head + JSON.stringify(a.delta) + tail;
              if (a.kind === 'truncate') t = valid.slice(0, a.at % valid.length);
              else if (a.kind === 'drop') {
                const i = a.at % valid.length;
                t = valid.slice(0, i) + valid.slice(i + 1);
              } else if (a.kind === 'append') t = valid + a.junk;
              else t = valid;
            }
            sameOutcome(parser, t);
            // Whatever came before, a good frame still parses right.
            same(
              parser,
              head + JSON.stringify(a.kind === 'middle' || a.kind === 'garbage' ? first : a.delta) + tail,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns a fresh object every time: mutating a result changes no later result', () => {
    const f = (content: string) =>
      JSON.stringify({
        id: 'c1',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{ index: 0, delta: { content }, finish_reason: null }],
      });
    const parser = new FrameParser();
    const a = parser.parse(f('a')) as any; // learns
    const b = parser.parse(f('b')) as any; // template, fast path
    const c = parser.parse(f('c\\"')) as any; // template, delta parsed
    for (const r of [a, b, c]) {
      r.choices[0].delta.content = 'x';
      r.choices[0].delta.extra = 1;
      r.choices[0].index = 99;
      delete r.choices[0].finish_reason;
      r.choices.push({ index: 1 });
      r.model = 'changed';
      delete r.id;
      r.added = true;
    }
    a.choices = [];
    b.choices[0] = null;
    for (const s of ['d', 'e\n', '', 'a', 'b']) same(parser, f(s));
    // And a frame that changes only the top level is still parsed whole and right.
    same(parser, f('b').replace('"model":"m"', '"model":"n"'));
  });

  it('keeps __proto__ keys as own properties, at the top level and inside the delta, and pollutes nothing', () => {
    const frames = [
      '{"id":"a","__proto__":null,"choices":[{"index":0,"__proto__":1,"delta":{"content":"x"},"finish_reason":null}]}',
      '{"id":"a","__proto__":null,"choices":[{"index":0,"__proto__":1,"delta":{"content":"y"},"finish_reason":null}]}',
      '{"id":"a","__proto__":null,"choices":[{"index":0,"__proto__":1,"delta":{"__proto__":{"polluted":true}},"finish_reason":null}]}',
      '{"id":"a","__proto__":null,"choices":[{"index":0,"__proto__":1,"delta":{"content":"z","__proto__":{"polluted":1}},"finish_reason":null}]}',
      '{"id":"b","choices":[{"index":0,"delta":{"__proto__":{"polluted":true},"content":"x"}}]}',
      '{"id":"b","choices":[{"index":0,"delta":{"__proto__":{"polluted":true},"content":"x"}}]}',
      '{"id":"b","choices":[{"index":0,"delta":{"__proto__":[],"content":"w"}}]}',
    ];
    const parser = new FrameParser();
    for (const t of frames) {
      for (let i = 0; i < 2; i++) {
        const got = same(parser, t) as any;
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
        expect(Object.getPrototypeOf(got.choices[0])).toBe(Object.prototype);
        expect(Object.getPrototypeOf(got.choices[0].delta)).toBe(Object.prototype);
        if (t.includes('"delta":{"__proto__"') || t.includes(',"__proto__":{"polluted"')) {
          expect(Object.hasOwn(got.choices[0].delta, '__proto__')).toBe(true);
          expect(got.choices[0].delta.polluted).toBeUndefined();
        }
        if (t.includes('"id":"a"')) expect(Object.hasOwn(got, '__proto__')).toBe(true);
      }
    }
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  describe('regressions', () => {
    const f = (delta: unknown, extra = '') =>
      `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m"${extra},"choices":[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":null}]}`;
    const stream = (frames: string[]) => {
      const parser = new FrameParser();
      for (const t of frames) {
        same(parser, t);
        same(parser, t);
      }
    };

    it.each([
      ['a quote', '"'],
      ['a backslash', '\\'],
      ['an escaped line feed', '\n'],
      ['a raw U+2028', 'a\u2028b'],
      ['empty content', ''],
      ['content "}', '"}'],
      ['content "delta":', '"delta":{"content":"x"}'],
      ['a NUL and U+001F', '\u0000\u001f'],
      ['a lone surrogate', '\ud800'],
      ['an emoji', '😀'],
      ['text that looks like the frame', '{"content":"a"}],"x":[{"content":"b"}'],
    ])('content with %s', (_, s) => {
      stream([f({ content: 'a' }), f({ content: s }), f({ content: 'b' }), f({ content: s })]);
    });

    it('content with a raw lone surrogate in the text (not written by JSON.stringify)', () => {
      stream([f({ content: 'a' }), f({ content: 'a' }).replace('"a"', '"\ud800"'), f({ content: 'b' })]);
    });

    it('a top-level primitive key named delta before choices', () => {
      for (const v of ['1', 'null', '"x"', '"{\\"content\\":\\"a\\"}"', '{}'])
        stream([
          f({ content: 'a' }, `,"delta":${v}`),
          f({ content: 'b' }, `,"delta":${v}`),
          f({ content: 'c' }),
        ]);
    });

    it('a key named x"delta (an escaped quote inside a key), at the top and in the choice', () => {
      stream([
        f({ content: 'a' }, ',"x\\"delta":{"content":"a"}'),
        f({ content: 'a' }, ',"x\\"delta":1'),
        f({ content: 'b' }, ',"x\\"delta":1'),
        f({ content: 'a' }).replace('"index":0,', '"index":0,"x\\"delta":2,'),
        f({ content: 'b' }).replace('"index":0,', '"index":0,"x\\"delta":2,'),
      ]);
    });

    it('a delta nested inside the delta, and a delta key written with an escape', () => {
      stream([
        f({ delta: { content: 'a' } }),
        f({ delta: { content: 'b' } }),
        f({ content: 'c' }),
        f({ delta: { content: 'a' } }).replace('"delta":{"delta"', '"\\u0064elta":{"delta"'),
        f({ delta: { delta: {} } }).replace('"delta":{"delta"', '"\\u0064elta":{"delta"'),
        f({ content: 'd' }),
      ]);
    });

    it('non-compact frames, other top-level values, no choices and two choices after learning', () => {
      const base = JSON.parse(f({ content: 'a' }));
      stream([
        f({ content: 'a' }),
        JSON.stringify(
          { ...base, choices: [{ index: 0, delta: { content: 'b' }, finish_reason: null }] },
          null,
          2,
        ),
        f({ content: 'c' }).replace(/":/g, '": '),
        f({ content: 'd' }).replace('"c1"', '"c2"'),
        f({ content: 'e' }),
        f({ content: 'f' }).replace(/"choices":\[.*\]/, '"choices":[]'),
        f({ content: 'g' }).replace('}]}', '},{"index":1,"delta":{"content":"h"},"finish_reason":null}]}'),
        f({}).replace('"finish_reason":null', '"finish_reason":"stop"'),
        f({ content: 'i' }),
      ]);
    });

    it('a learnt delta not written as JSON.stringify writes it is no template', () => {
      const wrap = (d: string) => `{"id":"c","choices":[{"index":0,"delta":${d},"finish_reason":null}]}`;
      for (const learnt of [
        '{"n":1.0}',
        '{"a":"\\u0061"}',
        '{"a": 1}',
        '{ }',
        '{"a":1e0}',
        '{"a":"\\/"}',
        '{"a":-0}',
      ]) {
        // Where a template cut at JSON.stringify's length would end: a valid delta followed by the rest of the learnt one.
        const rest = learnt.slice(JSON.stringify(realParse(learnt)).length);
        const parser = new FrameParser();
        same(parser, wrap(learnt));
        for (const d of ['{"n":2}', '{}', '{"content":"b"}', '{"a":"b"}']) {
          sameOutcome(parser, wrap(d + rest));
          sameOutcome(parser, wrap(learnt));
          sameOutcome(parser, wrap(d));
        }
      }
    });

    it('a middle that would only parse as part of the whole frame is parsed whole', () => {
      const head = f({ content: 'a' }).split('{"content":"a"}')[0] ?? '';
      const tail = f({ content: 'a' }).split('{"content":"a"}')[1] ?? '';
      const parser = new FrameParser();
      same(parser, f({ content: 'a' }));
      for (const middle of [
        '{"content":"a"},"finish_reason":null}],"x":[{"delta":{"content":"b"}',
        '{"content":"a"}}],"x":1,"y":[{"delta":{"content":"b"}',
        '{"content":"a"},"y":{"content":"b"}',
        '{"content":"a"}],"x":[{"content":"b"}',
        '{"content":"a\\"}',
        '{"content":"\u0001"}',
        '{"content":"}',
      ])
        sameOutcome(parser, head + middle + tail);
      same(parser, f({ content: 'z' }));
    });

    // JSON.parse keeps the LAST value of a repeated key; a template taken from the first copy would be wrong.
    it('a learnt frame with a duplicate delta key, in the choice or at the top level', () => {
      stream([
        '{"choices":[{"delta":{},"delta":{}}]}',
        '{"choices":[{"delta":{"content":"b"},"delta":{}}]}',
        '{"choices":[{"delta":{"content":"c"},"delta":{}}]}',
      ]);
      stream([
        '{"delta":{},"delta":0,"choices":[{"delta":{}}]}',
        '{"delta":{"content":"x"},"delta":0,"choices":[{"delta":{}}]}',
      ]);
      stream([
        '{"choices":[{"delta":{"content":"a"}}],"choices":[{"delta":{"content":"a"}}]}',
        '{"choices":[{"delta":{"content":"b"}}],"choices":[{"delta":{"content":"a"}}]}',
      ]);
    });

    // The same, when the copy JSON.parse keeps has its key written with an escape (`"\u0064elta"` is `"delta"`), which
    // a search for the text `"delta":` cannot see: a template would swap the FIRST copy, where JSON.parse takes the LAST.
    // Minimal: learn `{"choices":[{"delta":{},"\u0064elta":{}}]}`, then parse
    // `{"choices":[{"delta":{"content":"b"},"\u0064elta":{}}]}` → JSON.parse gives choices[0].delta = {}.
    it('a learnt frame with a duplicate delta key written with an escape', () => {
      stream([
        '{"choices":[{"delta":{},"\\u0064elta":{}}]}',
        '{"choices":[{"delta":{"content":"b"},"\\u0064elta":{}}]}',
      ]);
    });

    it('a learnt frame with a top-level delta and an escaped duplicate', () => {
      stream([
        '{"delta":{},"\\u0064elta":0,"choices":[{"\\u0064elta":{}}]}',
        '{"delta":{"content":"x"},"\\u0064elta":0,"choices":[{"\\u0064elta":{}}]}',
      ]);
    });

    it('a learnt frame with a duplicate choices key whose last copy escapes delta', () => {
      stream([
        '{"choices":[{"delta":{}}],"choices":[{"\\u0064elta":{}}]}',
        '{"choices":[{"delta":{"a":1}}],"choices":[{"\\u0064elta":{}}]}',
      ]);
    });
  });

  it('takes the template path for a plain stream: only the first frame is parsed whole', () => {
    const f = (delta: unknown) =>
      JSON.stringify({
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{ index: 0, delta }],
      });
    const parser = new FrameParser();
    const spy = vi.spyOn(JSON, 'parse');
    same(parser, f({ role: 'assistant', content: '' }));
    spy.mockClear();
    // Plain text deltas need no JSON.parse at all.
    for (const s of ['Hello', ' world', '', '😀 {}[],:']) {
      const t = f({ content: s });
      const got = parser.parse(t);
      expect(spy).not.toHaveBeenCalled();
      expect(shape(got)).toEqual(shape(realParse(t)));
    }
    // Any other delta is parsed alone, never the whole frame.
    for (const d of [{ content: 'a"b' }, { content: 'a\nb' }, { reasoning: 'r' }, {}, { content: null }]) {
      spy.mockClear();
      const t = f(d);
      const got = parser.parse(t);
      expect(spy.mock.calls).toEqual([[JSON.stringify(d)]]);
      expect(shape(got)).toEqual(shape(realParse(t)));
    }
  });
});

describe('FrameParser on OpenAI frames with their obfuscation field', () => {
  const f = (delta: unknown, obfuscation: string, more: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: 'chatcmpl-D8Z5',
      object: 'chat.completion.chunk',
      created: 1770933892,
      model: 'gpt-4.1-nano-2025-04-14',
      service_tier: 'default',
      system_fingerprint: 'fp_de604bd877',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
      usage: null,
      obfuscation,
      ...more,
    });

  it('takes the template path although the obfuscation value changes in every frame', () => {
    const parser = new FrameParser();
    const spy = vi.spyOn(JSON, 'parse');
    same(parser, f({ role: 'assistant', content: '', refusal: null }, 'Qup1BsQ3'));
    for (const [s, o] of [
      ['**', 'yhjoJbEF'],
      ['Holiday', 'dTh'],
      [' Name', ''],
      [':**', 'HqIZSrV0123456'],
    ] as const) {
      spy.mockClear();
      const t = f({ content: s }, o);
      const got = parser.parse(t);
      expect(spy).not.toHaveBeenCalled();
      expect(shape(got)).toEqual(shape(realParse(t)));
    }
    // An obfuscation value with something to unescape, or a key after it that changes: parsed whole.
    for (const t of [
      f({ content: 'a' }, 'q"x'),
      f({ content: 'a' }, 'q\\n'),
      f({ content: 'a' }, 'x', { z: 1 }),
    ]) {
      spy.mockClear();
      expect(shape(parser.parse(t))).toEqual(shape(realParse(t)));
      expect(spy.mock.calls).toEqual([[t]]);
    }
  });

  it('varies only the top-level obfuscation: one in the choice or before the choices is part of the template', () => {
    const inChoice = (o: string, top: string) =>
      JSON.stringify({
        id: 'c',
        choices: [{ index: 0, delta: { content: 'a' }, obfuscation: o }],
        obfuscation: top,
      });
    const before = (o: string, d: string) =>
      JSON.stringify({ obfuscation: o, choices: [{ index: 0, delta: { content: d } }] });
    for (const stream of [
      [inChoice('a', 'a'), inChoice('b', 'a'), inChoice('a', 'b'), inChoice('b', 'b')],
      [before('a', 'x'), before('b', 'x'), before('a', 'y')],
    ]) {
      const parser = new FrameParser();
      for (const t of stream) same(parser, t);
    }
  });
});
