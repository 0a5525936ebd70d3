import type { StreamPartial } from '../errors.js';
import type { ChatChunk, Usage } from '../types.js';

/** Tool calls kept for the partial answer; later indexes are dropped (the answer is marked truncated). */
const MAX_TOOL_CALLS = 32;

/**
 * The last `max` characters of a text appended to piece by piece: pieces are kept as they came and dropped from the
 * front once the rest still holds `max` characters, so an append never copies text (a string that is sliced and
 * appended to again is copied each time, which made a 100 MB stream spend seconds here).
 */
class TextTail {
  #pieces: string[] = [];
  #head = 0;
  #length = 0;
  truncated = false;

  constructor(readonly max: number) {}

  append(text: string): void {
    this.#pieces.push(text);
    this.#length += text.length;
    const pieces = this.#pieces;
    while (this.#length - (pieces[this.#head] as string).length >= this.max) {
      this.#length -= (pieces[this.#head] as string).length;
      pieces[this.#head++] = '';
      this.truncated = true;
    }
    // Compact the array now and then so that dropped pieces do not pile up as empty slots.
    if (this.#head > 64 && this.#head * 2 > pieces.length) {
      this.#pieces = pieces.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The last `max` characters. */
  text(): string {
    const all = this.#pieces.slice(this.#head).join('');
    if (all.length <= this.max) return all;
    this.truncated = true;
    return all.slice(-this.max);
  }
}

interface ToolCall {
  index: number;
  id?: string;
  name?: string;
  arguments: TextTail;
}

/**
 * What a committed stream handed out, bounded: the last `maxChars` characters of text (and of a refusal), and at
 * most 32 tool calls
 * (by index) with the last `maxChars` characters of each one's arguments. An upstream that streams without end
 * would otherwise grow one string until V8 refuses it (a RangeError at ~512 MiB).
 */
export class PartialAnswer {
  readonly #max: number;
  readonly #content: TextTail;
  readonly #refusal: TextTail;
  #truncated = false;
  readonly #calls = new Map<number, ToolCall>();
  usage: Usage | undefined;

  constructor(maxChars: number) {
    this.#max = maxChars;
    this.#content = new TextTail(maxChars);
    this.#refusal = new TextTail(maxChars);
  }

  /** Adds one chunk the consumer received. */
  add(c: ChatChunk): void {
    if (c.usage) this.usage = c.usage;
    const d = c.choices[0]?.delta;
    if (!d) return;
    if (d.content) this.#content.append(d.content);
    if (d.refusal) this.#refusal.append(d.refusal);
    if (!d.tool_calls) return;
    for (const t of d.tool_calls) {
      let call = this.#calls.get(t.index);
      if (!call) {
        if (this.#calls.size >= MAX_TOOL_CALLS) {
          this.#truncated = true;
          continue;
        }
        call = { index: t.index, arguments: new TextTail(this.#max) };
        this.#calls.set(t.index, call);
      }
      if (t.id) call.id = t.id;
      if (t.function?.name) call.name = t.function.name;
      if (t.function?.arguments) call.arguments.append(t.function.arguments);
    }
  }

  /** The partial answer: `truncated` when anything was cut from it. */
  snapshot(): StreamPartial {
    const content = this.#content.text();
    const refusal = this.#refusal.text();
    let truncated = this.#truncated || this.#content.truncated || this.#refusal.truncated;
    const toolCalls = [...this.#calls.values()].map(({ arguments: args, ...call }) => {
      const text = args.text();
      if (args.truncated) truncated = true;
      return { ...call, arguments: text };
    });
    const partial: StreamPartial = refusal === '' ? { content, toolCalls } : { content, refusal, toolCalls };
    return truncated ? { ...partial, truncated: true } : partial;
  }
}

/**
 * What the consumer of a stream received: whole batches are kept as they are and added up into the partial answer
 * only when needed (or past 512 chunks, to bound memory), so a stream that ends well never pays for it.
 */
export class HandedOut {
  readonly #partial: PartialAnswer;
  #batches: ChatChunk[][] = [];
  #count = 0;

  constructor(maxChars: number) {
    this.#partial = new PartialAnswer(maxChars);
  }

  /** Records the first `n` chunks of `batch` as handed out. */
  add(batch: ChatChunk[], n: number): void {
    if (n === 0) return;
    this.#batches.push(n === batch.length ? batch : batch.slice(0, n));
    this.#count += n;
    if (this.#count > 512) this.#settle();
  }

  /** The partial answer; when a chunk breaks the bookkeeping, the chunks not yet added up are left out. */
  snapshot(): StreamPartial {
    try {
      this.#settle();
    } catch {
      // The chunk that broke it cannot go into the partial answer either.
      this.#batches = [];
      this.#count = 0;
    }
    return this.#partial.snapshot();
  }

  /** The usage the stream reported last, if any. */
  usage(): Usage | undefined {
    for (let i = this.#batches.length - 1; i >= 0; i--) {
      const batch = this.#batches[i] as ChatChunk[];
      for (let j = batch.length - 1; j >= 0; j--) {
        const usage = (batch[j] as ChatChunk).usage;
        if (usage) return usage;
      }
    }
    return this.#partial.usage;
  }

  #settle(): void {
    for (const batch of this.#batches) for (const c of batch) this.#partial.add(c);
    this.#batches = [];
    this.#count = 0;
  }
}
