import { type IssueList, isList, kindOf, shown } from './issue-list.js';
import { isJsonObject as isObject } from './providers/json-shapes.js';

/**
 * The per-call checks of a chat request's `messages` (validate-request.ts runs them): roles, content and its parts,
 * an assistant's tool calls, a tool message's call id.
 */

const IMAGE_URL = /^(?:https?:|data:)/i;
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const ROLE_MSG = `must be one of ${[...ROLES].join(', ')}`;

// Paths are built only when an issue is found: a valid call allocates no strings.
function partPath(i: number, j: number): string {
  return `messages[${i}].content[${j}]`;
}

function checkParts(parts: unknown[], i: number, images: boolean, out: IssueList): void {
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j];
    if (!isObject(p)) {
      out.add(partPath(i, j), `must be a content part object, got ${kindOf(p)}`);
    } else if (p.type === 'text') {
      if (typeof p.text !== 'string')
        out.add(`${partPath(i, j)}.text`, `must be a string, got ${kindOf(p.text)}`);
    } else if (p.type === 'image_url' && images) {
      const img = p.image_url;
      if (!isObject(img)) out.add(`${partPath(i, j)}.image_url`, 'must be an object { url }');
      else if (typeof img.url !== 'string' || !IMAGE_URL.test(img.url))
        out.add(`${partPath(i, j)}.image_url.url`, 'must be an http(s) or data: URL string');
    } else {
      const allowed = images ? '"text" or "image_url"' : '"text" (images go in user messages)';
      out.add(`${partPath(i, j)}.type`, `must be ${allowed}, got ${shown(p.type)}`);
    }
  }
}

function checkContent(content: unknown, i: number, role: string, out: IssueList): void {
  if (typeof content === 'string') return;
  if (Array.isArray(content)) {
    checkParts(content, i, role === 'user', out);
    return;
  }
  if (role === 'assistant' && (content === null || content === undefined)) return;
  out.add(`messages[${i}].content`, `must be a string or an array of content parts, got ${kindOf(content)}`);
}

function checkToolCalls(calls: unknown, i: number, out: IssueList): void {
  if (!Array.isArray(calls)) {
    out.add(`messages[${i}].tool_calls`, `must be an array of tool calls, got ${kindOf(calls)}`);
    return;
  }
  for (let j = 0; j < calls.length; j++) {
    const c = calls[j];
    const at = () => `messages[${i}].tool_calls[${j}]`;
    if (!isObject(c)) {
      out.add(at(), `must be a tool call object, got ${kindOf(c)}`);
      continue;
    }
    if (typeof c.id !== 'string') out.add(`${at()}.id`, 'must be a string');
    if (c.type !== undefined && c.type !== 'function') out.add(`${at()}.type`, 'must be "function"');
    const f = c.function;
    if (!isObject(f)) out.add(`${at()}.function`, 'must be an object { name, arguments }');
    else {
      if (typeof f.name !== 'string' || f.name === '')
        out.add(`${at()}.function.name`, 'must be a non-empty string');
      if (typeof f.arguments !== 'string')
        out.add(`${at()}.function.arguments`, 'must be a string (JSON text), as the model produced it');
    }
  }
}

export function checkMessages(messages: unknown, out: IssueList): void {
  if (!isList(messages, 'messages', 'an array of messages', 'message', out)) return;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m)) {
      out.add(`messages[${i}]`, `must be a message object, got ${kindOf(m)}`);
      continue;
    }
    const role = m.role;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      const got = role === undefined ? `is required: ${ROLE_MSG}` : `${ROLE_MSG}, got ${shown(role)}`;
      out.add(`messages[${i}].role`, got);
      continue;
    }
    checkContent(m.content, i, role, out);
    if (m.name !== undefined && typeof m.name !== 'string')
      out.add(`messages[${i}].name`, 'must be a string');
    if (role === 'assistant' && m.tool_calls !== undefined) checkToolCalls(m.tool_calls, i, out);
    if (role === 'tool' && (typeof m.tool_call_id !== 'string' || m.tool_call_id === ''))
      out.add(`messages[${i}].tool_call_id`, 'is required on a tool message: the id of the call it answers');
  }
}
