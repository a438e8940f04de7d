import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { busyError, validationError } from '../errors.js';
import { dayStart, type ExportFormat, exportText } from '../lifecycle/export.js';
import { ErrorResponse } from '../schemas/errors.js';
import { ProjectParam } from '../schemas/stats.js';
import { addDays, formatDay, requireDay } from '../stats/dates.js';
import { zoneFor } from '../stats/zone.js';

/** Exports streaming at once per instance; beyond, 503 busy (each reads the whole range). */
export const MAX_CONCURRENT_EXPORTS = 2;

const Day = (description: string) =>
  Type.Optional(
    Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description, examples: ['2025-10-19'] }),
  );

const ExportQuery = Type.Object({
  from: Day('First local day, inclusive (default: the oldest stored event)'),
  to: Day('Last local day, inclusive (default: the newest stored event)'),
  user_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 256, description: 'Only this user’s events' }),
  ),
  event_type: Type.Optional(
    Type.String({ minLength: 1, maxLength: 128, description: 'Only events of this type' }),
  ),
  tz: Type.Optional(
    Type.String({
      description: 'IANA zone of `from` and `to` (default: the project’s main zone)',
      examples: ['Europe/Kyiv'],
    }),
  ),
  project: ProjectParam,
});

/**
 * GET /events/export (docs/lifecycle.md#export): the project's raw events of a range,
 * ordered by time, streamed as NDJSON or (Accept: text/csv) as the importer's CSV.
 */
const exportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  let running = 0;

  app.get(
    '/events/export',
    {
      config: { access: 'read' },
      schema: {
        tags: ['events'],
        operationId: 'exportEvents',
        summary: 'Export raw events (NDJSON or CSV)',
        description:
          'The raw events of the key’s project from `from` to `to` (local days in `tz`, both inclusive; unbounded when absent), optionally of one user or one event type, ordered by time. NDJSON (`application/x-ndjson`, one event per line as POST /events takes it) by default; with `Accept: text/csv` the importer’s CSV (event_id, occurred_at, user_id, event_type, properties_json), which `npm run import` reads back. Streamed in constant memory; events whose raw rows expired under retention are not in it. At most 2 exports at once per instance (503 `busy`). Needs a read key when AUTH=required.',
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The events, one per line',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          401: ErrorResponse,
          403: ErrorResponse,
          404: ErrorResponse,
          422: ErrorResponse,
          503: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { from, to, user_id, event_type, tz } = request.query;
      const project = await app.projects.forRequest(request);
      const zone = zoneFor(project, tz);
      const fromDay = from === undefined ? undefined : requireDay('from', from);
      const toDay = to === undefined ? undefined : requireDay('to', to);
      if (fromDay !== undefined && toDay !== undefined && fromDay > toDay) {
        throw validationError('from is after to', [
          { field: 'from', message: 'must be on or before `to`' },
        ]);
      }
      const format: ExportFormat = /\btext\/csv\b/i.test(request.headers.accept ?? '')
        ? 'csv'
        : 'ndjson';
      if (running >= MAX_CONCURRENT_EXPORTS) {
        throw busyError(`${MAX_CONCURRENT_EXPORTS} exports are running; retry later`, 10);
      }
      const fromAt = from === undefined ? undefined : await dayStart(app.pool, from, zone.name);
      const toAt =
        toDay === undefined
          ? undefined
          : await dayStart(app.pool, addDays(formatDay(toDay), 1), zone.name);
      running++;
      const body = Readable.from(
        exportText(
          app.pool,
          { projectId: project.id, fromAt, toAt, userId: user_id, eventType: event_type },
          format,
        ),
        { objectMode: false, highWaterMark: 1 },
      );
      body.once('close', () => {
        running--;
      });
      const name = `events-${project.slug}${from ? `-${from}` : ''}${to ? `-${to}` : ''}`;
      reply
        .header(
          'content-type',
          format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        )
        .header(
          'content-disposition',
          `attachment; filename="${name}.${format === 'csv' ? 'csv' : 'ndjson'}"`,
        )
        .header('cache-control', 'no-store');
      return reply.send(body);
    },
  );
};

export default exportRoutes;
