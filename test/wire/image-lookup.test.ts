import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { expect, it, vi } from 'vitest';
import { createImageFetcher, ImageFetchError } from '../../src/wire/image-fetch.js';

// Node's net.connect (undici's connector) looks names up with `all: true` (autoSelectFamily) and tries every
// address handed back. A name resolving to a private address beside a public one must hand on only the public one.
// No name resolves like that on this machine and nothing may connect off it: the resolver is stubbed and the lookup
// the connector gets is called directly.
const stub = vi.hoisted(() => ({
  resolved: [] as { address: string; family: number }[],
  lookup: undefined as LookupFunction | undefined,
}));
vi.mock('node:dns', async (importOriginal) => {
  const dns = await importOriginal<typeof import('node:dns')>();
  return {
    ...dns,
    lookup: (_host: string, _opts: unknown, cb: (e: null, a: unknown) => void) => cb(null, stub.resolved),
  };
});
vi.mock('undici', async (importOriginal) => {
  const undici = await importOriginal<typeof import('undici')>();
  const buildConnector = (o: { lookup?: LookupFunction }) => {
    stub.lookup = o.lookup;
    return undici.buildConnector(o as never);
  };
  return { ...undici, buildConnector };
});

/** The lookup a `publicOnly` fetcher hands its connector (built on the first fetch; 127.0.0.1 is refused before any connect). */
async function publicLookup(): Promise<LookupFunction> {
  const fetcher = createImageFetcher({ publicOnly: true, connectMs: 1000 });
  const opts = { signal: new AbortController().signal, maxBytes: 1024, budget: { left: 1024 } };
  await expect(fetcher.fetch(new URL('http://127.0.0.1:9/x.png'), opts)).rejects.toBeInstanceOf(
    ImageFetchError,
  );
  await fetcher.close();
  return stub.lookup as LookupFunction;
}

function ask(
  lookup: LookupFunction,
  all: boolean,
): Promise<{ err: Error | null; found: unknown; family: number | undefined }> {
  return new Promise((resolve) =>
    lookup('mixed.example', { all }, ((err: Error | null, found: unknown, family?: number) =>
      resolve({ err, found, family })) as never),
  );
}

it("a publicOnly image fetch connects only to a name's public addresses, also when Node asks for all of them", async () => {
  const lookup = await publicLookup();
  expect(lookup).toBeTypeOf('function');
  stub.resolved = [
    { address: '10.0.0.7', family: 4 },
    { address: '93.184.216.34', family: 4 },
    { address: '::1', family: 6 },
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    { address: '169.254.169.254', family: 4 },
  ];
  const all = await ask(lookup, true);
  expect(all.err).toBeNull();
  expect(all.found as LookupAddress[]).toEqual([
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
  ]);
  const one = await ask(lookup, false);
  expect(one).toEqual({ err: null, found: '93.184.216.34', family: 4 });
  // Only private addresses: refused either way.
  stub.resolved = [
    { address: '127.0.0.1', family: 4 },
    { address: 'fd00::1', family: 6 },
  ];
  for (const mode of [true, false])
    expect((await ask(lookup, mode)).err?.message).toBe('address not allowed');
});
