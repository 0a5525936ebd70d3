import { ProviderTimeoutError } from '../errors.js';
import { textOf } from '../redact.js';
import { AttemptSignal } from './attempt.js';
import type { RouterContext } from './context.js';

/** What `models()` returns: every configured provider's models, best effort. */
export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; owned_by: string }[];
  errors: { provider: string; error: string }[];
}

/**
 * Every configured provider's model list, best effort: a provider that fails or does not answer within
 * `timeouts.totalMs` is named in `errors`.
 * @throws the signal's reason, ClosedError
 */
export async function listModels(ctx: RouterContext, signal: AbortSignal | undefined): Promise<ModelList> {
  const out: ModelList = { object: 'list', data: [], errors: [] };
  // One attempt signal for all providers: the caller's abort, close() and the deadline on the injected clock.
  const attempt = new AttemptSignal(ctx, signal);
  const { totalMs } = ctx.opts.timeouts;
  attempt.arm(totalMs, () =>
    attempt.expire(
      new ProviderTimeoutError(`model list: no answer within ${totalMs}ms`, { provider: '', model: '' }),
    ),
  );
  const lists = await Promise.allSettled(
    [...ctx.providers.values()].map(async (slot) => {
      const names = await attempt.race(slot.adapter.models({ signal: attempt.token.signal }));
      // A custom adapter's answer is its own: anything but a list of names is that provider failing (in `errors`).
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
        throw new Error("the adapter's model list is not a list of names");
      return names;
    }),
  );
  const aborted = attempt.abortReason();
  attempt.end();
  if (aborted !== undefined) throw aborted;
  const ids = [...ctx.providers.keys()];
  lists.forEach((r, i) => {
    const provider = ids[i] as string;
    if (r.status === 'fulfilled') {
      for (const name of r.value)
        out.data.push({ id: `${provider}/${name}`, object: 'model', owned_by: provider });
    } else {
      out.errors.push({ provider, error: textOf(r.reason) });
    }
  });
  return out;
}
