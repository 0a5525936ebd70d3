import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError, NoHealthyProviderError, ProviderTimeoutError } from '../../src/index.js';
import { closeAll, harness, KEY, rejection, track, USER } from '../helpers/client.js';

afterEach(closeAll);

/**
 * A port on 127.0.0.1 whose accept queue is full: its listener lives on a worker thread that blocks before it
 * accepts anything, and two connections fill a backlog of 1, so Linux drops every later SYN and a connect waits
 * until its own timeout ends it.
 */
async function blackHole(): Promise<number> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
     });`,
    { eval: true, workerData: gate },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = connect(port, '127.0.0.1');
    fillers.push(s);
    await new Promise((resolve) => s.once('connect', resolve));
  }
  track({
    close: async () => {
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      for (const s of fillers) s.destroy();
      await worker.terminate();
    },
  });
  return port;
}

// Nothing here advances the fake clock: only timeouts.connectMs (50 ms, not the 10 s default) ends the connect.
describe('timeouts.connectMs', () => {
  it('ends a connect to a provider that never completes the handshake', { timeout: 5_000 }, async () => {
    const port = await blackHole();
    const { llm } = await harness({
      upstreams: {},
      providers: { a: { type: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: KEY } },
      aliases: { 'mana/x': ['a/m'] },
      options: { timeouts: { connectMs: 50 } },
    });
    const err = await rejection(llm.chat({ model: 'mana/x', messages: USER }));
    expect(err).toBeInstanceOf(NoHealthyProviderError);
    const [attempt] = (err as NoHealthyProviderError).attempts;
    expect(attempt).toMatchObject({ target: 'a/m', reason: 'timeout' });
    expect(attempt?.error).toBeInstanceOf(ProviderTimeoutError);
  });

  it('ends a connect to an image server the same way: the image could not be fetched', {
    timeout: 5_000,
  }, async () => {
    const port = await blackHole();
    const { llm, up } = await harness({
      upstreams: { o: 'ollama' },
      aliases: { 'mana/v': ['o/llava'] },
      options: { timeouts: { connectMs: 50 }, images: { fetch: 'all' } },
    });
    const err = await rejection(
      llm.chat({
        model: 'mana/v',
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: `http://127.0.0.1:${port}/a.png` } }],
          },
        ],
      }),
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).issues[0]?.message).toBe('could not be fetched');
    expect(up.o?.count()).toBe(0);
  });
});
