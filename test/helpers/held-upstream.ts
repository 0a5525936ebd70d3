import type { ServerResponse } from 'node:http';
import { openaiCodec } from '../../src/testing/index.js';
import { rawUpstream } from './raw-upstream.js';

/** An OpenAI-compatible upstream that holds every request until the test answers it (after moving the clock). */
export async function heldUpstream() {
  const held: { body: { model: string; stream?: boolean; input?: string[] }; res: ServerResponse }[] = [];
  const raw = await rawUpstream((text, res) => void held.push({ body: JSON.parse(text), res }));
  const next = () => {
    const h = held.shift();
    if (!h) throw new Error('no request held');
    return h;
  };
  return {
    url: raw.url,
    get held() {
      return held.length;
    },
    /** Answers the oldest held request in full. */
    answer(): void {
      const { body, res } = next();
      if (body.stream) {
        const f = openaiCodec.stream({ reply: 'abc', chunks: 3 }, body.model);
        res.writeHead(200, { 'content-type': f.contentType });
        res.end([...f.prelude, ...f.content, ...f.end].join(''));
        return;
      }
      const json = body.input
        ? openaiCodec.embed(3, body.input, body.model)
        : openaiCodec.chat({ reply: 'ok' }, body.model);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    },
    /** Sends a held stream's first content chunk only; `end` sends the rest. */
    startStream(): { end(): void } {
      const { body, res } = next();
      const f = openaiCodec.stream({ reply: 'abc', chunks: 3 }, body.model);
      res.writeHead(200, { 'content-type': f.contentType });
      res.write([...f.prelude, f.content[0]].join(''));
      return { end: () => res.end([...f.content.slice(1), ...f.end].join('')) };
    },
    /** Answers the oldest held request (the newest with `newest`) with an HTTP 500. */
    fail(newest = false): void {
      const h = newest ? held.pop() : next();
      if (!h) throw new Error('no request held');
      const { res } = h;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"boom"}}');
    },
  };
}
