/**
 * Parts bench variant of `src/wire/sse.ts`: the same `SSEParser` surface on `eventsource-parser` (its
 * `maxBufferSize` keeps the frame cap), decoding with the platform's TextDecoder.
 */
// A computed specifier: the root typecheck runs where bench/ is not installed (see clients.ts).
const { createParser } = (await import(['eventsource', 'parser'].join('-'))) as {
  createParser(config: {
    onEvent(e: { event?: string | undefined; data: string }): void;
    onError(err: Error): void;
    maxBufferSize: number;
  }): EventSourceParser;
};
interface EventSourceParser {
  feed(chunk: string): void;
}

import { WireLimitError } from '../../src/wire/limits.js';

export interface SSEEvent {
  event?: string;
  data: string;
}

export class SSEParser {
  readonly #max: number;
  readonly #decoder = new TextDecoder();
  readonly #parser: EventSourceParser;
  #queue: SSEEvent[] = [];
  #at = 0;
  #tooLarge = false;
  event: string | undefined;

  constructor(maxFrame: number) {
    this.#max = maxFrame;
    this.#parser = createParser({
      onEvent: (e) => {
        this.#queue.push(e.event === undefined ? { data: e.data } : { event: e.event, data: e.data });
      },
      onError: (err) => {
        if ((err as { type?: string }).type === 'max-buffer-size-exceeded') this.#tooLarge = true;
      },
      maxBufferSize: maxFrame,
    });
  }

  feed(chunk: Uint8Array): void {
    this.#queue = [];
    this.#at = 0;
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
  }

  end(): void {
    this.#queue = [];
    this.#at = 0;
    const rest = this.#decoder.decode();
    if (rest !== '') this.#parser.feed(rest);
    // A final block without its blank line still counts.
    this.#parser.feed('\n\n');
  }

  next(): string | undefined {
    if (this.#tooLarge) throw new WireLimitError('a stream frame', this.#max, 'maxFrameBytes');
    const e = this.#queue[this.#at++];
    if (e === undefined) return undefined;
    this.event = e.event;
    return e.data;
  }
}

export async function* readSSE(body: AsyncIterable<Uint8Array>, maxFrame: number): AsyncGenerator<SSEEvent> {
  const parser = new SSEParser(maxFrame);
  for await (const chunk of body) {
    parser.feed(chunk);
    for (let data = parser.next(); data !== undefined; data = parser.next()) yield eventOf(parser, data);
  }
  parser.end();
  for (let data = parser.next(); data !== undefined; data = parser.next()) yield eventOf(parser, data);
}

function eventOf(parser: SSEParser, data: string): SSEEvent {
  const event = parser.event;
  return event === undefined ? { data } : { event, data };
}
