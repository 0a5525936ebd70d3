import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createManaLLM, type ProviderType } from '../src/index.js';
import { closeAll, KEY, track, USER } from './helpers/client.js';

afterEach(closeAll);

/** A node:http server that answers every request 500 and keeps each request's raw header list. */
async function recorder() {
  const seen: string[][] = [];
  const server = createServer((req, res) => {
    seen.push(req.rawHeaders);
    req.resume().on('end', () => res.writeHead(500, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { origin: `http://127.0.0.1:${port}`, seen };
}

/** Every value sent under `name`, compared case-insensitively. */
const valuesOf = (raw: string[], name: string) =>
  raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]] : []));

/** The adapter's own auth header, and the path its base URL needs. */
const AUTH: Record<Exclude<ProviderType, 'custom'>, { header: string; path: string }> = {
  openai: { header: 'authorization', path: '/v1' },
  anthropic: { header: 'x-api-key', path: '/v1' },
  google: { header: 'x-goog-api-key', path: '/v1beta' },
  ollama: { header: 'authorization', path: '' },
};

describe('configured headers', () => {
  for (const [type, { header, path }] of Object.entries(AUTH)) {
    it(`${type}: win over the adapter's own headers, whatever their case, and are sent once`, async () => {
      const up = await recorder();
      const configured = header.replace(/(^|-)\w/g, (s) => s.toUpperCase()); // X-Api-Key, Authorization, …
      const llm = track(
        createManaLLM({
          providers: {
            a: {
              type: type as ProviderType,
              baseUrl: up.origin + path,
              apiKey: KEY,
              headers: { [configured]: 'from-config', Accept: 'application/json', 'X-Team': 'core' },
            },
          },
          aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
          health: { probes: false },
        }),
      );
      await llm.chat({ model: 'a/m', messages: USER }).catch(() => undefined);
      const raw = up.seen[0] ?? [];
      expect(valuesOf(raw, header)).toEqual(['from-config']);
      expect(valuesOf(raw, 'accept')).toEqual(['application/json']);
      expect(valuesOf(raw, 'x-team')).toEqual(['core']);
    });
  }

  it('keep the adapter defaults they do not name', async () => {
    const up = await recorder();
    const llm = track(
      createManaLLM({
        providers: {
          a: { type: 'anthropic', baseUrl: `${up.origin}/v1`, apiKey: KEY, headers: { 'X-Team': 'core' } },
        },
        aliases: { aliases: { 'mana/x': { chain: ['a/m'] } } },
        health: { probes: false },
      }),
    );
    await llm.chat({ model: 'a/m', messages: USER }).catch(() => undefined);
    const raw = up.seen[0] ?? [];
    expect(valuesOf(raw, 'x-api-key')).toEqual([KEY]);
    expect(valuesOf(raw, 'anthropic-version')).toHaveLength(1);
    expect(valuesOf(raw, 'content-type')).toEqual(['application/json']);
  });
});
