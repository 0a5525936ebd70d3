import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isPublicAddress } from './address-policy.js';

/**
 * An image fetch that did not give a usable image; `kind` says why, in our own words (never the server's). A
 * refused address is a plain failure: the caller learns nothing of what a name resolves to.
 */
export class ImageFetchError extends Error {
  override name = 'ImageFetchError';
  constructor(readonly kind: 'failed' | 'too-large') {
    super(`image ${kind}`);
  }
}

/** Fetches images for adapters that must inline them; one per client, closed with it. */
export interface ImageFetcher {
  /**
   * GETs `url` (http or https, no redirects): the body if it is an image of at most `maxBytes` bytes, taken from
   * `budget`, the bytes left to every image of one call.
   * @throws ImageFetchError, or the signal's reason
   */
  fetch(
    url: URL,
    opts: { signal: AbortSignal; maxBytes: number; budget: { left: number } },
  ): Promise<{ mimeType: string; bytes: Buffer }>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  close(): Promise<void>;
}

const refusedAddress = (): Error => new Error('address not allowed');

/**
 * A `lookup` for `net.connect` that hands over only public addresses: the socket connects to exactly what was
 * checked, so a name cannot resolve to a public address for the check and a private one for the connection.
 */
const publicLookup: LookupFunction = (hostname, options, cb) => {
  dnsLookup(hostname, { ...options, all: true }, (err, found) => {
    if (err) return cb(err, '');
    const list = found.filter((a) => isPublicAddress(a.address));
    const first = list[0];
    if (!first) return cb(refusedAddress(), '');
    if (options.all) cb(null, list);
    else cb(null, first.address, first.family);
  });
};

/**
 * Creates the image fetcher. `publicOnly`: connect only to public addresses, judged on the resolved IP at
 * connect time (IP literals in any spelling are normalised by the URL parser and judged as they are).
 */
export function createImageFetcher(opts: { publicOnly: boolean; connectMs: number }): ImageFetcher {
  let agent: Agent | undefined;
  let closed = false;
  const make = (): Agent => {
    const base = buildConnector({
      timeout: opts.connectMs,
      ...(opts.publicOnly ? { lookup: publicLookup } : {}),
    });
    const connect: buildConnector.connector = (o, cb) => {
      // net.connect does not look up IP literals: they are judged here.
      if (opts.publicOnly && isIP(o.hostname) !== 0 && !isPublicAddress(o.hostname))
        cb(refusedAddress(), null);
      else base(o, cb);
    };
    return new Agent({ connect, keepAliveTimeout: 4_000, connections: 16 });
  };
  return {
    async fetch(url, { signal, maxBytes, budget }) {
      if (signal.aborted) throw signal.reason;
      if (closed) throw new ImageFetchError('failed');
      agent ??= make();
      let res: Awaited<ReturnType<Agent['request']>>;
      try {
        res = await agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'GET',
          headers: { accept: 'image/*' },
          signal,
        });
      } catch {
        if (signal.aborted) throw signal.reason;
        throw new ImageFetchError('failed');
      }
      const type = String(res.headers['content-type'] ?? '')
        .replace(/;.*/s, '')
        .trim()
        .toLowerCase();
      const declared = Number(res.headers['content-length'] ?? 0);
      const tooLarge = declared > maxBytes || declared > budget.left;
      // A redirect is not followed: its target would escape the address check of this hop.
      if (res.statusCode !== 200 || !type.startsWith('image/') || tooLarge) {
        res.body.destroy();
        throw new ImageFetchError(tooLarge ? 'too-large' : 'failed');
      }
      const parts: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          budget.left -= chunk.length;
          if (size > maxBytes || budget.left < 0) throw new ImageFetchError('too-large');
          parts.push(chunk);
        }
      } catch (err) {
        res.body.destroy();
        if (signal.aborted) throw signal.reason;
        throw err instanceof ImageFetchError ? err : new ImageFetchError('failed');
      }
      return { mimeType: type, bytes: Buffer.concat(parts) };
    },
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
      const a = agent;
      agent = undefined;
      await a?.destroy();
    },
  };
}
