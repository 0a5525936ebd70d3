import Fastify from 'fastify';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeHandler } from '../../src/http/index.js';
import { closeAll, harness, track } from '../helpers/client.js';

afterEach(closeAll);

describe('createNodeHandler inside a framework that already parsed the body', () => {
  it('Fastify: reply.hijack() and the raw request with request.body serve the openai client, streams included', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const app = Fastify();
    const handler = createNodeHandler(h.llm);
    app.all('/v1/*', (request, reply) => {
      reply.hijack();
      handler(Object.assign(request.raw, { body: request.body }), reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    track({ close: () => app.close() });
    const { port } = app.server.address() as { port: number };
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    const { data, response } = await openai.chat.completions
      .create({ model: 'mana/x', messages })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello!');
    expect(response.headers.get('x-mana-llm-resolved')).toBe('a/m1');
    let text = '';
    for await (const c of await openai.chat.completions.create({ model: 'mana/x', messages, stream: true }))
      text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello!');
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids[0]).toBe('mana/x');
  });

  it('a body the framework kept as bytes (a Buffer: Fastify parseAs buffer, express.raw) is read as the JSON text', async () => {
    const h = await harness({ upstreams: { a: 'openai' }, aliases: { 'mana/x': ['a/m1'] } });
    const app = Fastify();
    // Keeps the raw bytes (as apps that check a signature over the body do).
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
      done(null, body),
    );
    const handler = createNodeHandler(h.llm, { maxBodyBytes: 4096 });
    app.all('/v1/*', (request, reply) => {
      reply.hijack();
      handler(Object.assign(request.raw, { body: request.body }), reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    track({ close: () => app.close() });
    const { port } = app.server.address() as { port: number };
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
    const done = await openai.chat.completions.create({
      model: 'mana/x',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(done.choices[0]?.message.content).toBe('Hello!');
    // maxBodyBytes still holds for bytes the framework read.
    const big = openai.chat.completions.create({
      model: 'mana/x',
      messages: [{ role: 'user', content: 'x'.repeat(5000) }],
    });
    await expect(big).rejects.toMatchObject({ status: 413 });
  });
});
