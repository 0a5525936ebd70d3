import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isPublicAddress } from './address-policy.js';

/** Why an image could not be had; the words are ours, never the image server's. */
export type ImageFailure = 'refused' | 'failed' | 'too-large';

/** An image fetch that did not give a usable image; `kind` says why, in our own words. */
export class ImageFetchError extends Error {
  override name = 'ImageFetchError';
  constructor(
    readonly kind: ImageFailure,
    options?: { cause?: unknown },
  ) {
    super(`image ${kind}`, options);
  }
}

/** Bytes shared by every image of one call: each fetch takes from it as its body arrives. */
export interface ByteBudget {
  left: number;
}

/** Fetches images for adapters that must inline them; one per client, closed with it. */
export interface ImageFetcher {
  /**
   * GETs `url` (http or https, no redirects): the body if it is an image of at most `maxBytes` bytes.
   * @throws ImageFetchError, or the signal's reason
   */
  fetch(url: URL, opts: { signal: AbortSignal; maxBytes: number; budget: ByteBudget }): Promise<FetchedImage>;
  /** True once `close()` was called. */
  readonly closed: boolean;
  close(): Promise<void>;
}

/** An image's media type and bytes. */
export interface FetchedImage {
  mimeType: string;
  bytes: Buffer;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
/** `dns.lookup`'s shape, as `net.connect` calls it. */
export type Lookup = (
  hostname: string,
  options: { all?: boolean; family?: number },
  cb: LookupCallback,
) => void;

function refusedAddress(): NodeJS.ErrnoException {
  return Object.assign(new Error('address not allowed'), { code: 'EMANAREFUSED' });
}

/**
 * A `lookup` for `net.connect` that hands over only public addresses: the socket connects to exactly what was
 * checked, so a name cannot resolve to a public address for the check and a private one for the connection.
 */
function publicLookup(resolve: Lookup): Lookup {
  return (hostname, options, cb) => {
    resolve(hostname, { ...options, all: true }, (err, found) => {
      if (err) return cb(err, '');
      const list = (Array.isArray(found) ? found : [{ address: found, family: isIP(found) }]).filter((a) =>
        isPublicAddress(a.address),
      );
      const first = list[0];
      if (!first) return cb(refusedAddress(), '');
      if (options.all) cb(null, list);
      else cb(null, first.address, first.family);
    });
  };
}

/**
 * Creates the image fetcher. `publicOnly`: connect only to public addresses, judged on the resolved IP at
 * connect time (IP literals in any spelling are normalised by the URL parser and judged as they are).
 */
export function createImageFetcher(opts: {
  publicOnly: boolean;
  connectMs: number;
  lookup?: Lookup;
}): ImageFetcher {
  let agent: Agent | undefined;
  let closed = false;
  const make = (): Agent => {
    const lookup = (opts.lookup ?? dnsLookup) as Lookup;
    const base = buildConnector({
      timeout: opts.connectMs,
      ...(opts.publicOnly ? { lookup: publicLookup(lookup) } : opts.lookup ? { lookup } : {}),
    } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (o, cb) => {
      // net.connect does not look up IP literals: they are judged here.
      if (opts.publicOnly && isIP(o.hostname) !== 0 && !isPublicAddress(o.hostname)) {
        cb(refusedAddress(), null);
        return;
      }
      base(o, cb);
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
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const code = (err as { code?: unknown; cause?: { code?: unknown } }).code;
        const refused =
          code === 'EMANAREFUSED' || (err as { cause?: { code?: unknown } }).cause?.code === 'EMANAREFUSED';
        throw new ImageFetchError(refused ? 'refused' : 'failed');
      }
      const type =
        String(res.headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim()
          .toLowerCase() ?? '';
      const declared = Number(res.headers['content-length'] ?? 0);
      // A redirect is not followed: its target would escape the address check of this hop.
      if (
        res.statusCode !== 200 ||
        !type.startsWith('image/') ||
        declared > maxBytes ||
        declared > budget.left
      ) {
        res.body.destroy();
        throw new ImageFetchError(declared > maxBytes || declared > budget.left ? 'too-large' : 'failed');
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
