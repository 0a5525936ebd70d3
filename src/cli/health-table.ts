import type { createManaLLM } from '../create-mana-llm.js';

/** `health`: waits for the first probe of every configured provider and prints a table; 1 when one is not up. */
export async function health(
  llm: ReturnType<typeof createManaLLM>,
  out: NodeJS.WriteStream,
): Promise<number> {
  const rows: string[][] = [];
  // The client's prober ticks once right after start: wait for each provider's first result.
  const ids = Object.keys(llm.health().providers);
  const results = new Map<string, { ok: boolean; durationMs: number; error?: string }>();
  await new Promise<void>((done) => {
    // A ref'd timer: the client's own timers are unref'd and would not keep the CLI alive while it waits.
    const limit = setTimeout(done, 10_000);
    llm.on('probe', (p) => {
      results.set(p.provider, p);
      if (results.size === ids.length) {
        clearTimeout(limit);
        done();
      }
    });
  });
  for (const id of ids) {
    const r = results.get(id);
    rows.push([id, r ? (r.ok ? 'up' : 'down') : 'no answer', r ? `${r.durationMs}ms` : '-', r?.error ?? '']);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length), 8));
  out.write(`${['provider', 'status', 'probe'].map((h, i) => h.padEnd(widths[i] ?? 8)).join('  ')}  note\n`);
  for (const r of rows)
    out.write(
      `${r
        .slice(0, 3)
        .map((c, i) => c.padEnd(widths[i] ?? 8))
        .join('  ')}  ${r[3]}\n`,
    );
  return rows.every((r) => r[1] === 'up') ? 0 : 1;
}
