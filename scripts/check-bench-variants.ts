/**
 * `npm run lint` step: fails when a variant of `bench/parts.ts` no longer builds against src/ — a file it swaps in
 * is missing from bench/parts/, or a patch's text is no longer in the file it patches. Such a variant would only
 * fail when someone next runs the parts bench to measure a hand-made part again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { patched, VARIANTS } from '../bench/variants.js';

const problems: string[] = [];
for (const v of VARIANTS) {
  const files = v.files ?? {};
  for (const [target, alt] of Object.entries(files)) {
    if (!existsSync(join('bench/parts', alt)))
      problems.push(`variant ${v.id}: bench/parts/${alt} is missing`);
    if (!v.removed && !existsSync(join('src', target)))
      problems.push(`variant ${v.id}: src/${target} is gone`);
  }
  for (const file of new Set(v.patches?.map((p) => p.file))) {
    // A patch may apply to a file the variant swapped in.
    const alt = files[file];
    const path = alt === undefined ? join('src', file) : join('bench/parts', alt);
    try {
      patched(v, file, readFileSync(path, 'utf8'));
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
}
if (problems.length > 0) {
  console.error(`bench/variants.ts: ${problems.length} variant problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`bench variants: ${VARIANTS.length} apply to src/`);
