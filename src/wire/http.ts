import { Agent, type Dispatcher } from 'undici';
import type { CancelSignal } from './cancel.js';

/** One HTTP request, already split into origin and path so nothing is re-parsed per call. */
export interface HttpRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** An AbortSignal, or a CancelToken (cheaper: see cancel.ts). */
  signal: CancelSignal;
}

/** The body of an answer: an async iterable of bytes that can also be read whole or thrown away. */
export interface HttpBody extends AsyncIterable<Uint8Array> {
  /** The whole body as UTF-8 text (a leading byte order mark dropped). */
  text(): Promise<string>;
  /** Reads the rest away so the connection can be reused (cancels it past 128 kB); never rejects. */
  dump(): Promise<void>;
  /** Cancels the request (a no-op once the body has ended) and drops what was not read. */
  destroy(err?: Error): unknown;
}

/** An HTTP answer whose body the caller must consume, dump or destroy. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: HttpBody;
}

/**
 * True when the whole body has arrived and been read: reading on ends it in a tick, where `destroy()` would
 * cancel a request that is already complete.
 */
export function bodyArrived(body: HttpBody): boolean {
  // Anything but our own body (a test double) counts as not arrived, which is always safe.
  return body instanceof Exchange && body.arrived;
}

/** The only door to the network: one keep-alive agent per client. */
export interface Http {
  send(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

/** A reader may run this far ahead of its consumer before the socket is paused (what a Node stream allows). */
const HIGH_WATER = 64 * 1024;
/** `dump()` reads at most this much of an unwanted body; past it the connection is cancelled instead. */
const DUMP_LIMIT = 128 * 1024;
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

type Signal = CancelSignal & {
  on?(event: 'abort', fn: () => void): unknown;
  removeListener?(event: 'abort', fn: () => void): unknown;
  addEventListener?(event: 'abort', fn: () => void, opts: { once: boolean }): void;
  removeEventListener?(event: 'abort', fn: () => void): void;
};

/** What `destroy()` without a reason cancels with (undici's own code for an aborted request). */
function cancelled(): Error {
  return Object.assign(new Error('request cancelled'), { name: 'AbortError', code: 'UND_ERR_ABORTED' });
}

/**
 * One request and its answer, as undici's dispatch handler and as the body handed to the adapter. undici's
 * `request()` wraps each answer in a Node Readable stream (plus an AsyncResource and a consumer for `.text()`):
 * about 10 µs per call on this path, more than the whole router. Here each network read goes straight to a
 * waiting reader, or into a short queue, and `.text()` joins the reads once.
 */
class Exchange implements HttpBody, Dispatcher.DispatchHandler {
  #resolve: ((res: HttpResponse) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  readonly #signal: Signal;
  #abort: ((reason: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #paused = false;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown;
  #destroyed = false;
  #dumped = -1;
  /** The reader waiting for the next read (`next`) or for the end (`text`/`dump`). */
  #wait: { all: boolean; resolve: (v: never) => void; reject: (err: unknown) => void } | undefined;

  constructor(signal: CancelSignal, resolve: (res: HttpResponse) => void, reject: (err: unknown) => void) {
    this.#signal = signal as Signal;
    this.#resolve = resolve;
    this.#reject = reject;
    const s = this.#signal;
    if (s.on) s.on('abort', this.#onAbort);
    else s.addEventListener?.('abort', this.#onAbort, { once: true });
  }

  /** The whole body is in and has been read. */
  get arrived(): boolean {
    return this.#ended && this.#queue.length === 0;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  readonly #onAbort = (): void => {
    // What was queued is dropped: after an abort the reader gets nothing more but the reason.
    this.#drain();
    const reason = this.#signal.reason;
    if (this.#abort) this.#abort(reason as Error);
    else this.#fail(reason);
  };

  #unlisten(): void {
    const s = this.#signal;
    if (s.removeListener) s.removeListener('abort', this.#onAbort);
    else s.removeEventListener?.('abort', this.#onAbort);
  }

  // ── undici's handler side ──

  onConnect(abort: (err?: Error) => void): void {
    if (this.#signal.aborted) abort(this.#signal.reason as Error);
    else if (this.#destroyed) abort(cancelled());
    else this.#abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx: the answer is still to come
    this.#resume = resume;
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    resolve?.(new Answer(status, raw, this));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#dumped >= 0) {
      this.#dumped += chunk.length;
      if (this.#dumped > DUMP_LIMIT) this.destroy();
      return true;
    }
    const wait = this.#wait;
    if (wait !== undefined && !wait.all) {
      this.#wait = undefined;
      (wait.resolve as (v: IteratorResult<Uint8Array>) => void)({ done: false, value: chunk });
      return true;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued < HIGH_WATER || wait !== undefined) return true;
    this.#paused = true;
    return false;
  }

  onComplete(): void {
    this.#ended = true;
    this.#abort = undefined;
    this.#unlisten();
    const wait = this.#wait;
    if (wait === undefined) return;
    this.#wait = undefined;
    if (!wait.all) (wait.resolve as (v: IteratorResult<Uint8Array>) => void)(DONE);
    else (wait.resolve as (v: Buffer[]) => void)(this.#drain());
  }

  onError(err: Error): void {
    this.#abort = undefined;
    this.#fail(err);
  }

  #fail(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = err;
    this.#unlisten();
    const reject = this.#reject ?? this.#wait?.reject;
    this.#resolve = this.#reject = this.#wait = undefined;
    reject?.(err);
  }

  // ── the reader's side ──

  #drain(): Buffer[] {
    const parts = this.#queue.splice(0);
    this.#queued = 0;
    return parts;
  }

  #take(): Buffer {
    const chunk = this.#queue.shift() as Buffer;
    this.#queued -= chunk.length;
    if (this.#paused && this.#queued < HIGH_WATER) {
      this.#paused = false;
      this.#resume?.();
    }
    return chunk;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.#queue.length > 0) return Promise.resolve({ done: false, value: this.#take() });
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve(DONE);
        return new Promise((resolve, reject) => {
          this.#wait = { all: false, resolve: resolve as (v: never) => void, reject };
        });
      },
      return: () => {
        this.destroy();
        return Promise.resolve(DONE);
      },
    };
  }

  text(): Promise<string> {
    return this.#all().then(decode);
  }

  #all(): Promise<Buffer[]> {
    // What was queued before the failure is dropped: a body read whole is all or nothing.
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(this.#drain());
    const all = new Promise<Buffer[]>((resolve, reject) => {
      this.#wait = { all: true, resolve: resolve as (v: never) => void, reject };
    });
    // After the wait is set: resuming parses what the socket buffered at once, maybe up to the body's end.
    if (this.#paused) {
      this.#paused = false;
      this.#resume?.();
    }
    return all;
  }

  dump(): Promise<void> {
    if (this.#ended || this.#error !== undefined) return Promise.resolve();
    this.#dumped = this.#queued;
    this.#drain();
    return this.#all().then(
      () => undefined,
      () => undefined,
    );
  }

  destroy(err?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#drain();
    if (this.#ended || this.#error !== undefined) return;
    const reason = err ?? cancelled();
    const abort = this.#abort;
    this.#fail(reason);
    abort?.(reason);
  }
}

/** An answer whose headers are decoded only when read: on the hot path only the status is. */
class Answer implements HttpResponse {
  #raw: Buffer[] | undefined;
  #headers: Record<string, string | string[] | undefined> | undefined;

  constructor(
    readonly status: number,
    raw: Buffer[],
    readonly body: HttpBody,
  ) {
    // undici hands over views of the network read, which nothing reuses: kept as they are until asked for.
    this.#raw = raw;
  }

  get headers(): Record<string, string | string[] | undefined> {
    if (this.#headers === undefined) {
      this.#headers = parseHeaders(this.#raw ?? []);
      this.#raw = undefined;
    }
    return this.#headers;
  }
}

/** undici's raw `[name, value, …]` as an object: lower-cased names, a repeated header as an array. */
function parseHeaders(raw: Buffer[]): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1').toLowerCase();
    const value = (raw[i + 1] as Buffer).toString('latin1');
    if (name === '__proto__') continue; // no real header; it would replace the object's prototype
    const had = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (had === undefined) headers[name] = value;
    else if (typeof had === 'string') headers[name] = [had, value];
    else had.push(value);
  }
  return headers;
}

function decode(parts: Buffer[]): string {
  const text = (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Creates the client's HTTP transport; timeouts beyond connect are enforced by the caller's signal. */
export function createHttp(opts: { connectMs: number }): Http {
  const agent = new Agent({
    connect: { timeout: opts.connectMs },
    keepAliveTimeout: 10_000,
    // The router owns deadlines (total budget, first chunk, idle) through the request's signal.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let closed = false;
  return {
    send(req) {
      if (req.signal.aborted) return Promise.reject(req.signal.reason);
      return new Promise((resolve, reject) => {
        const exchange = new Exchange(req.signal, resolve, reject);
        try {
          agent.dispatch(
            {
              origin: req.origin,
              path: req.path,
              method: req.method,
              headers: req.headers,
              body: req.body ?? null,
            },
            exchange,
          );
        } catch (err) {
          exchange.onError(err as Error);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      // destroy, not close: in-flight streams were already settled by the client; don't wait on keep-alive.
      await agent.destroy();
    },
  };
}
