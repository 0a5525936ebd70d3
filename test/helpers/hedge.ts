import type { ServerResponse } from 'node:http';
import { expect } from 'vitest';
import type { ManaLLM } from '../../src/index.js';
import { type FakeClock, openaiCodec } from '../../src/testing/index.js';
import { type EventLog, type HarnessOptions, harness, KEY, USER, waitFor } from './client.js';
import { rawUpstream } from './raw-upstream.js';

/** An OpenAI-compatible upstream that holds every request until the test answers it. */
export async function heldUpstream() {
  const held: { model: string; res: ServerResponse }[] = [];
  const up = await rawUpstream((text, res) => {
    held.push({ model: (JSON.parse(text) as { model: string }).model, res });
  });
  const answer = (reply: string) => {
    const h = held.shift();
    if (!h) throw new Error('no request held');
    h.res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply }, h.model)));
  };
  return Object.assign(up, { answer });
}

/** A client whose chain is `ids` (each `<id>/m`), the given ones served by raw upstreams, the rest by mocks. */
export async function hedgeSetup(opts: {
  raw: Record<string, { url: string }>;
  mocks?: string[];
  hedge?: number | 'auto';
  options?: HarnessOptions;
  chain: string[];
}) {
  const providers = Object.fromEntries(
    Object.entries(opts.raw).map(([id, up]) => [
      id,
      { type: 'openai' as const, baseUrl: up.url, apiKey: KEY },
    ]),
  );
  const chain = opts.chain.map((id) => `${id}/m`);
  return harness({
    upstreams: Object.fromEntries((opts.mocks ?? []).map((id) => [id, 'openai' as const])),
    providers,
    aliases: {
      'mana/x': opts.hedge === undefined ? { chain } : { chain, hedge: { afterMs: opts.hedge } },
      'mana/e': opts.hedge === undefined ? { chain } : { chain, hedge: { afterMs: opts.hedge } },
    },
    ...(opts.options ? { options: opts.options } : {}),
  });
}

/**
 * The next call to `mana/v` (its first entry `a` holding it) hedges onto `o/llava` after 300 ms: the budget token an
 * earlier hedge did not spend was given back.
 */
export async function nextCallHedges(
  llm: ManaLLM,
  a: { readonly received: number },
  clock: FakeClock,
  events: EventLog,
): Promise<void> {
  const second = llm.chat({ model: 'mana/v', messages: USER });
  await waitFor(() => a.received === 2, 'the second call at a');
  await clock.advanceAsync(300);
  await waitFor(() => events.of('hedge').length === 1, "the second call's hedge");
  expect((await second).model).toBe('o/llava');
}
