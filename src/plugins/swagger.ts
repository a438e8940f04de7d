import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** OpenAPI built from the route schemas; Swagger UI at /docs, the document at /docs/json. */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Events Analytics',
          description:
            'Idempotent event ingestion and real-time analytics: DAU, top events, retention.',
          version: '0.1.0',
        },
        tags: [
          { name: 'events', description: 'Ingestion' },
          {
            name: 'sdk',
            description:
              'Ingestion in the wire formats of analytics SDKs (Segment, RudderStack, PostHog, Amplitude)',
          },
          { name: 'stats', description: 'Analytics' },
          { name: 'operations', description: 'Health and metrics' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'swagger' },
);
