import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'content-encoding',
  'x-api-key',
  'x-request-id',
];

/**
 * CORS (with OPTIONS preflight) by route: ingest routes (those that need a write key) take
 * requests from any origin, as browser SDKs send from the product's own site; /stats
 * routes only from the origins in CORS_ORIGINS; nothing else is readable cross-origin.
 * Registered before the auth plugin, so a preflight is answered before any key check.
 */
export default fp(
  async (app: FastifyInstance, options: { corsOrigins: string[] }) => {
    const ingestPaths = new Set<string>();
    const readPaths = new Set<string>();
    app.addHook('onRoute', (route) => {
      if (route.config?.access === 'write') ingestPaths.add(route.url);
      if (route.config?.access === 'read') readPaths.add(route.url);
    });

    // Not strict: @fastify/cors answers an OPTIONS without Origin with a plain-text 400 that
    // is not our error shape; answering it like a preflight is harmless.
    const closed: FastifyCorsOptions = { origin: false, strictPreflight: false };
    const ingest: FastifyCorsOptions = {
      origin: true,
      strictPreflight: false,
      methods: ['POST', 'OPTIONS'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: ['retry-after', 'x-request-id'],
      maxAge: 86_400,
    };
    const read: FastifyCorsOptions =
      options.corsOrigins.length > 0
        ? {
            origin: options.corsOrigins,
            strictPreflight: false,
            methods: ['GET', 'OPTIONS'],
            allowedHeaders: ALLOWED_HEADERS,
            exposedHeaders: ['retry-after', 'x-request-id'],
            maxAge: 86_400,
          }
        : closed;

    await app.register(cors, {
      delegator: (request, callback) => {
        const path = request.url.split('?')[0] ?? '';
        if (ingestPaths.has(path)) callback(null, ingest);
        else if (readPaths.has(path)) callback(null, read);
        else callback(null, closed);
      },
    });
  },
  { name: 'cors' },
);
