import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { validationError } from '../errors.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  ActiveUsersQuery,
  ActiveUsersResponse,
  DauResponse,
  OverviewQuery,
  OverviewResponse,
  RangeQuery,
  RetentionMatrixQuery,
  RetentionMatrixResponse,
  RetentionQuery,
  RetentionResponse,
  TopEventsQuery,
  TopEventsResponse,
} from '../schemas/stats.js';
import { activeUsers } from '../stats/active-users.js';
import { ConcurrencyGate } from '../stats/concurrency-gate.js';
import { formatDay, parseRange, requireCalendarSpan, requireDay } from '../stats/dates.js';
import { dailyActiveUsers } from '../stats/dau.js';
import { overview } from '../stats/overview.js';
import { retention } from '../stats/retention.js';
import { cohortStarts, retentionMatrix } from '../stats/retention-matrix.js';
import { topEvents } from '../stats/top-events.js';
import {
  parseZone,
  summaryZoneId,
  UNKNOWN_ZONE_SQLSTATE,
  unknownZone,
  type Zone,
} from '../stats/zone.js';

const errors = { 422: ErrorResponse, 503: ErrorResponse };

/** Bounds that keep one request's work small (summary rows read grow with them). */
const ACTIVE_USERS_MAX_DAYS = 366;
const MATRIX_MAX_COHORTS = { day: 92, week: 26 } as const;
const MATRIX_MAX_WEEK_WINDOWS = 12;

/**
 * The one place a zone unknown to PostgreSQL (its tz database may differ from Node's)
 * becomes a 422: by SQLSTATE 22023 (invalid_parameter_value), which AT TIME ZONE raises;
 * no other parameter of these queries can raise it.
 */
async function inZone<T>(zone: Zone, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if ((error as { code?: unknown }).code === UNKNOWN_ZONE_SQLSTATE) {
      throw unknownZone(zone.name, 'is not known to the database');
    }
    throw error;
  }
}

/** A turn for a raw-event query comes within this long, or the answer is 503 `busy`. */
const RAW_READ_MAX_WAIT_MS = 5000;

export interface StatsRoutesOptions {
  /** Raw-event queries at once (RAW_STATS_CONCURRENCY) and waiting (RAW_STATS_QUEUE). */
  rawReads: { concurrency: number; queue: number };
}

const statsRoutes: FastifyPluginAsyncTypebox<StatsRoutesOptions> = async (app, opts) => {
  const rawReads = new ConcurrencyGate({
    ...opts.rawReads,
    maxWaitMs: RAW_READ_MAX_WAIT_MS,
    what: 'raw-event /stats queries (time zones without summaries)',
  });

  /**
   * Runs a question on the right connections (issue 19, finding 2): from summaries (a
   * reporting zone) on the summary-read pool; from raw events (any other zone: a query
   * that reads every event of the range) on the raw-read pool, admitted by the gate so
   * that at most RAW_STATS_CONCURRENCY run at once and the rest wait without a connection
   * or are answered 503 `busy`. Ingest and /healthz keep their own connections either way.
   */
  async function read<T>(zone: Zone, run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const { summary, raw } = app.statsDb;
    const fromSummaries = (await summaryZoneId(summary, zone)) !== undefined;
    return inZone(zone, () => (fromSummaries ? run(summary) : rawReads.run(() => run(raw))));
  }

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
      const zone = parseZone(request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone);
      return read(zone, (db) => dailyActiveUsers(db, range, zone));
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
      const zone = parseZone(request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone);
      return read(zone, (db) => topEvents(db, range, zone, request.query.limit));
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
      const zone = parseZone(request.query.tz);
      const startDay = requireDay('start_date', request.query.start_date);
      requireCalendarSpan(
        'windows',
        startDay,
        startDay + request.query.windows,
        'start_date + windows',
      );
      const start = formatDay(startDay);
      return read(zone, (db) => retention(db, start, request.query.windows, zone));
    },
  );

  app.get(
    '/stats/active-users',
    {
      schema: {
        tags: ['stats'],
        summary: 'Daily, weekly and monthly active users',
        description:
          'For every day from `from` to `to` inclusive (in `tz`): distinct users active that day ' +
          `(dau), in the 7 days ending that day (wau) and in the 30 days ending that day (mau). ` +
          `At most ${ACTIVE_USERS_MAX_DAYS} days.`,
        querystring: ActiveUsersQuery,
        response: { 200: ActiveUsersResponse, ...errors },
      },
    },
    async (request) => {
      const zone = parseZone(request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone, ACTIVE_USERS_MAX_DAYS);
      const from = requireDay('from', range.from);
      requireCalendarSpan(
        'from',
        from - 29,
        from,
        'the 30-day window before from (from - 29 days)',
      );
      return read(zone, (db) => activeUsers(db, range, zone));
    },
  );

  app.get(
    '/stats/retention-matrix',
    {
      schema: {
        tags: ['stats'],
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
    async (request) => {
      const { period, windows } = request.query;
      const zone = parseZone(request.query.tz);
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
      return read(zone, (db) => retentionMatrix(db, range, period, windows, zone));
    },
  );

  app.get(
    '/stats/overview',
    {
      schema: {
        tags: ['stats'],
        summary: 'Today at a glance',
        description: 'Events and distinct active users so far on the current day in `tz`.',
        querystring: OverviewQuery,
        response: { 200: OverviewResponse, ...errors },
      },
    },
    async (request) => {
      const zone = parseZone(request.query.tz);
      return read(zone, (db) => overview(db, zone));
    },
  );
};

export default statsRoutes;
