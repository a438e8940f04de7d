import pg from 'pg';
import type { ErrorDetail } from './schemas/errors.js';

/** The closed set of `error` codes the API answers with. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'invalid_json'
  | 'not_found'
  | 'conflict'
  | 'outside_retention'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'validation_error'
  | 'service_unavailable'
  | 'internal_error'
  | 'request_timeout'
  | 'headers_too_large'
  | 'query_timeout'
  | 'busy';

/**
 * An error meant for the client: its message and details are sent as they are. With
 * `retryAfterS` the answer carries `Retry-After` (429 and 503 answers that a client should
 * retry later).
 */
export class ApiError extends Error {
  retryAfterS: number | undefined;

  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The same error, answered with `Retry-After: seconds`. */
  retryAfter(seconds: number): this {
    this.retryAfterS = Math.max(1, Math.ceil(seconds));
    return this;
  }
}

/** 503 `busy`: this class of work is at its concurrency limit; retry after `seconds`. */
export function busyError(message: string, seconds: number): ApiError {
  return new ApiError(503, 'busy', message).retryAfter(seconds);
}

/**
 * Client text echoed in an error message, cut to `max` characters: an answer stays small
 * whatever the client sent.
 */
export function echoed(text: string, max = 64): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Never cut a surrogate pair in two.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

export function validationError(message: string, details: ErrorDetail[]): ApiError {
  return new ApiError(422, 'validation_error', message, details);
}

// Connection-level failures: refused, unreachable, reset, timed out, server shutting down
// or out of connections. PostgreSQL class 08 is "connection exception".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** True when an error means "the database cannot be reached", which the API answers with 503. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) {
    return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(
    error.message,
  );
}

/** SQLSTATE 57014: a statement cancelled, here by statement_timeout. */
export const QUERY_CANCELED = '57014';

/** The SQLSTATE of an error PostgreSQL sent, if it is one. */
export function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}
