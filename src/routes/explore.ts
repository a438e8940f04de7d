import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorResponse } from '../schemas/errors.js';
import {
  FunnelQuery,
  FunnelResponse,
  PropertiesQuery,
  PropertiesResponse,
} from '../schemas/explore.js';
import { parseRange } from '../stats/dates.js';
import { parseBreakdown, parseFilters } from '../stats/filters.js';
import { breakdownFunnel, funnel, parseSteps, parseWindow } from '../stats/funnel.js';
import { topProperties } from '../stats/properties.js';
import type { StatsReader } from './stats-reader.js';

const errors = { 404: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse };

/** Funnel entries and property counts read raw events of the range: at most a year of them. */
const EXPLORE_MAX_DAYS = 366;

export interface ExploreRoutesOptions {
  reader: StatsReader;
}

/** Exploration questions only raw events can answer (docs/exploration.md): HTTP only. */
const exploreRoutes: FastifyPluginAsyncTypebox<ExploreRoutesOptions> = async (app, { reader }) => {
  app.get(
    '/stats/funnel',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getFunnel',
        summary: 'Funnel conversion',
        description:
          'Users who went through `steps` in order: a user enters at any event of step 1 whose ' +
          'local day (in `tz`) is in the range; from an entry, step k+1 is reached by an event ' +
          'of its type at or after the event that reached step k and no later than entry + ' +
          "`window`. A user's level is the most steps reached from any entry; step k counts the " +
          'users whose level is at least k. Filters apply to every step; a breakdown groups ' +
          'users by the entry event. Read from raw events (at most 366 days).',
        querystring: FunnelQuery,
        response: { 200: FunnelResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const steps = parseSteps(query.steps);
      const windowSeconds = parseWindow(query.window);
      const filters = parseFilters(query.where);
      const breakdown = parseBreakdown(
        query.breakdown,
        query.breakdown_limit === undefined ? undefined : String(query.breakdown_limit),
      );
      const s = await reader.scope(request, query.tz);
      const { project, zone } = s;
      const range = parseRange(query.from, query.to, zone, EXPLORE_MAX_DAYS);
      reader.requireComplete(s, range.from, 'from', true);
      return reader.readRaw(reply, zone, 'funnels read raw events of the range', (db) =>
        breakdown
          ? breakdownFunnel(db, project.id, range, zone, steps, windowSeconds, filters, breakdown)
          : funnel(db, project.id, range, zone, steps, windowSeconds, filters),
      );
    },
  );

  app.get(
    '/stats/properties',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getProperties',
        summary: 'Property keys and their values',
        description:
          'The 50 property keys carried by most events of the range (of `event_type` when given), ' +
          'each with how many events carry it and its 10 most frequent values: what `where` and ' +
          '`breakdown` can use. Read from raw events (at most 366 days).',
        querystring: PropertiesQuery,
        response: { 200: PropertiesResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const s = await reader.scope(request, query.tz);
      const { project, zone } = s;
      const range = parseRange(query.from, query.to, zone, EXPLORE_MAX_DAYS);
      reader.requireComplete(s, range.from, 'from', true);
      const keys = await reader.readRaw(
        reply,
        zone,
        'properties are read from raw events of the range',
        (db) => topProperties(db, project.id, range, zone, query.event_type),
      );
      return { keys };
    },
  );
};

export default exploreRoutes;
