/**
 * Parts bench variant of `src/wire/cancel.ts`: each attempt's cancel handle is a real AbortController, and
 * requests listen to its AbortSignal. Same exports; the router still learns through `cancelOf` that a built-in
 * adapter passes the signal on (so it is not raced), so only the token itself is compared.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
}

const TOKEN = Symbol('mana-llm.cancel');

export class CancelToken implements CancelSignal {
  readonly #controller = new AbortController();
  claimed = false;

  get aborted(): boolean {
    return this.#controller.signal.aborted;
  }

  get reason(): unknown {
    return this.#controller.signal.reason;
  }

  context(): { readonly signal: AbortSignal } {
    return { signal: this.#controller.signal, [TOKEN]: this } as { readonly signal: AbortSignal };
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }

  on(_event: 'abort', fn: () => void): this {
    this.#controller.signal.addEventListener('abort', fn, { once: true });
    return this;
  }

  once(event: 'abort', fn: () => void): this {
    return this.on(event, fn);
  }

  removeListener(_event: 'abort', fn: () => void): this {
    this.#controller.signal.removeEventListener('abort', fn);
    return this;
  }

  off(event: 'abort', fn: () => void): this {
    return this.removeListener(event, fn);
  }
}

export function cancelOf(ctx: { readonly signal: AbortSignal }): CancelSignal {
  const token = (ctx as { [TOKEN]?: CancelToken })[TOKEN];
  if (token) token.claimed = true;
  return ctx.signal;
}
