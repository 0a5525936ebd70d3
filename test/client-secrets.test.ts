import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { NoHealthyProviderError, ProviderAuthError, StreamInterruptedError } from '../src/index.js';
import { closeAll, collect, harness, KEY, PLAIN_KEY, rejection, USER, waitFor } from './helpers/client.js';

afterEach(closeAll);

const SECRETS = [KEY, PLAIN_KEY];

/** Upstream error bodies that echo the key back, as real providers sometimes do. */
const echo = (key: string) =>
  JSON.stringify({ error: { message: `Incorrect API key provided: ${key}. Header was: Bearer ${key}` } });

/** Fails if any secret appears anywhere in `value`: messages, stacks, causes, JSON and inspect output. */
function expectNoSecret(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) {
    for (const s of SECRETS) expect(String(value)).not.toContain(s);
    return;
  }
  seen.add(value);
  const texts = [JSON.stringify(value), inspect(value, { depth: 6 })];
  if (value instanceof Error) texts.push(value.message, String(value.stack));
  for (const t of texts) for (const s of SECRETS) expect(t).not.toContain(s);
  if (value instanceof Error && value.cause !== undefined) expectNoSecret(value.cause, seen);
  for (const v of Object.values(value)) expectNoSecret(v, seen);
}

async function setup() {
  const h = await harness({
    upstreams: { a: 'openai', b: 'openai' },
    providers: { a: { apiKey: KEY }, b: { apiKey: PLAIN_KEY } },
    aliases: { 'mana/x': ['a/m1', 'b/m2'] },
  });
  return { ...h, a: h.up.a!, b: h.up.b! };
}

describe('API keys never leak', () => {
  it('are really sent to the upstream (so the checks below mean something)', async () => {
    const { llm, a, b } = await setup();
    a.enqueue({ status: 500 });
    await llm.chat({ model: 'mana/x', messages: USER });
    expect(a.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(b.requests[0]?.headers.authorization).toBe(`Bearer ${PLAIN_KEY}`);
  });

  it('not in errors or events when upstreams echo them in error bodies', async () => {
    const { llm, a, b, events } = await setup();
    a.setDefault({ status: 500, body: echo(KEY) });
    b.setDefault({ status: 502, body: echo(PLAIN_KEY) });
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    expect((err as NoHealthyProviderError).attempts[0]?.error?.message).toContain(
      'Incorrect API key provided',
    );
    expectNoSecret(err);

    b.setDefault({ status: 401, body: echo(PLAIN_KEY) });
    const auth = await rejection(llm.chat({ model: 'b/m2', messages: USER }));
    expect(auth).toBeInstanceOf(ProviderAuthError);
    expectNoSecret(auth);

    // An error inside a 200, and a body that is not JSON at all.
    b.enqueue({ status: 200, body: echo(PLAIN_KEY) }, { status: 200, body: `oops ${PLAIN_KEY} ${KEY}` });
    expectNoSecret(await rejection(llm.chat({ model: 'b/m2', messages: USER })));
    expectNoSecret(await rejection(llm.chat({ model: 'b/m2', messages: USER })));

    expect(events.all.length).toBeGreaterThan(0);
    for (const e of events.all) expectNoSecret(e.payload);
    expectNoSecret(llm.health());
  });

  it('a key-shaped text behind a terminal colour code is redacted too (the escape no longer hides its start)', async () => {
    const { llm, a } = await setup();
    const other = 'sk-proj-OTHERKEY1234567890abcd';
    a.setDefault({
      status: 400,
      body: JSON.stringify({ error: { message: `bad key \u001b[31m${other}\u001b[0m` } }),
    });
    const err = await rejection(llm.chat({ model: 'a/m1', messages: USER }));
    expect((err as Error).message).toContain('bad key');
    expect((err as Error).message).not.toContain('OTHERKEY');
  });

  it('not when the upstream echoes the key JSON-escaped (\\u0070…) or URL-encoded (%70…)', async () => {
    const { llm, b } = await setup();
    const u = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    const pct = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
    // A JSON body with no string message is shown as its text, where an escape hid the key from redaction.
    const escaped = [...PLAIN_KEY].map((c, i) => (i % 2 === 0 ? u(c) : c)).join('');
    const encoded = [...PLAIN_KEY].map((c, i) => (i % 3 === 0 ? pct(c) : c)).join('');
    b.enqueue(
      { status: 400, body: `{"error":{"code":400,"detail":"bad key ${escaped}"}}` },
      { status: 400, body: `<html><a href="/?k=${encoded}">bad key ${encoded}</a></html>` },
    );
    for (let i = 0; i < 2; i++) {
      const err = await rejection(llm.chat({ model: 'b/m2', messages: USER }));
      expect((err as Error).message).toContain('bad key');
      const decoded = (err as Error).message
        .replace(/\\u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
        .replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
      expect(decoded).not.toContain(PLAIN_KEY);
    }
  });

  it('nor any other credential an upstream echoes: each header label, query name and key shape, at its shortest', async () => {
    const { llm, b } = await setup();
    const creds = {
      'x-goog-api-key: ': 'goog12',
      'x-api-key=': 'abcdefghijklmnop',
      "'api-key': ": 'azu7re',
      'api_key: ': 'under9',
      'Authorization: ': 'tok9abc',
      '/v1?access_token=': 'acc1',
      '&token=': 'tv2',
      '/v1?api_key=': 'qa',
      '&apikey=': 'qb',
      '/v1?key=': 'qc',
      AIza: 'SyA1234567890abcdefg',
      'sk-': 'abcd1234',
    };
    b.enqueue({
      status: 400,
      body: `${Object.entries(creds)
        .map(([label, v]) => `${label}${v}`)
        .join(' | ')} | apiKey: must be a string`,
    });
    const { message } = (await rejection(llm.chat({ model: 'b/m2', messages: USER }))) as Error;
    expect(message).toContain('apiKey: must be a string');
    for (const [label, v] of Object.entries(creds)) {
      expect(message).not.toContain(v);
      if (label.length > 4) expect(message).toContain(`${label}[redacted]`);
    }
  });

  it("not in the cause of an unparseable reply that is the key (the parser's error quotes a short text whole)", async () => {
    const short = 'Short9key';
    const h = await harness({ upstreams: { a: 'openai' }, providers: { a: { apiKey: short } } });
    h.up.a?.setDefault({ status: 200, body: short });
    const err = await rejection(h.llm.chat({ model: 'a/m1', messages: USER }));
    const texts: string[] = [];
    for (
      let e: unknown = err;
      e instanceof Error;
      e = e.cause ?? (e as NoHealthyProviderError).attempts?.[0]?.error
    )
      texts.push(e.message, String(e.stack), inspect(e, { depth: 8 }));
    expect(texts.length).toBeGreaterThan(3);
    for (const t of texts) expect(t).not.toContain(short);
  });

  it('a configured key of 4 characters is redacted too', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, providers: { a: { apiKey: 'Zq9x' } } });
    h.up.a?.enqueue({ status: 400, body: 'wrong key Zq9x' });
    const { message } = (await rejection(h.llm.chat({ model: 'a/m1', messages: USER }))) as Error;
    expect(message).toMatch(/wrong key \[redacted\]$/);
  });

  it('upstream text is cut at 300 characters, and a cut body says so; a token at the cut is dropped whole', async () => {
    const { llm, b } = await setup();
    const exact = `${'word '.repeat(59)}lasts`;
    b.enqueue(
      { status: 400, body: exact },
      { status: 400, body: `${exact}!` },
      { status: 400, body: `short ${' '.repeat(5_000)} tail` },
      { status: 400, body: `start ${'x'.repeat(20_000)}` },
    );
    const message = async () =>
      ((await rejection(llm.chat({ model: 'b/m2', messages: USER }))) as Error).message;
    expect(exact).toHaveLength(300);
    expect(await message()).toMatch(/HTTP 400: (word ){59}lasts$/);
    expect(await message()).toMatch(/HTTP 400: (word ){59}lasts…$/);
    expect(await message()).toMatch(/HTTP 400: short…$/);
    expect(await message()).toMatch(/HTTP 400: start…$/);
  });

  it('not in stream errors', async () => {
    const { llm, a, b } = await setup();
    a.setDefault({ status: 500, body: echo(KEY) });
    b.setDefault({ status: 403, body: echo(PLAIN_KEY) });
    expectNoSecret(await rejection(collect(llm.stream({ model: 'mana/x', messages: USER }))));
    b.setDefault({ streamThenReset: 1 });
    const interrupted = await rejection(collect(llm.stream({ model: 'b/m2', messages: USER })));
    expect(interrupted).toBeInstanceOf(StreamInterruptedError);
    expectNoSecret(interrupted);
  });

  it('not in probe results, health() or models() errors', async () => {
    const h = await harness({
      upstreams: { a: 'openai', b: 'openai' },
      providers: { a: { apiKey: KEY }, b: { apiKey: PLAIN_KEY } },
      aliases: { 'mana/x': ['a/m1', 'b/m2'] },
      options: { health: { probes: true } },
    });
    h.up.a?.setDefault({ status: 401, body: echo(KEY) });
    h.up.b?.setDefault({ status: 500, body: echo(PLAIN_KEY) });
    h.up.a?.enqueue({ status: 401, body: echo(KEY) });
    h.up.b?.enqueue({ status: 500, body: echo(PLAIN_KEY) });
    await h.clock.advanceAsync(0);
    await waitFor(() => h.events.of('probe').length === 2, 'probes');
    for (const p of h.events.of('probe')) expectNoSecret(p);
    expect(h.llm.health().providers.a?.lastError).toContain('401');
    expectNoSecret(h.llm.health());

    h.up.a?.enqueue({ status: 401, body: echo(KEY) });
    h.up.b?.enqueue({ status: 500, body: echo(PLAIN_KEY) });
    const list = await h.llm.models();
    expect(list.errors.map((e) => e.provider).sort()).toEqual(['a', 'b']);
    expectNoSecret(list);
  });
});
