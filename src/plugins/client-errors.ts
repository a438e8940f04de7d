import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import type { ErrorCode } from '../errors.js';
import type { ErrorResponse } from '../schemas/errors.js';
import { writeAccessLine } from './access-log.js';
import { UNMATCHED_PATH } from './metrics.js';

/** What a client may hold of the HTTP server (configuration; docs/operations.md "Limits"). */
export type HttpLimits = Pick<
  Config,
  | 'requestTimeoutMs'
  | 'headersTimeoutMs'
  | 'keepAliveTimeoutMs'
  | 'connectionTimeoutMs'
  | 'maxConnections'
>;

/**
 * Fastify constructor options for the limits that are set (Node's and Fastify's defaults
 * otherwise: no request timeout at all, which let a client that sends headers and then
 * nothing hold its connection forever).
 */
export function httpServerOptions(limits: Partial<HttpLimits>) {
  return {
    ...(limits.requestTimeoutMs ? { requestTimeout: limits.requestTimeoutMs } : {}),
    ...(limits.keepAliveTimeoutMs ? { keepAliveTimeout: limits.keepAliveTimeoutMs } : {}),
    ...(limits.connectionTimeoutMs ? { connectionTimeout: limits.connectionTimeoutMs } : {}),
    http: {
      ...(limits.headersTimeoutMs ? { headersTimeout: limits.headersTimeoutMs } : {}),
      // Node looks for requests past their timeouts this often (30 s by default, which
      // would let a 30 s limit last up to 60 s).
      connectionsCheckingInterval: 1000,
    },
  };
}

function classify(error: ConnectionError): { status: number; code: ErrorCode; message: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'request_timeout',
        message:
          'the request did not arrive in time (HEADERS_TIMEOUT_MS for the headers, REQUEST_TIMEOUT_MS for all of it)',
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'headers_too_large',
        message: 'the request line and headers are larger than 16 KiB',
      };
    case 'HPE_INVALID_METHOD':
      return {
        status: 400,
        code: 'bad_request',
        message: 'malformed HTTP request: unknown method',
      };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return {
        status: 400,
        code: 'bad_request',
        message: 'malformed HTTP request: both Content-Length and Transfer-Encoding',
      };
    default:
      return {
        status: 400,
        code: 'bad_request',
        message: `malformed HTTP request (${error.code ?? 'unknown error'})`,
      };
  }
}

/**
 * Method and path of the request line, as far as Node read it (`rawPacket`, a Buffer at
 * run time), cut short: this is for a log line.
 */
function requestLine(raw: unknown): { method: string; path: string } {
  const text = Buffer.isBuffer(raw) ? raw.subarray(0, 256).toString('latin1') : '';
  const match = /^([A-Za-z-]{1,20}) ([^ ?\r\n]{0,200})/.exec(text);
  return { method: match?.[1] ?? 'other', path: match?.[2] || UNMATCHED_PATH };
}

/**
 * Errors of Node's HTTP parser and its timeouts never reach Fastify's routes: Node (or
 * Fastify's default handler) answered them with another body shape, no request id, no
 * access line and no metric. This answers them like every other error. Fastify binds it
 * to the instance (the `clientErrorHandler` option).
 */
export function clientErrorHandler(this: FastifyInstance, error: ConnectionError, socket: Socket) {
  // A reset connection, or one already answered: nobody to talk to.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = classify(error);
  const requestId = randomUUID();
  const { method, path } = requestLine(error.rawPacket);
  writeAccessLine(this.log, { method, path, status, durationMs: 0, requestId });
  this.log.debug({ request_id: requestId, code: error.code }, `client error: ${error.message}`);
  this.metrics?.recordHttp({ method, path: UNMATCHED_PATH, status });
  // Like Node's own handler: write only if nothing of a response went out yet.
  if (!socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: code, message } satisfies ErrorResponse);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\n` +
      'x-content-type-options: nosniff\r\n' +
      'connection: close\r\n\r\n' +
      body,
  );
  socket.once('finish', () => socket.destroy());
}

/**
 * The connection cap: Node closes connections beyond it at once, before any request; a
 * warning says so (at most once a second).
 */
export default fp(
  async (app: FastifyInstance, limits: Partial<HttpLimits>) => {
    if (!limits.maxConnections) return;
    app.server.maxConnections = limits.maxConnections;
    let warned = 0;
    app.server.on('drop', () => {
      // One line per second at most: a flood must not become a log flood.
      const now = Date.now();
      if (now - warned < 1000) return;
      warned = now;
      app.log.warn(
        { logger: 'http', max_connections: limits.maxConnections },
        `refusing connections beyond MAX_CONNECTIONS=${limits.maxConnections}`,
      );
    });
  },
  { name: 'client-errors', dependencies: ['metrics'] },
);
