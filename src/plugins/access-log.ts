import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-ID when it is sane, else a new UUID (passed to Fastify as genReqId). */
export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && SANE_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

/**
 * Echoes X-Request-ID and writes one JSON access line per request. Every log line of a
 * request already carries `request_id` (Fastify's requestIdLogLabel).
 */
export default fp(
  async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    app.addHook('onResponse', async (request, reply) => {
      const path = request.url.split('?')[0];
      const status = reply.statusCode;
      request.log.info(
        {
          logger: 'access',
          method: request.method,
          path,
          status,
          duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        },
        `access method=${request.method} path=${path} status=${status} request_id=${request.id}`,
      );
    });
  },
  { name: 'access-log' },
);
