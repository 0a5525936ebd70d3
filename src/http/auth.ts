import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A key check that takes the same time whatever the key: every candidate is hashed (equal lengths) and compared
 * with every accepted key, without stopping at the first match.
 */
export function keyCheck(keys: readonly string[]): (presented: string | undefined) => boolean {
  const accepted = keys.map(digest);
  return (presented) => {
    if (presented === undefined) return false;
    const d = digest(presented);
    let ok = false;
    for (const a of accepted) ok = timingSafeEqual(a, d) || ok;
    return ok;
  };
}

/** The key a request presents: `Authorization: Bearer <key>` first, else `X-API-Key`. */
export function presentedKey(header: (name: string) => string | undefined): string | undefined {
  const auth = header('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return header('x-api-key')?.trim() || undefined;
}
