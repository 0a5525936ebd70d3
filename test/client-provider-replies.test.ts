import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, collect, USER } from './helpers/client.js';
import { answeringWith } from './helpers/raw-upstream.js';

// Upstream replies whose fields are of the wrong type or value, read through the public API over real local HTTP
// (docs/choices.md, "Provider replies").

afterEach(closeAll);

const json = 'application/json';
/** An Anthropic stream event; `raw` replaces `"RAW"` in its JSON (for numbers JSON.stringify cannot write). */
const ev = (type: string, rest: object, raw?: string) => {
  const data = JSON.stringify({ type, ...rest });
  return `event: ${type}\ndata: ${raw === undefined ? data : data.replace('"RAW"', raw)}\n\n`;
};

describe('Anthropic stream: a bad count in message_delta', () => {
  it.each(['-1', '1.5', '1e999', '"7"'])(
    "output_tokens %s is read as missing: message_start's count stands",
    async (raw) => {
      const body = [
        ev('message_start', { message: { id: 'msg_1', usage: { input_tokens: 5, output_tokens: 2 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: 'Hi' } }),
        ev('content_block_stop', { index: 0 }),
        ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 'RAW' } }, raw),
        ev('message_stop', {}),
      ].join('');
      const llm = await answeringWith('anthropic', body, 'text/event-stream');
      const chunks = await collect(
        llm.stream({ model: 'a/m', messages: USER, stream_options: { include_usage: true } }),
      );
      expect(chunks.find((c) => c.usage)?.usage).toEqual({
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
      });
    },
  );
});
