import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
import { requireCompleteDays } from '../stats/coverage.js';
import { formatDay, parseRange, requireCalendarSpan, requireDay } from '../stats/dates.js';
import { dailyActiveUsers } from '../stats/dau.js';
import { overview } from '../stats/overview.js';
import { retention } from '../stats/retention.js';
import { cohortStarts, retentionMatrix } from '../stats/retention-matrix.js';
import { topEvents } from '../stats/top-events.js';
import {
  NOT_REPORTING_ZONE_SQLSTATE,
  UNKNOWN_ZONE_SQLSTATE,
  unknownZone,
  type Zone,
  zoneFor,
} from '../stats/zone.js';

const errors = { 404: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse };

/** Bounds that keep one request's work small (summary rows read grow with them). */
const ACTIVE_USERS_MAX_DAYS = 366;
const MATRIX_MAX_COHORTS = { day: 92, week: 26 } as const;
const MATRIX_MAX_WEEK_WINDOWS = 12;

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

  /** The request's project and the zone of its question (the project's main zone by default). */
  const scope = async (request: FastifyRequest, tz: string | undefined) => {
    const project = await app.projects.forRequest(request);
    return { project, zone: zoneFor(project, tz) };
  };

  /**
   * Answers a /stats question in its zone, on the right connections (issue 19, finding 2):
   * from summaries (a reporting zone of the project) on the summary-read pool; from raw
   * events (any other zone: a query that reads every event of the range) on the raw-read
   * pool, admitted by the gate, so that at most RAW_STATS_CONCURRENCY run at once and the
   * rest wait without a connection or are answered 503 `busy`. Ingest and /healthz keep
   * their own connections either way. `Server-Timing` says which path answered.
   *
   * Two database errors are handled here, by SQLSTATE: 22023 (AT TIME ZONE does not know
   * the zone; PostgreSQL's tz database may differ from Node's) is a 422, and EA409 (the zone
   * stopped being a reporting zone after the project's settings were cached) re-asks the
   * question from raw events.
   */
  async function read<T>(
    reply: FastifyReply,
    zone: Zone,
    run: (db: Kysely<Database>, zone: Zone) => Promise<T>,
  ): Promise<T> {
    const { summary, raw } = app.statsDb;
    const started = performance.now();
    const fromRaw = (z: Zone) => rawReads.run(() => run(raw, z));
    let used = zone;
    let result: T;
    try {
      if (zone.reportingId === undefined) result = await fromRaw(zone);
      else {
        try {
          result = await run(summary, zone);
        } catch (error) {
          if ((error as { code?: unknown }).code !== NOT_REPORTING_ZONE_SQLSTATE) throw error;
          app.projects.registry.invalidate();
          used = { ...zone, reportingId: undefined };
          result = await fromRaw(used);
        }
      }
    } catch (error) {
      if ((error as { code?: unknown }).code === UNKNOWN_ZONE_SQLSTATE) {
        throw unknownZone(zone.name, 'is not known to the database');
      }
      throw error;
    }
    const path =
      used.reportingId !== undefined
        ? `summaries;desc="reporting zone ${used.name}"`
        : `raw-events;desc="${used.name} is not a reporting zone of this project"`;
    reply.header('server-timing', `${path};dur=${(performance.now() - started).toFixed(1)}`);
    return result;
  }

  app.get(
    '/stats/dau',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getDailyActiveUsers',
        summary: 'Daily active users',
        description:
          'Distinct user_id with at least one event per calendar day (in `tz`), for every day ' +
          'from `from` to `to` inclusive.',
        querystring: RangeQuery,
        response: { 200: DauResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { project, zone } = await scope(request, request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone);
      requireCompleteDays(project, zone, range.from, 'from');
      return read(reply, zone, (db, z) => dailyActiveUsers(db, project.id, range, z));
    },
  );

  app.get(
    '/stats/top-events',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getTopEvents',
        summary: 'Most frequent event types',
        description: 'Event types by number of events in the inclusive range, with distinct users.',
        querystring: TopEventsQuery,
        response: { 200: TopEventsResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { project, zone } = await scope(request, request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone);
      requireCompleteDays(project, zone, range.from, 'from');
      return read(reply, zone, (db, z) => topEvents(db, project.id, range, z, request.query.limit));
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
      const { project, zone } = await scope(request, request.query.tz);
      const startDay = requireDay('start_date', request.query.start_date);
      requireCalendarSpan(
        'windows',
        startDay,
        startDay + request.query.windows,
        'start_date + windows',
      );
      const start = formatDay(startDay);
      requireCompleteDays(project, zone, start, 'start_date');
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
          `At most ${ACTIVE_USERS_MAX_DAYS} days.`,
        querystring: ActiveUsersQuery,
        response: { 200: ActiveUsersResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { project, zone } = await scope(request, request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone, ACTIVE_USERS_MAX_DAYS);
      const from = requireDay('from', range.from);
      requireCalendarSpan(
        'from',
        from - 29,
        from,
        'the 30-day window before from (from - 29 days)',
      );
      requireCompleteDays(project, zone, formatDay(from - 29), 'from');
      return read(reply, zone, (db, z) => activeUsers(db, project.id, range, z));
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
      const { project, zone } = await scope(request, request.query.tz);
      const range = parseRange(request.query.from, request.query.to, zone);
      // The last cohort's last period (a week cohort starts on the Monday on or before `to`).
      const lastPeriodEnd =
        requireDay('to', range.to) + (period === 'week' ? 7 * (windows + 1) : windows);
      const firstCohortStart = requireDay('from', range.from) - (period === 'week' ? 6 : 0);
      requireCalendarSpan('to', firstCohortStart, lastPeriodEnd, 'the cohorts and their periods');
      requireCompleteDays(project, zone, formatDay(firstCohortStart), 'from');
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
      const { project, zone } = await scope(request, request.query.tz);
      return read(reply, zone, (db, z) => overview(db, project.id, z));
    },
  );
};

export default statsRoutes;
