import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, validationError } from '../errors.js';
import { type ValidEvent, validateEvent } from '../ingest/validate-event.js';
import { writeEvents } from '../ingest/write-events.js';
import { type ErrorDetail, ErrorResponse } from '../schemas/errors.js';
import { IngestBatch, IngestResult } from '../schemas/events.js';

const eventsRoutes: FastifyPluginAsyncTypebox<{ maxBatchEvents: number }> = async (app, opts) => {
  const { ingest } = app.metrics;

  app.post(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Ingest a batch of events (idempotent)',
        description:
          'Stores each new event once; duplicates (already stored, or repeated in the batch) are ' +
          'counted in `skipped`, first write wins. If any event is invalid, the response lists ' +
          'every invalid event by index and nothing from the batch is stored.',
        body: IngestBatch,
        response: {
          202: IngestResult,
          400: ErrorResponse,
          413: ErrorResponse,
          422: ErrorResponse,
          503: ErrorResponse,
        },
      },
      // The body is checked by validateEvent() (shared with the CSV importer), which reports
      // every invalid event by index; the schema above documents the same rules.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
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
        ingest.rejected.inc(body.length);
        throw new ApiError(
          413,
          'payload_too_large',
          `the batch has ${body.length} events; the limit is ${opts.maxBatchEvents} (MAX_BATCH_EVENTS)`,
        );
      }

      const now = Date.now();
      const valid: ValidEvent[] = [];
      const details: ErrorDetail[] = [];
      body.forEach((item, index) => {
        const result = validateEvent(item, now);
        if (result.ok) valid.push(result.event);
        else for (const e of result.errors) details.push({ index, ...e });
      });
      if (details.length > 0) {
        ingest.rejected.inc(body.length);
        const invalid = new Set(details.map((d) => d.index)).size;
        throw validationError(
          `${invalid} of ${body.length} events are invalid; nothing was stored`,
          details,
        );
      }

      const result = await writeEvents(app.db, valid);
      ingest.accepted.inc(result.accepted);
      ingest.skipped.inc(result.skipped);
      return reply.status(202).send(result);
    },
  );
};

export default eventsRoutes;
