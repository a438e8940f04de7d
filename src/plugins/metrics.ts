import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { ApiError } from '../errors.js';
import { ErrorResponse } from '../schemas/errors.js';

export interface IngestMetrics {
  accepted: Counter;
  skipped: Counter;
  rejected: Counter<'source' | 'reason'>;
  /** Time in each named step of the ingest pipeline (src/ingest/pipeline.ts). */
  steps: Histogram<'step'>;
}

export interface HttpSample {
  method: string;
  /** Route template, or UNMATCHED_PATH. */
  path: string;
  status: number;
  /** Omitted when the request never got as far as being timed (HTTP parser errors). */
  seconds?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      registry: Registry;
      ingest: IngestMetrics;
      /** Counts one answered request (also used for errors of the HTTP parser). */
      recordHttp(sample: HttpSample): void;
    };
  }
}

export interface MetricsOptions {
  /** When set, GET /metrics needs `Authorization: Bearer <token>` (METRICS_TOKEN). */
  token?: string | undefined;
}

/** Label for requests that matched no route, so random URLs cannot create new series. */
export const UNMATCHED_PATH = 'unmatched';

const STANDARD_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** The method as a label: the standard ones, else `other` (PROPFIND, PURGE, ... would each add series). */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : 'other';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time check of `Authorization: Bearer <token>`. */
function hasToken(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), digest(token));
}

/**
 * Prometheus metrics on a registry of the app's own (several apps can live in one test
 * process). `path` is the route template, never the raw URL.
 */
export default fp(
  async (app: FastifyInstance, options: MetricsOptions) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });

    const requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route template and status',
      labelNames: ['method', 'path', 'status'] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method and route template',
      labelNames: ['method', 'path'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const ingest: IngestMetrics = {
      accepted: new Counter({
        name: 'events_ingest_accepted_total',
        help: 'Events stored (new event_id), from every ingest endpoint',
        registers: [registry],
      }),
      skipped: new Counter({
        name: 'events_ingest_skipped_total',
        help: 'Duplicate events skipped (already stored or repeated in the request), from every ingest endpoint',
        registers: [registry],
      }),
      rejected: new Counter({
        name: 'events_ingest_rejected_total',
        help: 'Events refused or skipped as invalid, by source (events, segment, posthog, amplitude) and reason',
        labelNames: ['source', 'reason'] as const,
        registers: [registry],
      }),
      steps: new Histogram({
        name: 'ingest_step_duration_seconds',
        help: 'Time in each step of the ingest pipeline (project, admit, adapt, validate, write)',
        labelNames: ['step'] as const,
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
    };
    const recordHttp = ({ method, path, status, seconds }: HttpSample) => {
      const labels = { method: methodLabel(method), path };
      requests.inc({ ...labels, status: String(status) });
      if (seconds !== undefined) duration.observe(labels, seconds);
    };
    app.decorate('metrics', { registry, ingest, recordHttp });

    app.addHook('onResponse', async (request, reply) => {
      recordHttp({
        method: request.method,
        path: request.routeOptions.url ?? UNMATCHED_PATH,
        status: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
    });

    const token = options.token;

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Prometheus text exposition format (prom-client). When METRICS_TOKEN is set, needs `Authorization: Bearer <METRICS_TOKEN>`.',
          // Public, or the METRICS_TOKEN when the server sets one (no API key either way).
          security: [{}, { metricsToken: [] }],
          response: {
            200: {
              description: 'Prometheus text format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            401: ErrorResponse,
          },
        },
        onRequest: async (request, reply) => {
          if (token === undefined || hasToken(request.headers.authorization, token)) return;
          reply.header('www-authenticate', 'Bearer');
          throw new ApiError(
            401,
            'unauthorized',
            'GET /metrics needs the header Authorization: Bearer <METRICS_TOKEN>',
          );
        },
      },
      async (_request, reply) => {
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'metrics' },
);
