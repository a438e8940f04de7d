import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import type { Nodes, Root } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { toString as headingText } from 'mdast-util-to-string';

/**
 * Checks the links of Markdown files the way GitHub resolves them: a relative link must name
 * a file or folder inside the repository, and its `#anchor` (or a page's own `#anchor`) a
 * heading of the Markdown file it points to. The Markdown is parsed (mdast), so links inside
 * code are not links, and heading anchors are GitHub's slugs (`github-slugger`: lower case,
 * punctuation removed, spaces to `-`, `-1`, `-2`... for repeated headings).
 */

export interface LinkProblem {
  /** The Markdown file, relative to the repository root. */
  file: string;
  line: number;
  link: string;
  problem: string;
}

/** README.md at the root and every Markdown file under docs/, as repository-relative paths. */
export function documentationFiles(root: string): string[] {
  const files = existsSync(path.join(root, 'README.md')) ? ['README.md'] : [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (/\.md$/i.test(entry.name)) files.push(rel);
    }
  };
  if (existsSync(path.join(root, 'docs'))) walk('docs');
  return files.sort();
}

interface Link {
  url: string;
  line: number;
}

interface ParsedPage {
  links: Link[];
  anchors: Set<string>;
  /** Paths written in prose or inline code that climb out of the folder (`../x`). */
  climbingPaths: Link[];
}

// Raw HTML in Markdown: <a href>, <img src>, and explicit anchors <a id|name>.
const HTML_LINK = /\b(?:href|src)\s*=\s*["']([^"']*)["']/gi;
const HTML_ANCHOR = /\b(?:id|name)\s*=\s*["']([^"']*)["']/gi;
// A path such as ../shared/SPEC.md written as text, not as a link.
const CLIMBING_PATH = /(?:^|[\s`'"(])((?:\.\.\/)+[\w.-][\w./-]*)/g;

function parsePage(markdown: string): ParsedPage {
  const tree: Root = fromMarkdown(markdown);
  const slugger = new GithubSlugger();
  const page: ParsedPage = { links: [], anchors: new Set(), climbingPaths: [] };
  const visit = (node: Nodes): void => {
    const line = node.position?.start.line ?? 0;
    switch (node.type) {
      case 'heading':
        page.anchors.add(slugger.slug(headingText(node)));
        break;
      case 'link':
      case 'image':
      case 'definition':
        page.links.push({ url: node.url, line });
        break;
      case 'html':
        for (const m of node.value.matchAll(HTML_LINK)) page.links.push({ url: m[1] ?? '', line });
        for (const m of node.value.matchAll(HTML_ANCHOR)) page.anchors.add(m[1] ?? '');
        break;
      case 'text':
      case 'inlineCode':
        for (const m of node.value.matchAll(CLIMBING_PATH)) {
          page.climbingPaths.push({ url: m[1] ?? '', line });
        }
        break;
    }
    if ('children' in node) for (const child of node.children) visit(child);
  };
  visit(tree);
  return page;
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Every broken link of `files` (repository-relative Markdown paths) under `root`. */
export function checkMarkdownLinks(root: string, files: string[]): LinkProblem[] {
  const realRoot = realpathSync(root);
  const pages = new Map<string, ParsedPage>();
  const pageOf = (abs: string): ParsedPage => {
    let page = pages.get(abs);
    if (!page) {
      page = parsePage(readFileSync(abs, 'utf8'));
      pages.set(abs, page);
    }
    return page;
  };

  const problems: LinkProblem[] = [];
  for (const file of files) {
    const abs = path.join(realRoot, file);
    const page = pageOf(abs);
    const report = (link: Link, problem: string) =>
      problems.push({ file, line: link.line, link: link.url, problem });

    for (const link of page.climbingPaths) {
      if (!isInside(realRoot, path.resolve(path.dirname(abs), link.url))) {
        report(link, 'names a path outside the repository');
      }
    }

    for (const link of page.links) {
      const { url } = link;
      if (url === '') {
        report(link, 'is empty');
        continue;
      }
      if (/^file:/i.test(url)) {
        report(link, 'points outside the repository (file: URL)');
        continue;
      }
      // Another site (https:, mailto:, //host): not this check's business.
      if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) continue;
      if (url.startsWith('/')) {
        report(link, 'is an absolute path; write it relative to this file');
        continue;
      }

      const hashAt = url.indexOf('#');
      const pathPart = (hashAt === -1 ? url : url.slice(0, hashAt)).replace(/\?.*$/, '');
      const rawFragment = hashAt === -1 ? undefined : url.slice(hashAt + 1);
      let targetPath: string;
      let fragment: string | undefined;
      try {
        targetPath = decodeURIComponent(pathPart);
        fragment = rawFragment === undefined ? undefined : decodeURIComponent(rawFragment);
      } catch {
        report(link, 'has a malformed %-escape');
        continue;
      }

      let target = targetPath === '' ? abs : path.resolve(path.dirname(abs), targetPath);
      if (!isInside(realRoot, target)) {
        report(link, 'points outside the repository');
        continue;
      }
      if (!existsSync(target)) {
        report(link, `points to a missing file (${path.relative(realRoot, target)})`);
        continue;
      }
      target = realpathSync(target);
      if (!isInside(realRoot, target)) {
        report(link, 'points (through a symbolic link) outside the repository');
        continue;
      }

      if (fragment === undefined || fragment === '') continue;
      // A folder shows its README.md; other files' anchors (#L10 in code) are GitHub's own.
      const markdownTarget = statSync(target).isDirectory()
        ? path.join(target, 'README.md')
        : target;
      if (!/\.md$/i.test(markdownTarget)) continue;
      if (!existsSync(markdownTarget)) {
        report(link, 'has an anchor, but the folder has no README.md');
        continue;
      }
      if (!pageOf(markdownTarget).anchors.has(fragment)) {
        report(
          link,
          `names a missing heading #${fragment} in ${path.relative(realRoot, markdownTarget)}`,
        );
      }
    }
  }
  // Stable sort: by file as listed, then by line.
  const order = new Map(files.map((f, i) => [f, i]));
  return problems.sort(
    (a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line,
  );
}
