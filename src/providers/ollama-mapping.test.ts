import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textOfLine } from './ollama-mapping.js';

/** What the adapter reads from a line the slow way: the text of a line that carries only text, else undefined. */
function parsed(line: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const j = json as Record<string, unknown>;
  const keys = Object.keys(j).join();
  const msg = j.message as Record<string, unknown> | undefined;
  if (keys !== 'model,created_at,message,done' || j.done !== false || typeof msg !== 'object' || msg === null)
    return undefined;
  if (Object.keys(msg).join() !== 'role,content' || msg.role !== 'assistant') return undefined;
  return typeof msg.content === 'string' && msg.content !== '' ? msg.content : undefined;
}

const textLine = (model: string, at: string, content: string) =>
  JSON.stringify({ model, created_at: at, message: { role: 'assistant', content }, done: false });

describe('textOfLine', () => {
  it("reads Ollama's text lines like JSON.parse, whatever the text holds (quotes, escapes, unicode)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ unit: 'binary' }), (model, at, content) => {
        const line = textLine(model, at, content);
        const text = textOfLine(line);
        // The fast read may decline (escapes in model or timestamp) but never disagrees with JSON.parse.
        if (text !== undefined) expect(text).toBe(content);
        // Model and timestamp that JSON writes without escapes: the fast read always takes the line.
        const plain = JSON.stringify(model + at) === `"${model + at}"`;
        if (plain && content !== '') expect(text).toBe(content);
      }),
    );
  });

  it('accepts nothing that JSON.parse would not read as the same text line (mutated lines)', () => {
    const base = textLine('llama3.2:latest', '2024-07-22T20:33:28.123648Z', 'say "hi"\n\\ \u00e9');
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat(),
            cut: fc.nat({ max: 3 }),
            insert: fc.constantFrom('', '"', '\\', '}', ',', ' ', '\n', 'x', '\\"', '","thinking":"'),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (edits) => {
          let line = base;
          for (const e of edits) {
            const i = e.at % (line.length + 1);
            line = line.slice(0, i) + e.insert + line.slice(i + e.cut);
          }
          const text = textOfLine(line);
          if (text !== undefined) expect(text).toBe(parsed(line));
        },
      ),
    );
  });

  it('declines every other kind of line: empty text, thinking, tool calls, done, errors, other fields', () => {
    const at = '2024-07-22T20:33:28.123648Z';
    const line = (message: object, top: object = {}) =>
      JSON.stringify({ model: 'm', created_at: at, message: { role: 'assistant', ...message }, ...top });
    for (const l of [
      line({ content: '' }, { done: false }),
      line({ content: '', thinking: 'x' }, { done: false }),
      line({ content: 'a', tool_calls: [] }, { done: false }),
      line({ content: 'a' }, { done: true }),
      line({ content: 'a' }, { done: false, error: 'x' }),
      JSON.stringify({
        model: 'm',
        remote_model: 'r',
        created_at: at,
        message: { content: 'a' },
        done: false,
      }),
      JSON.stringify({ error: 'boom', status: 503 }),
      `${textLine('m', at, 'a')}}`,
      ` ${textLine('m', at, 'a')}`,
    ]) {
      expect(textOfLine(l), l).toBeUndefined();
    }
  });
});
