import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { ImageLimits } from '../../src/options.js';
import type { ImageService } from '../../src/providers/images.js';
import type { ChatChunk } from '../../src/types.js';
import { createImageFetcher } from '../../src/wire/image-fetch.js';

/** Every chunk of a stream (pass `into` to keep what arrived before a failure). */
export async function collect(
  stream: AsyncIterable<ChatChunk>,
  into: ChatChunk[] = [],
): Promise<ChatChunk[]> {
  for await (const c of stream) into.push(c);
  return into;
}

/** The text content of streamed chunks, joined. */
export const text = (chunks: ChatChunk[]): string =>
  chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** Awaits a rejection (failing the test when `p` resolves) and returns what it was rejected with. */
export function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

/** Awaits a rejection and checks that `key` appears neither in its message nor in its JSON. */
export async function rejectsWithout(p: Promise<unknown>, key: string): Promise<Error> {
  const err = await rejection(p);
  expect(err.message).not.toContain(key);
  expect(JSON.stringify(err)).not.toContain(key);
  return err;
}

/** A URL (with `path`) on a loopback port that was just closed: connecting to it is refused. */
export async function closedPortUrl(path = ''): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

/** An image service for tests that drive an adapter directly (`fetch: 'all'`: their image servers are local). */
export function testImages(limits: Partial<ImageLimits> = {}): ImageService {
  const full: ImageLimits = {
    fetch: 'all',
    maxCount: 8,
    maxBytes: 10 * 1024 * 1024,
    maxTotalBytes: 20 * 1024 * 1024,
    timeoutMs: 10_000,
    ...limits,
  };
  return {
    fetcher: createImageFetcher({ publicOnly: full.fetch === 'public', connectMs: 2_000 }),
    limits: full,
    clock: systemClock,
  };
}
