import type { ManaLLM } from '../client.js';

/**
 * `health`: waits for the first probe of every configured provider and prints a table; 1 when one is not up. A
 * provider in `unprobed` (configured with `probe: false`) is shown as such, neither waited for nor counted.
 */
export async function health(
  llm: ManaLLM,
  out: NodeJS.WriteStream,
  unprobed: ReadonlySet<string>,
): Promise<number> {
  // The client's prober ticks once right after start: wait for each probed provider's first result.
  const ids = Object.keys(llm.health().providers);
  const waited = ids.filter((id) => !unprobed.has(id)).length;
  const results = new Map<string, { ok: boolean; durationMs: number; error?: string }>();
  await new Promise<void>((done) => {
    if (waited === 0) return done();
    // A ref'd timer: the client's own timers are unref'd and would not keep the CLI alive while it waits.
    const limit = setTimeout(done, 10_000);
    llm.on('probe', (p) => {
      results.set(p.provider, p);
      if (results.size === waited) {
        clearTimeout(limit);
        done();
      }
    });
  });
  const rows = ids.map((id) => {
    if (unprobed.has(id)) return [id, 'probe off', '-', ''];
    const r = results.get(id);
    return [id, r ? (r.ok ? 'up' : 'down') : 'no answer', r ? `${r.durationMs}ms` : '-', r?.error ?? ''];
  });
  const table = [['provider', 'status', 'probe', 'note'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => (r[i] ?? '').length), 8));
  for (const r of table) out.write(`${widths.map((w, i) => (r[i] ?? '').padEnd(w)).join('  ')}  ${r[3]}\n`);
  return rows.every((r) => r[1] === 'up' || r[1] === 'probe off') ? 0 : 1;
}
