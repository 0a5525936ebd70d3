import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM } from '../src/index.js';
import { closeAll, collect, recordEvents, rejection, track, USER } from './helpers/client.js';
import { serveHttp } from './helpers/http.js';

afterEach(closeAll);

/** Latin-1 (what a header can carry) and characters special in a regular expression. */
const KEY = 'kéy.*+?^$(x)[y]{2}|ø\\/§-ü1';
const TOKEN = 'prøxy§Tøken(.*)+?';

/** Every way an upstream may echo `s`: as is, JSON `\u`-escaped, and percent-encoded (UTF-8). */
function echoes(s: string): string[] {
  const u = [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  return [s, u, encodeURIComponent(s)];
}

/**
 * An OpenAI-compatible upstream that echoes the credentials it received: in a 401 body (each as is, escaped and
 * encoded) with a response header holding them too, or, when streaming, in an error frame after one chunk.
 */
async function echoingUpstream(): Promise<string> {
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      // node:http reads header bytes as Latin-1, as undici wrote them: the configured strings come back.
      const got = [String(req.headers.authorization), String(req.headers['x-proxy-token'])];
      const text = got.flatMap((g) => echoes(g.replace(/^Bearer /, ''))).join(' | ');
      if ((JSON.parse(body) as { stream?: boolean }).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = {
          id: 'c',
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { content: 'Hi' } }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end(`data: ${JSON.stringify({ error: { message: `bad credentials ${text}` } })}\n\n`);
        return;
      }
      res.writeHead(401, {
        'content-type': 'text/plain',
        'x-echo': Buffer.from(got.join(' '), 'latin1').toString('latin1'),
      });
      res.end(`bad credentials ${text}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

/** Fails if any of `secrets`, in any echoed form, is in `value`: message, JSON, inspect output, cause chain. */
function expectNone(value: unknown, secrets: readonly string[], seen = new Set<unknown>()): void {
  const forms = secrets.flatMap(echoes);
  if (value === null || typeof value !== 'object' || seen.has(value)) {
    for (const f of forms) expect(String(value)).not.toContain(f);
    return;
  }
  seen.add(value);
  const texts = [JSON.stringify(value), inspect(value, { depth: 8 })];
  if (value instanceof Error) texts.push(value.message, String(value.stack));
  for (const t of texts) for (const f of forms) expect(t).not.toContain(f);
  if (value instanceof Error && value.cause !== undefined) expectNone(value.cause, secrets, seen);
  for (const v of Object.values(value)) expectNone(v, secrets, seen);
}

async function client(apiKey: string, token = TOKEN) {
  const llm = track(
    createManaLLM({
      aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
      providers: {
        a: { type: 'openai', baseUrl: await echoingUpstream(), apiKey, headers: { 'x-proxy-token': token } },
      },
      health: { probes: false },
    }),
  );
  return { llm, events: recordEvents(llm) };
}

describe('configured secrets with non-ASCII and regular-expression characters never leak', () => {
  it('not in errors, stream errors, events, health() or the HTTP server’s error body', async () => {
    const { llm, events } = await client(KEY);
    const err = await rejection(llm.chat({ model: 'a/m', messages: USER }));
    expect((err as Error).message).toContain('bad credentials [redacted]');
    expectNone(err, [KEY, TOKEN]);

    const interrupted = await rejection(collect(llm.stream({ model: 'a/m', messages: USER })));
    expect((interrupted as Error).message).toContain('bad credentials [redacted]');
    expectNone(interrupted, [KEY, TOKEN]);

    const served = await serveHttp(llm);
    const r = await fetch(`${served.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mana/x', messages: USER }),
    });
    const text = await r.text();
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(text).toContain('bad credentials');
    for (const f of [KEY, TOKEN].flatMap(echoes)) expect(text).not.toContain(f);
    for (const [name, value] of r.headers)
      for (const f of [KEY, TOKEN]) expect(`${name}: ${value}`).not.toContain(f);

    expect(events.all.length).toBeGreaterThan(0);
    for (const e of events.all) expectNone(e.payload, [KEY, TOKEN]);
    expectNone(llm.health(), [KEY, TOKEN]);
  });

  it('a secret of 4 characters is redacted; one of 3 is not (it would hide ordinary words)', async () => {
    const four = await client('Zé9x', 'ø§+?');
    const e4 = (await rejection(four.llm.chat({ model: 'a/m', messages: USER }))) as Error;
    expect(e4.message).toMatch(/^[^éø]*$/);
    expectNone(e4, ['Zé9x', 'ø§+?']);

    const three = await client('Zé9', 'ø§+');
    const e3 = (await rejection(three.llm.chat({ model: 'a/m', messages: USER }))) as Error;
    expect(e3.message).toContain('bad credentials Zé9 |');
    expect(e3.message).toContain('| ø§+ |');
  });
});
