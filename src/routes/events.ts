import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, validationError } from '../errors.js';
import { MAX_ERROR_DETAILS, validateBatch } from '../ingest/validate-batch.js';
import { ErrorResponse } from '../schemas/errors.js';
import { IngestBatch, IngestResult } from '../schemas/events.js';

const eventsRoutes: FastifyPluginAsyncTypebox<{ maxBatchEvents: number }> = async (app, opts) => {
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
      // The body is checked by validateEvent() (shared with the SDK endpoints and the CSV
      // importer), which reports every invalid event by index; the schema above documents
      // the same rules.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
      const project = await app.projects.forRequest(request);
      const body: unknown = request.body;
      if (!Array.isArray(body)) {
        throw validationError('the body must be a JSON array of events', [
          { field: 'body', message: 'must be an array' },
        ]);
      }
      if (body.length === 0) {
        throw validationError('the batch is empty', [
          { field: 'body', message: 'must hold at least 1 event' },
        ]);
      }
      if (body.length > opts.maxBatchEvents) {
        app.ingest.reject('events', 'batch_too_large', body.length);
        throw new ApiError(
          413,
          'payload_too_large',
          `the batch has ${body.length} events; the limit is ${opts.maxBatchEvents} (MAX_BATCH_EVENTS)`,
        );
      }
      app.ingest.admit(request, body.length);

      const { valid, invalid, details, truncated } = validateBatch(body, Date.now(), {
        stopAtCap: true,
      });
      if (invalid.length > 0) {
        app.ingest.reject('events', 'invalid_batch', body.length);
        const counted = truncated ? `at least ${invalid.length}` : String(invalid.length);
        const listed = truncated ? ` (the first ${MAX_ERROR_DETAILS} problems are listed)` : '';
        throw validationError(
          `${counted} of ${body.length} events are invalid${listed}; nothing was stored`,
          details,
        );
      }

      return reply.status(202).send(await app.ingest.write(project.id, 'events', valid));
    },
  );
};

export default eventsRoutes;
