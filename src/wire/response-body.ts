import type { Dispatcher } from 'undici';
import type { CancelSignal } from './cancel.js';
import type { BodyLimit, HttpBody, HttpResponse } from './http.js';
import { WireLimitError, type WireLimits } from './limits.js';

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

type Headers = HttpResponse['headers'];

/** What `destroy()` without a reason cancels with (undici's own code for an aborted request). */
function cancelled(): Error {
  return Object.assign(new Error('request cancelled'), { name: 'AbortError', code: 'UND_ERR_ABORTED' });
}

/**
 * One request's response body, fed by undici's dispatch handler interface (`onRequestStart` … `onResponseEnd`,
 * flow control through the controller's `pause`/`resume`/`abort`). undici's `request()` wraps each answer in a
 * Node Readable stream (plus an AsyncResource and a consumer for `.text()`): about 10 µs per call on this path,
 * more than the whole router. Here each network read goes straight to a waiting reader, or into a short queue,
 * and `.text()` joins the reads once, refusing any body past its cap before decoding a byte of it.
 */
export class ResponseBody implements HttpBody, Dispatcher.DispatchHandler {
  #resolve: ((res: HttpResponse) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  readonly #signal: Signal;
  readonly #limits: WireLimits;
  #controller: Dispatcher.DispatchController | undefined;
  /** The length the server announced, when it did. */
  #length = -1;
  /** While the whole body is being collected: the most it may hold. */
  #max = Number.POSITIVE_INFINITY;
  #option: keyof WireLimits = 'maxResponseBytes';
  #paused = false;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: unknown;
  #destroyed = false;
  #dumped = -1;
  /** The reader waiting for the next read (`next`), or with `#waitingAll`, for the end (`text`/`dump`). */
  #resolveWait: ((v: never) => void) | undefined;
  #rejectWait: ((err: unknown) => void) | undefined;
  #waitingAll = false;
  #settled: (() => void) | undefined;
  /** The executor of every wait: one function per body instead of a closure per network read. */
  readonly #waitFor = (resolve: (v: never) => void, reject: (err: unknown) => void): void => {
    this.#resolveWait = resolve;
    this.#rejectWait = reject;
  };

  constructor(
    signal: CancelSignal,
    limits: WireLimits,
    resolve: (res: HttpResponse) => void,
    reject: (err: unknown) => void,
    /** Runs once when the answer has ended or failed (what keeps the process alive lets go). */
    settled?: () => void,
  ) {
    this.#settled = settled;
    this.#signal = signal as Signal;
    this.#limits = limits;
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

  readonly #onAbort = (): void => {
    // What was queued is dropped: after an abort the reader gets nothing more but the reason.
    this.#drain();
    const reason = this.#signal.reason;
    if (this.#controller) this.#controller.abort(reason as Error);
    else this.#fail(reason);
  };

  /** The request is over (ended or failed): stops following the signal, lets the process go. */
  #unlisten(): void {
    this.#settled?.();
    this.#settled = undefined;
    const s = this.#signal;
    if (s.removeListener) s.removeListener('abort', this.#onAbort);
    else s.removeEventListener?.('abort', this.#onAbort);
  }

  // ── undici's handler side ──

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Nothing can destroy the body yet: its holder gets it at onResponseStart.
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error);
    else this.#controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Headers): void {
    if (status < 200) return; // 1xx: the answer is still to come
    const length = headers['content-length'];
    if (typeof length === 'string' && /^\d+$/.test(length)) this.#length = Number(length);
    const resolve = this.#resolve;
    this.#resolve = this.#reject = undefined;
    resolve?.({ status, headers, body: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#dumped >= 0) {
      this.#dumped += chunk.length;
      if (this.#dumped > DUMP_LIMIT) this.destroy();
      return;
    }
    const resolve = this.#resolveWait;
    if (resolve !== undefined && !this.#waitingAll) {
      this.#resolveWait = this.#rejectWait = undefined;
      (resolve as (v: IteratorResult<Uint8Array>) => void)({ done: false, value: chunk });
      return;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (resolve !== undefined) {
      // Collecting the whole body: past its cap the request is cancelled, nothing of it decoded.
      if (this.#queued > this.#max) this.destroy(this.#tooLarge());
      return;
    }
    if (this.#queued < HIGH_WATER) return;
    this.#paused = true;
    controller.pause();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#controller = undefined;
    this.#unlisten();
    const resolve = this.#resolveWait;
    if (resolve === undefined) return;
    this.#resolveWait = this.#rejectWait = undefined;
    if (!this.#waitingAll) (resolve as (v: IteratorResult<Uint8Array>) => void)(DONE);
    else (resolve as (v: Buffer[]) => void)(this.#drain());
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#controller = undefined;
    this.#fail(err);
  }

  #fail(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = err;
    this.#unlisten();
    const reject = this.#reject ?? this.#rejectWait;
    this.#resolve = this.#reject = this.#resolveWait = this.#rejectWait = undefined;
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
    if (this.#paused && this.#queued < HIGH_WATER) this.#resume();
    return chunk;
  }

  #resume(): void {
    this.#paused = false;
    this.#controller?.resume();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.#queue.length > 0) return Promise.resolve({ done: false, value: this.#take() });
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve(DONE);
        this.#waitingAll = false;
        return new Promise(this.#waitFor);
      },
      return: () => {
        this.destroy();
        return Promise.resolve(DONE);
      },
    };
  }

  text(limit: BodyLimit = 'maxResponseBytes'): Promise<string> {
    this.#max = this.#limits[limit];
    this.#option = limit;
    return this.#all().then(decode);
  }

  #tooLarge(): WireLimitError {
    return new WireLimitError('the reply', this.#max, this.#option);
  }

  #all(): Promise<Buffer[]> {
    // What was queued before the failure is dropped: a body read whole is all or nothing.
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#length > this.#max || this.#queued > this.#max) {
      // Announced or already queued past the cap: refused before a byte more is read.
      const err = this.#tooLarge();
      this.destroy(err);
      return Promise.reject(err);
    }
    if (this.#ended) return Promise.resolve(this.#drain());
    this.#waitingAll = true;
    const all = new Promise<Buffer[]>(this.#waitFor);
    // After the wait is set: resuming parses what the socket buffered at once, maybe up to the body's end.
    if (this.#paused) this.#resume();
    return all;
  }

  dump(): Promise<void> {
    if (this.#ended || this.#error !== undefined) return Promise.resolve();
    this.#dumped = this.#queued;
    this.#drain();
    this.#max = Number.POSITIVE_INFINITY;
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
    const controller = this.#controller;
    this.#controller = undefined;
    this.#fail(reason);
    controller?.abort(reason);
  }
}

function decode(parts: Buffer[]): string {
  const text = (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
