// The link check `npm run lint` runs (scripts/check-links.ts): the repository's own markdown, then each rule on
// a scratch tree of pages with one kind of broken link each.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorsOf, findLinkProblems, markdownFiles, slug } from '../scripts/check-links.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('links of README.md and docs/', () => {
  it('every link of the repository stays inside it and resolves', () => {
    const files = markdownFiles(repo);
    expect(files).toContain('README.md');
    expect(files).toContain(join('docs', 'README.md'));
    expect(findLinkProblems(repo, files)).toEqual([]);
  });

  const scratch = mkdtempSync(join(tmpdir(), 'mana-llm-links-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), text);
  };
  write('README.md', '# Title\n\nSee [the docs](docs/README.md) and [options](docs/options.md#timeouts).\n');
  write('docs/options.md', '# Options\n\n## Timeouts\n\n## Timeouts\n');
  write(
    'docs/README.md',
    '[options](options.md) [web](https://example.com/a) [self](#options-index)\n# Options index\n',
  );
  write('docs/leaves.md', 'The [contract](../../shared/API.md).\n');
  write('docs/up.md', 'See the [README](../README.md).\n');
  write('docs/missing.md', 'See [limits](limits.md).\n');
  write('docs/absolute.md', 'See [this](/work/shared/API.md) and <file:///etc/hosts>.\n');
  write(
    'docs/anchor.md',
    'See [a heading](options.md#no-such-heading) and [the second](options.md#timeouts-1).\n',
  );
  write('docs/code.md', '```md\n[in a fence](nowhere.md)\n```\nand `[in a span](nowhere.md)`.\n');
  write('docs/html.md', '<a href="gone.md">gone</a>\n\n[ref]: ../../outside.md\n');

  const problems = (file: string) =>
    findLinkProblems(scratch, [join('docs', file)]).map((p) => `${p.line} ${p.target}: ${p.problem}`);

  it('accepts links to existing files and headings, web links and in-page anchors', () => {
    expect(findLinkProblems(scratch, ['README.md', join('docs', 'README.md')])).toEqual([]);
  });

  it('fails a link that leaves the repository', () => {
    expect(problems('leaves.md')).toEqual(['1 ../../shared/API.md: points outside the repository']);
  });

  it('fails a link from docs/ to a file elsewhere in the repository', () => {
    expect(problems('up.md')).toEqual([
      '1 ../README.md: leaves docs/: name the file as a repository path instead of linking to it',
    ]);
  });

  it('fails a link to a missing file', () => {
    expect(problems('missing.md')).toEqual(['1 limits.md: names a file that does not exist']);
  });

  it('fails absolute paths and file: URLs', () => {
    expect(problems('absolute.md')).toEqual([
      '1 /work/shared/API.md: is an absolute path: use a path relative to this file',
      '1 file:///etc/hosts: points outside the repository (only relative links and web links are allowed)',
    ]);
  });

  it('fails an anchor no heading of the target offers; repeated headings are numbered', () => {
    expect(problems('anchor.md')).toEqual([
      '1 options.md#no-such-heading: names no heading of docs/options.md (#no-such-heading)',
    ]);
  });

  it('ignores code, reads HTML links and reference definitions', () => {
    expect(problems('code.md')).toEqual([]);
    expect(problems('html.md')).toEqual([
      '1 gone.md: names a file that does not exist',
      '3 ../../outside.md: points outside the repository',
    ]);
  });

  it('fails a link to a file git ignores (a fresh clone lacks it)', () => {
    execFileSync('git', ['init', '-q'], { cwd: scratch });
    write('.gitignore', 'docs/api/\n');
    write('docs/api/index.html', '<html></html>');
    write('docs/generated.md', 'The [API reference](api/index.html).\n');
    expect(problems('generated.md')).toEqual([
      '1 api/index.html: names a file git ignores (a fresh clone does not have it)',
    ]);
  });

  it('slugs headings as GitHub does', () => {
    expect(slug('Testing your own code — `mana-llm/testing`')).toBe('testing-your-own-code--mana-llmtesting');
    expect(slug('`toServerSentEvents(stream)`')).toBe('toserversenteventsstream');
    expect([...anchorsOf('# A\n```\n# not a heading\n```\n## A\n')]).toEqual(['a', 'a-1']);
  });
});
