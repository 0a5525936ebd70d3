import type { Clock } from '../clock.js';
import { ClosedError, InvalidRequestError } from '../errors.js';
import type { ImageLimits } from '../options.js';
import type { ChatMessage, ContentPart } from '../types.js';
import { followAbort } from '../wire/cancel.js';
import { ImageFetchError, type ImageFetcher } from '../wire/image-fetch.js';
import type { AdapterContext } from './adapter.js';

/** What a client's adapters share to inline images: the fetcher (one agent), the limits and the clock. */
export interface ImageService {
  readonly fetcher: ImageFetcher;
  readonly limits: ImageLimits;
  readonly clock: Clock;
}

/** An image as base64 bytes with its media type. */
interface InlineImage {
  mimeType: string;
  data: string;
}

/** Loads one image of a call by its URL, as bytes (see `imagesOf`). */
export type LoadImage = (url: string) => Promise<InlineImage>;

/** A user message's content as a provider's parts, in order: its text as `text(…)`, each image loaded as `image(…)`. */
export async function userParts<T>(
  content: string | ContentPart[],
  load: LoadImage,
  text: (text: string) => T,
  image: (img: InlineImage) => T,
): Promise<T[]> {
  const parts = typeof content === 'string' ? [{ type: 'text' as const, text: content }] : content;
  // Left out: Anthropic and Gemini answer an empty text part (an image sent with an empty caption) with 400.
  const kept = parts.filter((p) => p.type !== 'text' || p.text !== '');
  return Promise.all(
    kept.map(async (p) => (p.type === 'text' ? text(p.text) : image(await load(p.image_url.url)))),
  );
}

/** Internal: where an adapter context carries the call's images (set by the router). */
export const CALL_IMAGES: unique symbol = Symbol('mana-llm.callImages');

/** Every image URL of a request, with the path an error about it names. */
function* imageParts(messages: readonly ChatMessage[]) {
  for (const [i, m] of messages.entries()) {
    if (!Array.isArray(m.content)) continue;
    for (const [j, p] of m.content.entries())
      if (p.type === 'image_url')
        yield { url: p.image_url.url, path: `messages[${i}].content[${j}].image_url.url` };
  }
}

function unusable(path: string, message: string): InvalidRequestError {
  // Our own words only: what the image server answered (status, type, body) is not the caller's business.
  return new InvalidRequestError('An image in the request cannot be used', [{ path, message }]);
}

/** Whether `images.fetch` lets `url` be fetched (see docs/images.md); a policy function that throws says no. */
function allowedByPolicy(policy: ImageLimits['fetch'], url: URL): boolean {
  if (policy === 'none') return false;
  if (typeof policy !== 'function') return true;
  try {
    return policy(url) === true;
  } catch {
    return false;
  }
}

/**
 * One call's images, fetched at most once whatever the number of chain entries that need them, within the
 * call's budget (count, bytes, time). Any image that cannot be used is the caller's error (`InvalidRequestError`,
 * generic message), never the provider's.
 */
export class CallImages {
  readonly #service: ImageService;
  readonly #parts: { url: string; path: string }[];
  readonly #signal: AbortSignal | undefined;
  readonly #deadline: number;
  readonly #images = new Map<string, InlineImage>();
  #ready: Promise<void> | undefined;
  #controller: AbortController | undefined;

  constructor(
    service: ImageService,
    messages: readonly ChatMessage[],
    signal: AbortSignal | undefined,
    deadline: number,
  ) {
    this.#service = service;
    this.#parts = [...imageParts(messages)];
    this.#signal = signal;
    this.#deadline = deadline;
  }

  /** Decodes and fetches every image of the call, once. @throws InvalidRequestError, the caller's abort reason */
  ready(): Promise<void> {
    this.#ready ??= this.#load();
    return this.#ready;
  }

  /** Ends the fetches in flight: the call no longer needs its images (`ready()` then rejects). */
  cancel(): void {
    this.#controller?.abort();
  }

  /** One image of the call, after `ready()`. @throws InvalidRequestError */
  async get(url: string): Promise<InlineImage> {
    await this.ready();
    const img = this.#images.get(url);
    if (!img) throw unusable('messages', 'image not found in the request');
    return img;
  }

  async #load(): Promise<void> {
    const { limits, fetcher, clock } = this.#service;
    const remote = new Map<string, { url: URL; path: string }>();
    for (const { url, path } of this.#parts) {
      if (this.#images.has(url) || remote.has(url)) continue;
      // Schemes, the base64 marker and media types are case-insensitive (RFC 3986, 2397, 2045).
      if (/^data:/i.test(url)) {
        const m = /^data:([^;,]+)?(?:;[^,]*)?;base64,(.*)$/is.exec(url);
        if (!m) throw unusable(path, 'is a data: URL that is not base64');
        this.#images.set(url, { mimeType: m[1]?.toLowerCase() ?? 'image/png', data: m[2]! });
        continue;
      }
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw unusable(path, 'is not a valid URL');
      }
      if (!allowedByPolicy(limits.fetch, u)) throw unusable(path, 'may not be fetched (images.fetch)');
      remote.set(url, { url: u, path });
    }
    if (remote.size === 0) return;
    if (remote.size > limits.maxCount) {
      // maxCount is a whole number (options-schema.ts): the first image past it exists.
      const path = [...remote.values()][limits.maxCount]!.path;
      throw unusable(path, `more than ${limits.maxCount} images to fetch`);
    }
    const controller = new AbortController();
    this.#controller = controller;
    const caller = this.#signal;
    const unfollow = caller && followAbort(caller, () => controller.abort(caller.reason));
    const ms = Math.min(limits.timeoutMs, this.#deadline - clock.now());
    const timedOut = new ImageFetchError('failed');
    const cancel = clock.setTimer(Math.max(0, ms), () => controller.abort(timedOut));
    const budget = { left: limits.maxTotalBytes };
    try {
      await Promise.all(
        [...remote].map(async ([raw, { url, path }]) => {
          try {
            const got = await fetcher.fetch(url, {
              signal: controller.signal,
              maxBytes: limits.maxBytes,
              budget,
            });
            this.#images.set(raw, { mimeType: got.mimeType, data: got.bytes.toString('base64') });
          } catch (err) {
            if (caller?.aborted) throw caller.reason;
            if (fetcher.closed) throw new ClosedError();
            const kind = err instanceof ImageFetchError ? err.kind : 'failed';
            // One failure ends the others: nothing more is fetched for a call that cannot go ahead.
            const out = unusable(
              path,
              kind === 'too-large' ? 'is larger than the image budget allows' : 'could not be fetched',
            );
            controller.abort(out);
            throw out;
          }
        }),
      );
    } finally {
      cancel();
      unfollow?.();
    }
  }
}

/**
 * The image loader of one adapter call: the router's per-call images when the context carries them, or (an
 * adapter used on its own) this call's own.
 */
export function imagesOf(
  ctx: AdapterContext,
  service: ImageService,
  messages: readonly ChatMessage[],
): LoadImage {
  let images = (ctx as { [CALL_IMAGES]?: CallImages })[CALL_IMAGES];
  // Made on the first image only: reading ctx.signal makes an AbortSignal, which a call without images never needs.
  return (url) => {
    images ??= new CallImages(service, messages, ctx.signal, Number.POSITIVE_INFINITY);
    return images.get(url);
  };
}
