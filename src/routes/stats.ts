import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { validationError } from '../errors.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  ActiveUsersQuery,
  ActiveUsersResponse,
  DauQuery,
  DauResponse,
  OverviewQuery,
  OverviewResponse,
  RetentionMatrixQuery,
  RetentionMatrixResponse,
  RetentionQuery,
  RetentionResponse,
  TopEventsQuery,
  TopEventsResponse,
} from '../schemas/stats.js';
import { activeUsers } from '../stats/active-users.js';
import {
  addDays,
  type DayRange,
  formatDay,
  parseRange,
  requireCalendarSpan,
  requireDay,
  today,
} from '../stats/dates.js';
import { dailyActiveUsers } from '../stats/dau.js';
import { filteredActiveUsers } from '../stats/filtered-active-users.js';
import { breakdownDau, filteredDau } from '../stats/filtered-dau.js';
import { breakdownTopEvents, filteredTopEvents } from '../stats/filtered-top-events.js';
import {
  type Breakdown,
  type PropertyFilter,
  parseBreakdown,
  parseFilters,
} from '../stats/filters.js';
import { overview } from '../stats/overview.js';
import { retention } from '../stats/retention.js';
import { cohortStarts, isoWeekStart, retentionMatrix } from '../stats/retention-matrix.js';
import { topEvents } from '../stats/top-events.js';
import type { Zone } from '../stats/zone.js';
import type { StatsReader } from './stats-reader.js';

const errors = { 404: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse };

/** Bounds that keep one request's work small (summary rows read grow with them). */
const ACTIVE_USERS_MAX_DAYS = 366;
const MATRIX_MAX_COHORTS = { day: 92, week: 26 } as const;
const MATRIX_MAX_WEEK_WINDOWS = 12;

export interface StatsRoutesOptions {
  /** The reads of every read route, with the one raw-event gate (src/routes/stats-reader.ts). */
  reader: StatsReader;
}

/** Filtered or broken-down questions read raw events of the range: at most a year of them. */
const EXPLORE_MAX_DAYS = 366;

/** Server-Timing of a question summaries cannot answer. */
const EXPLORED = 'filters and breakdowns read raw events of the range';

/** A breakdown_limit as parseBreakdown reads it (the schema made it an integer already). */
const optionalText = (n: number | undefined) => (n === undefined ? undefined : String(n));

/** The parameters a range question (dau, top-events) shares. */
interface RangeQuery {
  from?: string;
  to?: string;
  tz?: string;
  where?: string | string[];
  breakdown?: string;
  breakdown_limit?: number;
}

const statsRoutes: FastifyPluginAsyncTypebox<StatsRoutesOptions> = async (app, opts) => {
  const { reader } = opts;
  const scope = (request: FastifyRequest, tz: string | undefined) => reader.scope(request, tz);
  const read = <T>(
    reply: FastifyReply,
    zone: Zone,
    run: (db: Kysely<Database>, zone: Zone) => Promise<T>,
  ) => reader.read(reply, zone, run);

  /**
   * A question over a range of days (dau, top-events): without filters and breakdown it is
   * answered like every /stats question (summaries in a reporting zone); with them, from raw
   * events of the range (at most EXPLORE_MAX_DAYS), through the raw-event gate.
   */
  const rangeQuestion = async <Plain, Explored>(
    request: FastifyRequest,
    reply: FastifyReply,
    query: RangeQuery,
    plain: (db: Kysely<Database>, projectId: number, range: DayRange, zone: Zone) => Promise<Plain>,
    explored: (
      db: Kysely<Database>,
      projectId: number,
      range: DayRange,
      zone: Zone,
      filters: PropertyFilter[],
      breakdown: Breakdown | undefined,
    ) => Promise<Explored>,
  ): Promise<Plain | Explored> => {
    const s = await scope(request, query.tz);
    const { project, zone } = s;
    const filters = parseFilters(query.where);
    const breakdown = parseBreakdown(query.breakdown, optionalText(query.breakdown_limit));
    if (filters.length === 0 && !breakdown) {
      const range = parseRange(query.from, query.to, zone);
      reader.requireComplete(s, range.from, 'from');
      return read(reply, zone, (db, z) => plain(db, project.id, range, z));
    }
    const range = parseRange(query.from, query.to, zone, EXPLORE_MAX_DAYS);
    reader.requireComplete(s, range.from, 'from', true);
    return reader.readRaw(reply, zone, EXPLORED, (db) =>
      explored(db, project.id, range, zone, filters, breakdown),
    );
  };

  app.get(
    '/stats/dau',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getDailyActiveUsers',
        summary: 'Daily active users',
        description:
          'Distinct user_id with at least one event per calendar day (in `tz`), for every day ' +
          'from `from` to `to` inclusive. With `where` only matching events count; with ' +
          '`breakdown` each day has a row per breakdown value (rank order). Filtered or broken-down ' +
          'questions read raw events of the range (at most 366 days).',
        querystring: DauQuery,
        response: { 200: DauResponse, ...errors },
      },
    },
    async (request, reply) => {
      return rangeQuestion(
        request,
        reply,
        request.query,
        dailyActiveUsers,
        (db, projectId, range, zone, filters, breakdown) =>
          breakdown
            ? breakdownDau(db, projectId, range, zone, filters, breakdown)
            : filteredDau(db, projectId, range, zone, filters),
      );
    },
  );

  app.get(
    '/stats/top-events',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getTopEvents',
        summary: 'Most frequent event types',
        description:
          'Event types by number of events in the inclusive range, with distinct users. With ' +
          '`where` only matching events count; with `breakdown` each type is followed by a row ' +
          'per breakdown value that has events of it. Filtered or broken-down questions read raw ' +
          'events of the range (at most 366 days).',
        querystring: TopEventsQuery,
        response: { 200: TopEventsResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { limit } = request.query;
      return rangeQuestion(
        request,
        reply,
        request.query,
        (db, projectId, range, zone) => topEvents(db, projectId, range, zone, limit),
        (db, projectId, range, zone, filters, breakdown) =>
          breakdown
            ? breakdownTopEvents(db, projectId, range, zone, filters, limit, breakdown)
            : filteredTopEvents(db, projectId, range, zone, filters, limit),
      );
    },
  );

  app.get(
    '/stats/retention',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getRetention',
        summary: 'Cohort retention',
        description:
          'Cohort: users whose first event ever falls on `start_date`; for each day n in 0..windows, ' +
          'the cohort users with an event on start_date + n.',
        querystring: RetentionQuery,
        response: { 200: RetentionResponse, ...errors },
      },
    },
    async (request, reply) => {
      const s = await scope(request, request.query.tz);
      const { project, zone } = s;
      const startDay = requireDay('start_date', request.query.start_date);
      requireCalendarSpan(
        'windows',
        startDay,
        startDay + request.query.windows,
        'start_date + windows',
      );
      const start = formatDay(startDay);
      reader.requireComplete(s, start, 'start_date');
      return read(reply, zone, (db, z) =>
        retention(db, project.id, start, request.query.windows, z),
      );
    },
  );

  app.get(
    '/stats/active-users',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getActiveUsers',
        summary: 'Daily, weekly and monthly active users',
        description:
          'For every day from `from` to `to` inclusive (in `tz`): distinct users active that day ' +
          `(dau), in the 7 days ending that day (wau) and in the 30 days ending that day (mau). ` +
          `At most ${ACTIVE_USERS_MAX_DAYS} days. With \`where\` only matching events count ` +
          '(read from raw events); no breakdown.',
        querystring: ActiveUsersQuery,
        response: { 200: ActiveUsersResponse, ...errors },
      },
    },
    async (request, reply) => {
      // Active users cannot be broken down (their windows span values): say so rather than
      // answer the question without the breakdown.
      for (const field of ['breakdown', 'breakdown_limit']) {
        if ((request.query as Record<string, unknown>)[field] !== undefined) {
          throw validationError(`/stats/active-users takes no ${field}`, [
            { field, message: 'breakdowns are on /stats/dau, /stats/top-events and /stats/funnel' },
          ]);
        }
      }
      const s = await scope(request, request.query.tz);
      const { project, zone } = s;
      const filters = parseFilters(request.query.where);
      const range = parseRange(request.query.from, request.query.to, zone, ACTIVE_USERS_MAX_DAYS);
      const from = requireDay('from', range.from);
      requireCalendarSpan(
        'from',
        from - 29,
        from,
        'the 30-day window before from (from - 29 days)',
      );
      // The MAU of `from` reads the 29 days before it.
      const firstRead = addDays(range.from, -29);
      if (filters.length === 0) {
        reader.requireComplete(s, firstRead, 'from');
        return read(reply, zone, (db, z) => activeUsers(db, project.id, range, z));
      }
      reader.requireComplete(s, firstRead, 'from', true);
      return reader.readRaw(reply, zone, EXPLORED, (db) =>
        filteredActiveUsers(db, project.id, range, zone, filters),
      );
    },
  );

  app.get(
    '/stats/retention-matrix',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getRetentionMatrix',
        summary: 'Retention matrix',
        description:
          'A cohort per local day (or ISO week, Monday first) from `from` to `to`: the users whose ' +
          'first event ever falls in it, and for n = 0..windows the cohort users active in period n ' +
          'after it. Periods that have not ended yet (now, in `tz`) are left out. At most ' +
          `${MATRIX_MAX_COHORTS.day} daily or ${MATRIX_MAX_COHORTS.week} weekly cohorts, and ` +
          `${MATRIX_MAX_WEEK_WINDOWS} windows for weeks.`,
        querystring: RetentionMatrixQuery,
        response: { 200: RetentionMatrixResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { period, windows } = request.query;
      const s = await scope(request, request.query.tz);
      const { project, zone } = s;
      const range = parseRange(request.query.from, request.query.to, zone);
      // The last cohort's last period (a week cohort starts on the Monday on or before `to`).
      const lastPeriodEnd =
        requireDay('to', range.to) + (period === 'week' ? 7 * (windows + 1) : windows);
      const firstCohortStart = requireDay('from', range.from) - (period === 'week' ? 6 : 0);
      requireCalendarSpan('to', firstCohortStart, lastPeriodEnd, 'the cohorts and their periods');
      if (cohortStarts(range, period).length > MATRIX_MAX_COHORTS[period]) {
        throw validationError(`more than ${MATRIX_MAX_COHORTS[period]} cohorts`, [
          {
            field: 'to',
            message: `must leave at most ${MATRIX_MAX_COHORTS[period]} ${period}s from \`from\``,
          },
        ]);
      }
      if (period === 'week' && windows > MATRIX_MAX_WEEK_WINDOWS) {
        throw validationError(`more than ${MATRIX_MAX_WEEK_WINDOWS} weekly windows`, [
          { field: 'windows', message: `must be at most ${MATRIX_MAX_WEEK_WINDOWS} for weeks` },
        ]);
      }
      // The first cohort starts on `from`, or on the Monday of its week.
      const firstRead = period === 'week' ? isoWeekStart(range.from) : range.from;
      reader.requireComplete(s, firstRead, 'from');
      return read(reply, zone, (db, z) =>
        retentionMatrix(db, project.id, range, period, windows, z),
      );
    },
  );

  app.get(
    '/stats/overview',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getOverview',
        summary: 'Today at a glance',
        description: 'Events and distinct active users so far on the current day in `tz`.',
        querystring: OverviewQuery,
        response: { 200: OverviewResponse, ...errors },
      },
    },
    async (request, reply) => {
      const s = await scope(request, request.query.tz);
      const { project, zone } = s;
      reader.requireComplete(s, formatDay(today(zone.name)), 'tz');
      return read(reply, zone, (db, z) => overview(db, project.id, z));
    },
  );
};

export default statsRoutes;
