import {
  type LanguageModelV3FilePart,
  type LanguageModelV3Prompt,
  type LanguageModelV3ToolResultOutput,
  UnsupportedFunctionalityError,
} from '@ai-sdk/provider';
import type { ChatMessage, ContentPart, ToolCall, ToolCallExtra } from '../types.js';

/** An image as an `image_url`: URLs as they are (mana-llm fetches them per its `images.fetch`), bytes as `data:`. */
function filePart({ data, mediaType }: LanguageModelV3FilePart): ContentPart {
  if (!mediaType.startsWith('image/'))
    throw new UnsupportedFunctionalityError({ functionality: `file parts of type ${mediaType}` });
  if (data instanceof URL) return { type: 'image_url', image_url: { url: data.toString() } };
  // A wildcard type (the SDK did not know it) still needs a concrete one in a data URL.
  const type = mediaType.includes('*') ? 'image/jpeg' : mediaType;
  const base64 = typeof data === 'string' ? data : Buffer.from(data).toString('base64');
  return { type: 'image_url', image_url: { url: `data:${type};base64,${base64}` } };
}

/** A tool result as the text of a `tool` message. */
function toolOutput(output: LanguageModelV3ToolResultOutput): string {
  switch (output.type) {
    case 'text':
    case 'error-text':
      return output.value;
    case 'json':
    case 'error-json':
      return JSON.stringify(output.value);
    case 'execution-denied':
      return output.reason ?? 'Tool execution denied.';
    case 'content': {
      const texts = output.value.filter((p) => p.type === 'text');
      if (texts.length !== output.value.length) {
        throw new UnsupportedFunctionalityError({ functionality: 'tool results with media content' });
      }
      return texts.map((p) => p.text).join('');
    }
  }
}

/** What a provider needs back with a tool call (Gemini's thought signature), as the answer carried it. */
function extraContent(providerOptions: unknown): ToolCallExtra | undefined {
  const extra = (providerOptions as { mana?: { extraContent?: unknown } } | undefined)?.mana?.extraContent;
  return typeof extra === 'object' && extra !== null ? (extra as ToolCallExtra) : undefined;
}

/**
 * The AI SDK prompt as OpenAI chat messages: system, user (text and images), assistant (text and tool calls;
 * reasoning is not sent back), and one `tool` message per tool result.
 * @throws UnsupportedFunctionalityError for non-image files and media tool results
 */
export function toChatMessages(prompt: LanguageModelV3Prompt): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const message of prompt) {
    switch (message.role) {
      case 'system':
        out.push({ role: 'system', content: message.content });
        break;
      case 'user': {
        // A new text part: the AI SDK's one also carries its own `providerOptions`, which no upstream takes.
        const parts = message.content.map(
          (p): ContentPart => (p.type === 'text' ? { type: 'text', text: p.text } : filePart(p)),
        );
        const onlyText = parts.every((p) => p.type === 'text');
        out.push({
          role: 'user',
          content: onlyText ? parts.map((p) => (p as { text: string }).text).join('') : parts,
        });
        break;
      }
      case 'assistant': {
        let text = '';
        const calls: ToolCall[] = [];
        for (const part of message.content) {
          if (part.type === 'text') text += part.text;
          else if (part.type === 'file') {
            throw new UnsupportedFunctionalityError({ functionality: 'files in assistant messages' });
          } else if (part.type === 'tool-call' && !part.providerExecuted) {
            const extra = extraContent(part.providerOptions);
            calls.push({
              id: part.toolCallId,
              type: 'function',
              function: {
                name: part.toolName,
                arguments: typeof part.input === 'string' ? part.input : JSON.stringify(part.input ?? {}),
              },
              ...(extra === undefined ? {} : { extra_content: extra }),
            });
          }
          // Reasoning and provider-executed tool results are the model's own; upstreams do not take them back.
        }
        out.push(
          calls.length > 0
            ? { role: 'assistant', content: text || null, tool_calls: calls }
            : { role: 'assistant', content: text },
        );
        break;
      }
      case 'tool':
        for (const part of message.content) {
          if (part.type !== 'tool-result') continue;
          out.push({ role: 'tool', tool_call_id: part.toolCallId, content: toolOutput(part.output) });
        }
        break;
    }
  }
  return out;
}
