import { execSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { createManaLLM } from '../src/index.js';

/**
 * Extracts src/ as it was at `commit` into bench/.builds/<commit>[-<copy>] and returns its `src/index.ts` (run with
 * tsx). Each `copy` is its own directory, so the same commit can be imported twice as two module graphs.
 */
export function extractAt(commit: string, copy = 0): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = join(root, 'bench/.builds', copy === 0 ? commit : `${commit}-${copy}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execSync(`git archive ${commit} src | tar -x -C ${JSON.stringify(dir)}`, { cwd: root });
  return join(dir, 'src/index.ts');
}

/** `createManaLLM` of another copy of src/ (its `index.ts`), imported as its own module graph. */
export async function createFrom(entry: string): Promise<typeof createManaLLM> {
  return ((await import(pathToFileURL(entry).href)) as { createManaLLM: typeof createManaLLM }).createManaLLM;
}
