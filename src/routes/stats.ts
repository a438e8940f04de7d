import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { validationError } from '../errors.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  DauResponse,
  RangeQuery,
  RetentionQuery,
  RetentionResponse,
  TopEventsQuery,
  TopEventsResponse,
} from '../schemas/stats.js';
import { formatDay, parseRange, parseTimeZone, requireDay } from '../stats/dates.js';
import { dailyActiveUsers } from '../stats/dau.js';
import { retention } from '../stats/retention.js';
import { topEvents } from '../stats/top-events.js';

const errors = { 422: ErrorResponse, 503: ErrorResponse };

/** PostgreSQL's word for a zone it does not know (its tz database may differ from Node's). */
async function inZone<T>(tz: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof Error && /time zone .* not recognized/.test(error.message)) {
      throw validationError(`unknown time zone "${tz}"`, [
        { field: 'tz', message: 'is not known to the database' },
      ]);
    }
    throw error;
  }
}

const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/stats/dau',
    {
      schema: {
        tags: ['stats'],
        summary: 'Daily active users',
        description:
          'Distinct user_id with at least one event per calendar day (in `tz`), for every day ' +
          'from `from` to `to` inclusive.',
        querystring: RangeQuery,
        response: { 200: DauResponse, ...errors },
      },
    },
    async (request) => {
      const tz = parseTimeZone(request.query.tz);
      const range = parseRange(request.query.from, request.query.to, tz);
      return inZone(tz, () => dailyActiveUsers(app.db, range, tz));
    },
  );

  app.get(
    '/stats/top-events',
    {
      schema: {
        tags: ['stats'],
        summary: 'Most frequent event types',
        description: 'Event types by number of events in the inclusive range, with distinct users.',
        querystring: TopEventsQuery,
        response: { 200: TopEventsResponse, ...errors },
      },
    },
    async (request) => {
      const tz = parseTimeZone(request.query.tz);
      const range = parseRange(request.query.from, request.query.to, tz);
      return inZone(tz, () => topEvents(app.db, range, tz, request.query.limit));
    },
  );

  app.get(
    '/stats/retention',
    {
      schema: {
        tags: ['stats'],
        summary: 'Cohort retention',
        description:
          'Cohort: users whose first event ever falls on `start_date`; for each day n in 0..windows, ' +
          'the cohort users with an event on start_date + n.',
        querystring: RetentionQuery,
        response: { 200: RetentionResponse, ...errors },
      },
    },
    async (request) => {
      const tz = parseTimeZone(request.query.tz);
      const start = formatDay(requireDay('start_date', request.query.start_date));
      return inZone(tz, () => retention(app.db, start, request.query.windows, tz));
    },
  );
};

export default statsRoutes;
