import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

/**
 * Builds the dashboard into web/public: index.html plus content-hashed assets. The output
 * is committed, so `npm start` (TypeScript via tsx, no build step) serves a working page on
 * a fresh clone; test/web/bundle.test.ts checks that it matches the sources.
 */
const WEB = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(WEB, 'src');
export const OUT = path.join(WEB, 'public');

/** Relative path under web/public -> content. */
export type BuildOutput = Map<string, Uint8Array>;

/**
 * Brotli and gzip copies of the bundle, which @fastify/static (preCompressed) sends to
 * browsers that accept them. Compressor output can differ between zlib versions, so the
 * freshness test compares these by their decompressed content.
 */
export const COMPRESSED = [
  {
    ext: '.br',
    compress: (data: Uint8Array) =>
      brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  },
  { ext: '.gz', compress: (data: Uint8Array) => gzipSync(data, { level: 9 }) },
] as const;

const hashOf = (content: Uint8Array) =>
  createHash('sha256').update(content).digest('hex').slice(0, 8).toUpperCase();

export async function buildWeb(): Promise<BuildOutput> {
  const result = await esbuild.build({
    entryPoints: [path.join(SRC, 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    entryNames: '[name]-[hash]',
    outdir: path.join(OUT, 'assets'),
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const files: BuildOutput = new Map();
  const names: Record<string, string> = {};
  for (const file of result.outputFiles) {
    const name = path.basename(file.path);
    files.set(`assets/${name}`, file.contents);
    for (const { ext, compress } of COMPRESSED)
      files.set(`assets/${name}${ext}`, compress(file.contents));
    names[path.extname(name).slice(1)] = name; // js, css
  }
  const favicon = await readFile(path.join(SRC, 'favicon.svg'));
  names.svg = `favicon-${hashOf(favicon)}.svg`;
  files.set(`assets/${names.svg}`, favicon);

  const template = await readFile(path.join(SRC, 'index.html'), 'utf8');
  const html = template.replace(/\{\{(js|css|svg)\}\}/g, (_match, ext: string) => {
    const name = names[ext];
    if (!name) throw new Error(`no ${ext} asset for the page`);
    return `/assets/${name}`;
  });
  files.set('index.html', new TextEncoder().encode(html));
  return files;
}

/** Every file under a directory, as paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function main() {
  const files = await buildWeb();
  await rm(OUT, { recursive: true, force: true });
  for (const [name, content] of files) {
    await mkdir(path.dirname(path.join(OUT, name)), { recursive: true });
    await writeFile(path.join(OUT, name), content);
  }
  for (const [name, content] of files) {
    process.stdout.write(`web/public/${name} ${content.length} bytes\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
