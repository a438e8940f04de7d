import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface IngestMetrics {
  accepted: Counter;
  skipped: Counter;
  rejected: Counter<'source' | 'reason'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry; ingest: IngestMetrics };
  }
}

/** Label for requests that matched no route, so random URLs cannot create new series. */
export const UNMATCHED_PATH = 'unmatched';

/**
 * Prometheus metrics on a registry of the app's own (several apps can live in one test
 * process). `path` is the route template, never the raw URL.
 */
export default fp(
  async (app: FastifyInstance) => {
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
    };
    app.decorate('metrics', { registry, ingest });

    app.addHook('onResponse', async (request, reply) => {
      const path = request.routeOptions.url ?? UNMATCHED_PATH;
      const labels = { method: request.method, path };
      requests.inc({ ...labels, status: String(reply.statusCode) });
      duration.observe(labels, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description: 'Prometheus text exposition format (prom-client).',
          produces: ['text/plain'],
          response: { 200: { type: 'string', description: 'Prometheus text format' } },
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
