import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Access } from '../auth/keys.js';
import { sharedSchemas } from '../openapi/components.js';
import { finishDocument } from '../openapi/document.js';
import { documentOperation } from '../openapi/operations.js';
import { KEY_SCHEMES, METRICS_SCHEME } from '../openapi/security.js';

/** package.json, two levels up from src/plugins and from dist/plugins alike. */
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  license?: string;
};

const DESCRIPTION = `Idempotent event ingestion and real-time analytics: DAU, top events, retention.

**API keys.** With \`AUTH=required\` (the container's default) every operation that lists
security requirements needs an API key (\`npm run keys -- create NAME --scope write|read|all\`),
sent as \`Authorization: Bearer <key>\`, \`X-API-Key: <key>\`, or HTTP Basic with the key as the
user name; the SDK endpoints also take the key in the body, as each SDK sends it
(\`x-api-key-in-body\` on those operations). The names in a requirement are the role the key
must hold; \`x-api-key-scopes\` tells which roles a key of each scope holds. No key, or an
unknown or revoked one: 401; a key whose scope lacks the role: 403. With \`AUTH=off\` keys are
not checked. Operations with \`security: []\` are public.`;

/**
 * OpenAPI built from the route schemas; Swagger UI at /docs, the document at /docs/json.
 * Each operation's security, its 401/403 and the named schemas are derived here
 * (src/openapi/), never written per route; `npm run openapi:generate` writes the committed
 * copy (openapi.json) and the dashboard's typed client from it.
 */
export default fp(
  async (app: FastifyInstance) => {
    for (const schema of sharedSchemas()) app.addSchema(schema);
    const roles = new Set<Access>();
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Events Analytics',
          description: DESCRIPTION,
          version: pkg.version,
          // package.json's license (an SPDX id); none declared means UNLICENSED (npm's term).
          license: pkg.license
            ? { name: pkg.license, identifier: pkg.license }
            : { name: 'UNLICENSED' },
        },
        servers: [
          {
            // Self-hosted: no one address is the service's; the defaults are `npm start`'s.
            url: '{scheme}://{host}:{port}',
            description: 'Your deployment (defaults: `npm start` on this machine)',
            variables: {
              scheme: { enum: ['http', 'https'], default: 'http' },
              host: { default: 'localhost' },
              port: { default: '8000' },
            },
          },
        ],
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
        components: { securitySchemes: { ...KEY_SCHEMES, ...METRICS_SCHEME } },
      },
      // Named schemas keep their names (components/schemas/ErrorResponse, not def-0).
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
      transform: ({ schema, url, route }) =>
        !schema || schema.hide
          ? { schema, url }
          : { schema: documentOperation(url, schema, route.config ?? {}, roles), url },
      transformObject: (document) =>
        'openapiObject' in document
          ? finishDocument(document.openapiObject, roles)
          : document.swaggerObject,
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'swagger' },
);
