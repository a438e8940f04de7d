import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eventsAdapter } from '../ingest/steps/adapt.js';
import { MAX_ERROR_DETAILS } from '../ingest/steps/validate.js';
import { ErrorResponse } from '../schemas/errors.js';
import { IngestBatch, IngestResult } from '../schemas/events.js';

const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/events',
    {
      config: { access: 'write' },
      schema: {
        tags: ['events'],
        operationId: 'ingestEvents',
        summary: 'Ingest a batch of events (idempotent)',
        description:
          'Stores each new event once; duplicates (already stored, or repeated in the batch) are ' +
          'counted in `skipped`, first write wins. If any event is invalid, the response lists ' +
          `the invalid events by index (at most ${MAX_ERROR_DETAILS} problems) and nothing from ` +
          'the batch is stored. Needs a write key when AUTH=required. The body may be sent with ' +
          'Content-Encoding gzip or deflate.',
        body: IngestBatch,
        response: {
          202: IngestResult,
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
          413: ErrorResponse,
          415: ErrorResponse,
          422: ErrorResponse,
          429: ErrorResponse,
          503: ErrorResponse,
        },
      },
      // The body is checked by the ingest pipeline's rules (shared with the SDK endpoints and
      // the CSV importer), which report every invalid event by index; the schema above
      // documents the same rules.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
      const { accepted, skipped } = await app.ingest.pipeline.run(request, {
        source: 'events',
        adapter: eventsAdapter,
        body: request.body,
        receivedAtMs: Date.now() - reply.elapsedTime,
        invalid: 'batch',
      });
      return reply.status(202).send({ accepted, skipped });
    },
  );
};

export default eventsRoutes;
