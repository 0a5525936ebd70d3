import { createHash } from 'node:crypto';
import type { CallKind } from '../events.js';

/** JSON with every object's keys sorted, so equal requests give equal text whatever order their fields came in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  // No prototype: a key like "__proto__" stays an ordinary key.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The cache key of a call: sha256 of the call kind, the resolved alias or `provider/model`, and the request
 * without `model` (embedding input normalised to a list), as stable JSON.
 */
export function cacheKey(kind: CallKind, resolved: string, request: object): string {
  const { model: _model, ...rest } = request as Record<string, unknown>;
  if (kind === 'embed' && typeof rest.input === 'string') rest.input = [rest.input];
  return createHash('sha256')
    .update(`${kind}\n${resolved}\n${stableJson(rest)}`)
    .digest('hex');
}
