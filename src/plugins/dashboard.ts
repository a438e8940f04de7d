import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** The built page: web/public, two levels up from src/plugins and from dist/plugins alike. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/public/', import.meta.url));

/**
 * Serves the dashboard: `/` and `/dashboard` give the page (revalidated on every load, so
 * a new build shows at once), `/assets/*` the bundle, whose file names carry a content
 * hash and can therefore be cached for a year.
 */
export default async function dashboard(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: path.join(WEB_ROOT, 'assets'),
    prefix: '/assets/',
    index: false,
    maxAge: '365d',
    immutable: true,
    preCompressed: true, // the .br/.gz copies build:web writes
  });
  for (const url of ['/', '/dashboard']) {
    app.get(url, { schema: { hide: true } }, (_request, reply) =>
      reply
        .header('cache-control', 'no-cache')
        .sendFile('index.html', WEB_ROOT, { cacheControl: false }),
    );
  }
}
