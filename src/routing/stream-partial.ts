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
 * What the consumer of a stream received, added up as it is handed out and bounded: the last `maxChars` characters
 * of text (and of a refusal), and at most 32 tool calls (by index) with the last `maxChars` characters of each one's
 * arguments. An upstream that streams without end would otherwise grow one string until V8 refuses it (a RangeError
 * at ~512 MiB). Chunks are not kept: holding every chunk object until the stream ends made them outlive the young
 * generation, and a paced stream then paid for them in garbage collection (bench/README.md, "realistic stream").
 */
export class HandedOut {
  readonly #content: TextTail;
  readonly #refusal: TextTail;
  #truncated = false;
  readonly #calls = new Map<number, ToolCall>();
  #usage: Usage | undefined;

  constructor(maxChars: number) {
    this.#content = new TextTail(maxChars);
    this.#refusal = new TextTail(maxChars);
  }

  /** Records the first `n` chunks of `batch` as handed out. */
  add(batch: ChatChunk[], n: number): void {
    for (let i = 0; i < n; i++) this.#add(batch[i] as ChatChunk);
  }

  #add(c: ChatChunk): void {
    if (c.usage) this.#usage = c.usage;
    const choice = c.choices[0];
    // With several choices (`n` > 1) the partial answer is the first one's: never two answers' text in one.
    if (!choice || (choice.index !== 0 && choice.index !== undefined)) return;
    const d = choice.delta;
    if (!d) return;
    // Typed checks: a custom adapter's chunk is not validated, and a bad one must not break the stream here.
    if (typeof d.content === 'string' && d.content !== '') this.#content.append(d.content);
    if (typeof d.refusal === 'string' && d.refusal !== '') this.#refusal.append(d.refusal);
    if (!Array.isArray(d.tool_calls)) return;
    for (const t of d.tool_calls) {
      if (t === null || typeof t !== 'object') continue;
      let call = this.#calls.get(t.index);
      if (!call) {
        if (this.#calls.size >= MAX_TOOL_CALLS) {
          this.#truncated = true;
          continue;
        }
        call = { index: t.index, arguments: new TextTail(this.#content.max) };
        this.#calls.set(t.index, call);
      }
      if (typeof t.id === 'string' && t.id !== '') call.id = t.id;
      const fn = t.function;
      if (typeof fn?.name === 'string' && fn.name !== '') call.name = fn.name;
      if (typeof fn?.arguments === 'string' && fn.arguments !== '') call.arguments.append(fn.arguments);
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

  /** The usage the stream reported last, if any. */
  usage(): Usage | undefined {
    return this.#usage;
  }
}
