import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkMarkdownLinks, documentationFiles } from '../helpers/markdown-links.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

describe('the documentation links', () => {
  it('finds the README and the docs pages', () => {
    const files = documentationFiles(repoRoot);
    expect(files).toContain('README.md');
    expect(files).toContain('docs/api.md');
    expect(files).toContain('docs/write-path.md');
  });

  it('has no relative link to a missing file, a missing heading or outside the repository', () => {
    const problems = checkMarkdownLinks(repoRoot, documentationFiles(repoRoot));
    // Printed in full on failure: file, line, link and what is wrong with it.
    expect(problems).toEqual([]);
  });
});

describe('the link checker', () => {
  // A small repository made of broken and sound links; the checker must name exactly the
  // broken ones, so the test above cannot pass by finding nothing.
  const outside = mkdtempSync(path.join(tmpdir(), 'links-check-'));
  const root = path.join(outside, 'repo');
  afterAll(() => rmSync(outside, { recursive: true, force: true }));

  mkdirSync(path.join(root, 'docs', 'sub'), { recursive: true });
  writeFileSync(path.join(outside, 'SPEC.md'), '# Outside\n');
  writeFileSync(path.join(root, 'logo.png'), '');
  writeFileSync(
    path.join(root, 'README.md'),
    [
      '# Events Analytics',
      '',
      '## Quick start',
      '',
      'Sound: [api](docs/api.md), [errors](docs/api.md#errors), [same](#quick-start),',
      '[slug](docs/api.md#post-events-idempotent-ingestion), [code](docs/api.md#get-statsdaufromtotz),',
      '[repeat](docs/api.md#notes-1), [dir](docs/), [dir anchor](docs/sub/#sub-index), ![logo](logo.png),',
      '[site](https://example.com/x), [mail](mailto:a@example.com), [html](docs/api.md#by-hand).',
      '',
      'Broken: [gone](docs/gone.md), [no heading](docs/api.md#nope), [own](#nope-here),',
      '[up](../SPEC.md), [abs](/docs/api.md), [file](file:///etc/passwd), [ref][r].',
      '',
      'See `../SPEC.md` for the contract.',
      '',
      '```',
      '[in code](docs/also-gone.md) and ../SPEC.md',
      '```',
      '',
      '[r]: docs/api.md#missing-ref',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(root, 'docs', 'api.md'),
    [
      '# HTTP API',
      '## Errors',
      '## POST /events: idempotent ingestion',
      '### GET /stats/dau?from=&to=[&tz=]',
      '## Notes',
      '## Notes',
      '<a id="by-hand"></a>',
      '',
      'Back: [readme](../README.md#quick-start), [bad](../README.md#quick-stop).',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(root, 'docs', 'sub', 'README.md'), '# Sub index\n');

  it('names every broken link, and only those', () => {
    const problems = checkMarkdownLinks(root, documentationFiles(root));
    expect(problems.map((p) => [p.file, p.line, p.link])).toEqual([
      ['README.md', 10, 'docs/gone.md'],
      ['README.md', 10, 'docs/api.md#nope'],
      ['README.md', 10, '#nope-here'],
      ['README.md', 11, '../SPEC.md'],
      ['README.md', 11, '/docs/api.md'],
      ['README.md', 11, 'file:///etc/passwd'],
      ['README.md', 13, '../SPEC.md'],
      ['README.md', 19, 'docs/api.md#missing-ref'],
      ['docs/api.md', 9, '../README.md#quick-stop'],
    ]);
    const byLink = new Map(problems.map((p) => [p.link, p.problem]));
    expect(byLink.get('docs/gone.md')).toMatch(/missing file/);
    expect(byLink.get('docs/api.md#nope')).toMatch(/missing heading #nope in docs\/api\.md/);
    expect(byLink.get('/docs/api.md')).toMatch(/absolute path/);
    expect(problems.filter((p) => p.link === '../SPEC.md').map((p) => p.problem)).toEqual([
      'points outside the repository',
      'names a path outside the repository',
    ]);
  });
});
