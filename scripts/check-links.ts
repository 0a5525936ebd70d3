/**
 * Checks the links of the repository's markdown (README.md, CHANGELOG.md, bench/README.md, bench/HISTORY.md,
 * docs/**): every relative link must name a file or folder inside the repository that exists and is not ignored by
 * git (a fresh clone has it), and a `#fragment` must name a heading of the target page. Links that leave the repository (`../elsewhere/…`,
 * absolute paths, `file:` URLs) fail. Web links (http, https, mailto) are not fetched.
 *
 *   npx tsx scripts/check-links.ts        # run by `npm run lint`; exit 1 with one line per problem
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One broken link: where it is and what is wrong with it. */
export interface LinkProblem {
  readonly file: string;
  readonly line: number;
  readonly target: string;
  readonly problem: string;
}

/** The markdown files whose links are checked, relative to `root`: the READMEs, the changelog and docs/ (not docs/api). */
export function markdownFiles(root: string): string[] {
  const files = ['README.md', 'CHANGELOG.md', join('bench', 'README.md'), join('bench', 'HISTORY.md')].filter(
    (f) => existsSync(join(root, f)),
  );
  const walk = (dir: string): void => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // docs/api is typedoc's output: generated, ignored by git, not written by hand.
      if (entry.isDirectory() && path !== join('docs', 'api')) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** Links of a markdown text with their line numbers, outside fenced code blocks and code spans. */
export function extractLinks(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    const line = raw.replace(/`[^`]*`/g, '');
    const found = [
      ...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), // [text](target "title"), ![alt](target)
      ...line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g), // [ref]: target
      ...line.matchAll(/<((?:https?|file|mailto):[^>\s]+)>/g), // <https://…>
      ...line.matchAll(/\b(?:href|src)\s*=\s*"([^"]+)"/g), // <a href="…">, <img src="…">
    ];
    for (const m of found) out.push({ target: m[1] as string, line: i + 1 });
  });
  return out;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a markdown page offers: one per heading, repeats numbered `-1`, `-2` as GitHub does. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      continue;
    }
    const heading = fence === undefined ? /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1] : undefined;
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Paths git ignores (a fresh clone does not have them); an empty set where git cannot tell. */
function ignoredByGit(root: string, paths: string[]): Set<string> {
  if (paths.length === 0) return new Set();
  try {
    const out = execFileSync('git', ['check-ignore', '--no-index', '--stdin'], {
      cwd: root,
      input: paths.join('\n'),
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    return new Set(out.split('\n').filter(Boolean));
  } catch (err) {
    // Exit status 1: nothing is ignored. Anything else (no git, not a repository): cannot tell.
    const stdout = (err as { stdout?: string }).stdout ?? '';
    return new Set(stdout.split('\n').filter(Boolean));
  }
}

/** Every broken link of `files` (relative to `root`). */
export function findLinkProblems(root: string, files: string[] = markdownFiles(root)): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const local: { file: string; line: number; target: string; path: string; fragment: string | undefined }[] =
    [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const { target, line } of extractLinks(text)) {
      const report = (problem: string) => problems.push({ file, line, target, problem });
      if (/^(?:https?|mailto):/i.test(target)) continue;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        report('points outside the repository (only relative links and web links are allowed)');
        continue;
      }
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      if (isAbsolute(pathPart)) {
        report('is an absolute path: use a path relative to this file');
        continue;
      }
      const abs = pathPart === '' ? join(root, file) : resolve(root, dirname(file), pathPart);
      const rel = relative(root, abs);
      if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        report('points outside the repository');
        continue;
      }
      // docs/ is read apart from the repository (a docs site, a copy): its links stay inside docs/.
      if (file.startsWith(`docs${sep}`) || file.startsWith('docs/')) {
        const fromDocs = relative(join(root, 'docs'), abs);
        if (fromDocs === '..' || fromDocs.startsWith(`..${sep}`)) {
          report('leaves docs/: name the file as a repository path instead of linking to it');
          continue;
        }
      }
      if (!existsSync(abs)) {
        report('names a file that does not exist');
        continue;
      }
      local.push({ file, line, target, path: rel, fragment });
    }
  }
  const ignored = ignoredByGit(
    root,
    local.map((l) => l.path).filter((p) => p !== ''),
  );
  const anchors = new Map<string, Set<string>>();
  for (const l of local) {
    const report = (problem: string) =>
      problems.push({ file: l.file, line: l.line, target: l.target, problem });
    if (ignored.has(l.path)) {
      report('names a file git ignores (a fresh clone does not have it)');
      continue;
    }
    if (l.fragment === undefined || l.fragment === '') continue;
    const abs = join(root, l.path);
    if (!l.path.endsWith('.md') || !statSync(abs).isFile()) continue;
    let offered = anchors.get(l.path);
    if (!offered) anchors.set(l.path, (offered = anchorsOf(readFileSync(abs, 'utf8'))));
    if (!offered.has(l.fragment.toLowerCase())) report(`names no heading of ${l.path} (#${l.fragment})`);
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const files = markdownFiles(root);
  const problems = findLinkProblems(root, files);
  for (const p of problems) console.error(`${p.file}:${p.line}: link ${p.target} ${p.problem}`);
  if (problems.length > 0) {
    console.error(`check-links: ${problems.length} broken link(s) in ${files.length} markdown files`);
    process.exitCode = 1;
  } else {
    console.log(
      `check-links: ${files.length} markdown files, every link stays in the repository and resolves`,
    );
  }
}
