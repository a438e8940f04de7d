import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import {
  ApiError,
  type ErrorCode,
  echoed,
  isDatabaseUnavailable,
  QUERY_CANCELED,
  sqlState,
} from '../errors.js';
import type { ErrorResponse } from '../schemas/errors.js';

/** The code of a 4xx that is not an ApiError, by its status (else `bad_request`). */
const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_error',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/** Maps anything thrown to the one error shape; 4xx messages pass through, 5xx are generic. */
export function toErrorResponse(error: FastifyError | Error): {
  status: number;
  body: ErrorResponse;
} {
  if (error instanceof ApiError) {
    const body: ErrorResponse = { error: error.code, message: error.message };
    if (error.details) body.details = error.details;
    return { status: error.statusCode, body };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    // Schema validation of query strings: one detail per offending parameter.
    const details = fastifyError.validation.map((v) => {
      const missing = (v.params as { missingProperty?: string }).missingProperty;
      const field = missing ?? v.instancePath.replace(/^\//, '');
      return { field, message: missing ? 'is required' : (v.message ?? 'is invalid') };
    });
    const summary = details.map((d) => `${d.field} ${d.message}`).join('; ');
    return {
      status: 422,
      body: { error: 'validation_error', message: `invalid request: ${summary}`, details },
    };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: { error: 'payload_too_large', message: 'request body is larger than MAX_BODY_BYTES' },
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: { error: 'unsupported_media_type', message: 'send the body as application/json' },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'invalid_json', message: 'request body is empty' } };
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
    return {
      status: 400,
      body: { error: 'invalid_json', message: `request body is not valid JSON: ${error.message}` },
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      body: { error: 'service_unavailable', message: 'the database is unavailable; retry later' },
    };
  }
  if (sqlState(error) === QUERY_CANCELED) {
    return {
      status: 503,
      body: {
        error: 'query_timeout',
        message:
          'the query took longer than the statement timeout (STATEMENT_TIMEOUT_MS) and was cancelled; retry later or ask for a shorter range',
      },
    };
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // A 4xx of a plugin (@fastify/static's 403 for a path outside its root, say): its code
    // from the closed set by status, so `error` always says what the status says.
    return {
      status,
      body: { error: CODE_BY_STATUS[status] ?? 'bad_request', message: error.message },
    };
  }
  return { status: 500, body: { error: 'internal_error', message: 'internal server error' } };
}

/**
 * What a server error may put in the log. PostgreSQL's message, `detail`, `where`, `hint`
 * and `internalQuery` can quote the client's data (a password inside properties, say), so
 * for a database error only its SQLSTATE and the names of the objects involved are kept.
 * Other errors are logged in full, with their stack.
 */
export function loggableError(error: unknown): { err: object; message: string } {
  if (error instanceof pg.DatabaseError) {
    const { code, severity, routine, schema, table, column, constraint, dataType } = error;
    const fields = { schema, table, column, constraint, data_type: dataType, routine };
    const known = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    return {
      err: { type: 'DatabaseError', sqlstate: code, severity, ...known },
      message: `database error SQLSTATE ${code}${routine ? ` in ${routine}` : ''}`,
    };
  }
  if (error instanceof Error) return { err: error, message: error.message };
  return { err: { value: String(error) }, message: String(error) };
}

/**
 * The one error handler: logs (5xx safely, in full but for client data; 4xx at debug) and
 * answers the one error shape. `extend` lets a route scope add fields its clients read
 * (Amplitude's `code`), never change the shape.
 */
export function errorHandler(
  extend: (status: number, body: ErrorResponse) => object = () => ({}),
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (error, request, reply) => {
    const { status, body } = toErrorResponse(error);
    // The full error goes to the log; the client sees only the generic 5xx message.
    if (status >= 500) {
      const { err, message } = loggableError(error);
      request.log.error({ err }, `request failed: ${message}`);
    } else request.log.debug({ err: error }, `request rejected: ${body.message}`);
    if (error instanceof ApiError && error.retryAfterS !== undefined) {
      reply.header('retry-after', String(error.retryAfterS));
    }
    return reply.status(status).send({ ...extend(status, body), ...body });
  };
}

/** Requests whose URL path is not valid percent-encoded UTF-8 (`GET /%ZZ`). */
const malformedUrls = new WeakSet<IncomingMessage>();
/** Where such a request is routed: a path no route has, so the not-found handler answers it. */
const MALFORMED_URL_PATH = '/.malformed-url';

/**
 * Fastify's `rewriteUrl` option. The router answers a path it cannot decode (`/%ZZ`,
 * `/%C0%AF`) itself, before any hook: another body, no X-Request-ID, no security headers,
 * no access line, no metric. Such a request is routed to a path no route has instead, so
 * it goes through every hook like any other request and the not-found handler answers it
 * with a 400 `bad_request` (request.originalUrl keeps what the client sent).
 */
export function routeMalformedUrls(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  if (!path.includes('%')) return url;
  try {
    decodeURI(path);
    return url;
  } catch {
    malformedUrls.add(request);
    return MALFORMED_URL_PATH;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(errorHandler());
    app.setNotFoundHandler((request, reply) => {
      const path = request.originalUrl.split('?')[0] ?? '';
      if (malformedUrls.has(request.raw)) {
        return reply.status(400).send({
          error: 'bad_request',
          message: `the URL path ${echoed(path)} is not valid percent-encoded UTF-8`,
        } satisfies ErrorResponse);
      }
      return reply.status(404).send({
        error: 'not_found',
        message: `no route ${request.method} ${echoed(path, 200)}`,
      } satisfies ErrorResponse);
    });
  },
  { name: 'errors' },
);
