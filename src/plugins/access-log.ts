import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-ID when it is sane, else a new UUID (passed to Fastify as genReqId). */
export function requestIdFor(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate && SANE_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

export interface AccessLine {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  /** True when `log` is a request's logger, whose lines carry `request_id` already. */
  requestIdInLog?: boolean;
}

/** The one access line format, for requests and for errors of the HTTP parser. */
export function writeAccessLine(log: FastifyBaseLogger, line: AccessLine) {
  const { method, path, status, requestId } = line;
  log.info(
    {
      ...(line.requestIdInLog ? {} : { request_id: requestId }),
      logger: 'access',
      method,
      path,
      status,
      duration_ms: Math.round(line.durationMs * 100) / 100,
    },
    `access method=${method} path=${path} status=${status} request_id=${requestId}`,
  );
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
      writeAccessLine(request.log, {
        method: request.method,
        // What the client asked for (routeMalformedUrls may have rerouted it).
        path: request.originalUrl.split('?')[0] ?? '',
        status: reply.statusCode,
        durationMs: reply.elapsedTime,
        requestId: request.id,
        requestIdInLog: true,
      });
    });
  },
  { name: 'access-log' },
);
