import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_ROOT } from '../../src/plugins/dashboard.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database, { auth: 'required' }));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

/** The bundle the page links to, from the committed index.html. */
async function pageAssets(): Promise<string[]> {
  const html = await readFile(path.join(WEB_ROOT, 'index.html'), 'utf8');
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
}

describe('serving the dashboard', () => {
  it('answers / and /dashboard with the page, public even when AUTH=required, revalidated each time', async () => {
    const html = await readFile(path.join(WEB_ROOT, 'index.html'), 'utf8');
    for (const url of ['/', '/dashboard']) {
      const response = await app.inject(url);
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.body).toBe(html);
    }
    expect((await app.inject('/stats/live')).statusCode).toBe(401);
  });

  it('serves the linked assets (only from this server), cached for a year, brotli when accepted', async () => {
    const assets = await pageAssets();
    expect(assets.map((a) => path.extname(a)).sort()).toEqual(['.css', '.js', '.svg']);
    for (const asset of assets) {
      const file = await readFile(path.join(WEB_ROOT, asset));
      const plain = await app.inject(asset);
      expect(plain.statusCode, asset).toBe(200);
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.rawPayload.equals(file)).toBe(true);
      if (asset.endsWith('.svg')) continue;
      const br = await app.inject({ url: asset, headers: { 'accept-encoding': 'br, gzip' } });
      expect(br.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(br.rawPayload).equals(file)).toBe(true);
    }
  });

  it('answers an unknown asset with the usual 404 shape', async () => {
    const response = await app.inject('/assets/nope-12345678.js');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: 'not_found' });
  });

  it('lists /stats/live in the OpenAPI document, and not the page', async () => {
    const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/stats/live');
    expect(
      Object.keys(doc.paths).filter(
        (p) => p === '/' || p.startsWith('/dashboard') || p.startsWith('/assets'),
      ),
    ).toEqual([]);
  });
});
