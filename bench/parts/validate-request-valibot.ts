import * as v from 'valibot';
import { ConfigError, type ConfigIssue, InvalidRequestError } from '../../src/errors.js';
import type { CallOptions } from '../../src/types.js';
import { configIssues } from '../../src/unknown-keys.js';

/**
 * Parts bench variant of `src/validate-request.ts`: the same per-call checks as valibot schemas (same exports, same
 * accept/refuse decisions, the same messages and paths wherever valibot reports at the same place).
 */

const IMAGE_URL = /^(?:https?:|data:)/i;
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
const ROLE_MSG = `must be one of ${ROLES.join(', ')}`;
const MAX_ISSUES = 20;
/** One issue per failed check of a value (as the hand-written walk reports). */
const CONFIG = { abortPipeEarly: true } as const;

type Issue = v.BaseIssue<unknown>;
type Message = string | ((issue: Issue) => string);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

const got = (what: string) => (i: Issue) => `${what}, got ${kindOf(i.input)}`;
const required = (what: string) => (i: Issue) =>
  i.input === undefined ? 'is required' : `${what}, got ${kindOf(i.input)}`;

/** valibot's objects: a missing required key gets the message its own schema gives `undefined`. */
function entries<E extends v.ObjectEntries>(e: E) {
  return v.object(e, (i) => {
    const key = i.path?.[0]?.key as string | undefined;
    const own = key === undefined ? undefined : (e[key] as v.GenericSchema | undefined);
    return (own && v.safeParse(own, undefined, CONFIG).issues?.[0]?.message) ?? 'is required';
  });
}

/** A plain object (valibot's `object` also takes arrays) with these entries. */
function object<E extends v.ObjectEntries>(e: E, message: Message) {
  return v.pipe(v.custom<Record<string, unknown>>(isObject, message), entries(e));
}

/**
 * A list whose issues stop at MAX_ISSUES. valibot has no cap of its own: with `abortEarly` it keeps one issue,
 * without it every malformed item of a huge list becomes an issue object, so the items are run one by one here.
 */
function list(item: v.GenericSchema, message: Message) {
  return v.pipe(
    v.array(v.unknown(), message),
    v.rawCheck(({ dataset, config, addIssue }) => {
      if (!dataset.typed) return;
      const items = dataset.value;
      let n = 0;
      // One issue past the cap, so that the summary "and more issues not shown" is added.
      for (let i = 0; i < items.length && n <= MAX_ISSUES; i++) {
        const issues = item['~run']({ value: items[i] }, config as v.Config<Issue>).issues;
        for (const issue of issues ?? []) {
          if (n++ > MAX_ISSUES) break;
          const at = { type: 'array', origin: 'value', input: items, key: i, value: items[i] } as const;
          addIssue({ message: issue.message, path: [at, ...(issue.path ?? [])] });
        }
      }
    }),
  );
}

const MODEL = v.optional(
  v.pipe(
    v.string(got('must be a string')),
    v.check((s) => s.trim() !== '', 'must not be blank (omit it to use the default alias)'),
  ),
);
const NAME = v.optional(v.string('must be a string'));
const NON_EMPTY = v.pipe(v.string('must be a non-empty string'), v.nonEmpty('must be a non-empty string'));
const FINITE = v.optional(v.pipe(v.number('must be a finite number'), v.finite('must be a finite number')));
const POSITIVE_MSG = 'must be a positive integer';
const POSITIVE = v.optional(
  v.pipe(v.number(POSITIVE_MSG), v.integer(POSITIVE_MSG), v.minValue(1, POSITIVE_MSG)),
);

const TEXT_PART = entries({ type: v.literal('text'), text: v.string(got('must be a string')) });
const URL_MSG = 'must be an http(s) or data: URL string';
const IMAGE_PART = entries({
  type: v.literal('image_url'),
  image_url: object(
    { url: v.pipe(v.string(URL_MSG), v.regex(IMAGE_URL, URL_MSG)) },
    'must be an object { url }',
  ),
});

function content(parts: v.VariantOptions<'type'>, allowed: string) {
  const part = v.pipe(
    v.custom(isObject, got('must be a content part object')),
    v.variant('type', parts, (i) => `must be ${allowed}, got ${JSON.stringify(i.input) ?? 'nothing'}`),
  );
  return v.union([v.string(), list(part, '')], got('must be a string or an array of content parts'));
}
const TEXT_CONTENT = content([TEXT_PART], '"text" (images go in user messages)');
const USER_CONTENT = content([TEXT_PART, IMAGE_PART], '"text" or "image_url"');

const TOOL_CALL = object(
  {
    id: v.string('must be a string'),
    type: v.optional(v.literal('function', 'must be "function"')),
    function: object(
      {
        name: NON_EMPTY,
        arguments: v.string('must be a string (JSON text), as the model produced it'),
      },
      'must be an object { name, arguments }',
    ),
  },
  got('must be a tool call object'),
);

const TOOL_ID = 'is required on a tool message: the id of the call it answers';
const MESSAGE = v.pipe(
  v.custom(isObject, got('must be a message object')),
  v.variant(
    'role',
    [
      entries({ role: v.picklist(['system', 'developer']), content: TEXT_CONTENT, name: NAME }),
      entries({ role: v.literal('user'), content: USER_CONTENT, name: NAME }),
      entries({
        role: v.literal('assistant'),
        content: v.nullish(TEXT_CONTENT),
        name: NAME,
        tool_calls: v.optional(list(TOOL_CALL, got('must be an array of tool calls'))),
      }),
      entries({
        role: v.literal('tool'),
        content: TEXT_CONTENT,
        name: NAME,
        tool_call_id: v.pipe(v.string(TOOL_ID), v.nonEmpty(TOOL_ID)),
      }),
    ],
    (i) =>
      i.input === undefined ? `is required: ${ROLE_MSG}` : `${ROLE_MSG}, got ${JSON.stringify(i.input)}`,
  ),
);

const TOOL = object(
  {
    type: v.literal('function', 'must be "function"'),
    function: object(
      {
        name: NON_EMPTY,
        parameters: v.optional(v.custom(isObject, 'must be a JSON Schema object')),
      },
      'must be a non-empty string',
    ),
  },
  got('must be a tool definition object'),
);

const TOOL_CHOICE_MSG = 'must be "none", "auto", "required" or { type: "function", function: { name } }';
const FORMAT_MSG = 'must be "text", "json_object" or "json_schema"';

const CHAT = object(
  {
    model: MODEL,
    messages: v.pipe(
      list(MESSAGE, required('must be an array of messages')),
      v.minLength(1, 'must contain at least one message'),
    ),
    temperature: FINITE,
    top_p: FINITE,
    frequency_penalty: FINITE,
    presence_penalty: FINITE,
    seed: FINITE,
    max_tokens: POSITIVE,
    stop: v.optional(v.union([v.string(), v.array(v.string())], 'must be a string or an array of strings')),
    tools: v.optional(list(TOOL, got('must be an array of tool definitions'))),
    tool_choice: v.optional(
      v.union(
        [
          v.picklist(['none', 'auto', 'required']),
          v.custom((c) => isObject(c) && isObject(c.function) && typeof c.function.name === 'string'),
        ],
        TOOL_CHOICE_MSG,
      ),
    ),
    response_format: v.optional(
      v.pipe(
        v.custom(isObject, FORMAT_MSG),
        v.variant(
          'type',
          [
            entries({ type: v.picklist(['text', 'json_object']) }),
            entries({
              type: v.literal('json_schema'),
              json_schema: v.custom(
                (s) => isObject(s) && typeof s.name === 'string',
                'must be an object with a name (and a schema)',
              ),
            }),
          ],
          FORMAT_MSG,
        ),
      ),
    ),
    stream_options: v.optional(v.custom(isObject, 'must be an object { include_usage? }')),
  },
  got('the request must be an object'),
);

const EMBED = object(
  {
    model: MODEL,
    input: v.union(
      [
        v.string(),
        v.pipe(
          list(v.string(got('must be a string')), ''),
          v.minLength(1, 'must contain at least one string'),
        ),
      ],
      required('must be a string or an array of strings'),
    ),
    dimensions: POSITIVE,
    encoding_format: v.optional(
      v.picklist(
        ['float', 'base64'],
        (i) =>
          `must be 'float' or 'base64', got ${typeof i.input === 'string' ? JSON.stringify(i.input.slice(0, 40)) : kindOf(i.input)}`,
      ),
    ),
  },
  got('the request must be an object'),
);

const ms = (what: string) => (i: Issue) =>
  `must be a finite number of milliseconds ${what}, got ${typeof i.input === 'number' ? i.input : kindOf(i.input)}`;
const TIMEOUT_MSG = ms('> 0');
const HEDGE_MSG = ms(">= 0 (0: no hedging) or 'auto'");

const OPTIONS = object(
  {
    timeoutMs: v.optional(v.pipe(v.number(TIMEOUT_MSG), v.finite(TIMEOUT_MSG), v.gtValue(0, TIMEOUT_MSG))),
    // Duck-typed: an AbortSignal from another realm or a polyfill works the same way.
    signal: v.optional(
      v.custom(
        (s) => isObject(s) && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function',
        got('must be an AbortSignal'),
      ),
    ),
    cache: v.optional(v.boolean('must be true or false')),
    hedgeAfterMs: v.optional(
      v.union(
        [v.literal('auto'), v.pipe(v.number(HEDGE_MSG), v.finite(HEDGE_MSG), v.minValue(0, HEDGE_MSG))],
        HEDGE_MSG,
      ),
    ),
  },
  got('call options must be an object'),
);

function capped(issues: ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), { path: '', message: 'and more issues not shown' }];
}

/** Checks one `chat`/`stream` (`kind` other than `embed`) or `embed` call before any I/O, as src/ does. */
export function validateCall(kind: string, request: unknown, opts: unknown, hasCache: boolean): void {
  const r = v.safeParse(kind === 'embed' ? EMBED : CHAT, request, CONFIG);
  const issues = r.success ? [] : configIssues(r.issues);
  if (opts !== undefined) {
    const o = v.safeParse(OPTIONS, opts, CONFIG);
    if (!o.success)
      for (const i of configIssues(o.issues)) issues.push(i.path ? i : { ...i, path: 'options' });
  }
  if (issues.length > 0) throw new InvalidRequestError(`Invalid ${kind} request`, capped(issues));
  // A stream never uses the cache (docs/redis.md, "The response cache"), with or without one: only chat and embed say so.
  if ((opts as CallOptions | undefined)?.cache === true && !hasCache && kind !== 'stream')
    throw new ConfigError('This client has no response cache', [
      {
        path: 'cache',
        message:
          "{ cache: true } needs a client created with the cache option, e.g. cache: { store: 'memory' }",
      },
    ]);
}

/** Checks the options of `models()`, as src/ does. */
export function validateOptions(opts: unknown): void {
  const o = v.safeParse(OPTIONS, opts, CONFIG);
  if (!o.success)
    throw new InvalidRequestError(
      'Invalid options',
      capped(configIssues(o.issues).map((i) => (i.path ? i : { ...i, path: 'options' }))),
    );
}

/** Checks a model string given to `resolve()`. */
export function validateModel(model: unknown): void {
  const r = v.safeParse(MODEL, model, CONFIG);
  if (!r.success) throw new InvalidRequestError('Invalid model', configIssues(r.issues));
}
