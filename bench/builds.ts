import { execSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Extracts src/ as it was at `commit` into bench/.builds/<commit> and returns that folder (run it with tsx). */
export function extractAt(commit: string): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = join(root, 'bench/.builds', commit);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execSync(`git archive ${commit} src | tar -x -C ${JSON.stringify(dir)}`, { cwd: root });
  return dir;
}
