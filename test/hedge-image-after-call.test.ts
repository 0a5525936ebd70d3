// A hedge whose entry was still fetching the call's images when another attempt served the call: that image fetch
// failing afterwards changes nothing the caller or the host can see.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../src/index.js';
import { openaiCodec } from '../src/testing/index.js';
import { closeAll, harness, KEY, localServer, waitFor } from './helpers/client.js';
import { nextCallHedges } from './helpers/hedge.js';
import { rawUpstream } from './helpers/raw-upstream.js';

afterEach(closeAll);

const PNG_START = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

/** An image server that sends the start of a PNG and holds the rest: `fail()` then breaks every response off. */
async function slowFailingImageServer(): Promise<{ url: string; readonly hits: number; fail(): void }> {
  const held: ServerResponse[] = [];
  const port = await localServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000' }).write(PNG_START);
    held.push(res);
  });
  return {
    url: `http://127.0.0.1:${port}/cat.png`,
    get hits() {
      return held.length;
    },
    fail: () => {
      for (const res of held) res.destroy();
    },
  };
}

describe('a hedge still getting the images when the call is served', () => {
  it('its image fetch failing afterwards emits nothing, changes no health, and its token is given back', async () => {
    const img = await slowFailingImageServer();
    let held: { model: string; res: ServerResponse } | undefined;
    // `a` passes image URLs on and holds its first request; `o` (Ollama) must fetch the images first.
    const a = await rawUpstream((text, res) => {
      if (held === undefined) held = { model: (JSON.parse(text) as { model: string }).model, res };
    });
    const { llm, clock, up, events } = await harness({
      upstreams: { o: 'ollama' },
      providers: { a: { type: 'openai', baseUrl: a.url, apiKey: KEY } },
      aliases: { 'mana/v': { chain: ['a/m', 'o/llava'], hedge: { afterMs: 300 } } },
      // One token, never refilled: a hedge whose token is lost leaves no other.
      options: { images: { fetch: 'all', timeoutMs: 5_000 }, hedging: { budgetMax: 1, budgetRatio: 0 } },
    });
    const withImage: ChatRequest = {
      model: 'mana/v',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img.url } }] }],
    };
    const first = llm.chat(withImage);
    await waitFor(() => a.received === 1, 'the first call at a');
    await clock.advanceAsync(300);
    await waitFor(() => img.hits === 1, "the hedge's image fetch");
    held!.res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(openaiCodec.chat({ reply: 'a cat' }, held!.model)));
    expect((await first).model).toBe('a/m');
    const health = llm.health();
    const seen = events.all.length;

    // The call is over; the image server now breaks off, and the image's whole time runs out on the clock.
    img.fail();
    await new Promise((r) => setTimeout(r, 50));
    await clock.advanceAsync(5_000);
    expect(events.all.slice(seen)).toEqual([]);
    expect(llm.health()).toEqual(health);
    expect(events.of('hedge')).toHaveLength(0);
    expect(up.o?.count()).toBe(0);

    // The next slow call hedges: the token was never spent on the hedge that did not start.
    await nextCallHedges(llm, a, clock, events);
  });
});
