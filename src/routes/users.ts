import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, echoed } from '../errors.js';
import { ErrorResponse } from '../schemas/errors.js';
import {
  UserEventsQuery,
  UserEventsResponse,
  UserIdParams,
  UserProfileResponse,
  UserQuery,
  UserSearchQuery,
  UserSearchResponse,
} from '../schemas/explore.js';
import { getUser, searchUsers, userEvents } from '../stats/users.js';
import type { StatsReader } from './stats-reader.js';

const errors = { 404: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse };

export interface UserRoutesOptions {
  reader: StatsReader;
}

const unknownUser = (userId: string) =>
  new ApiError(404, 'not_found', `no user "${echoed(userId)}" in this project`);

/**
 * A project's users: a profile, the timeline of their events, a prefix look-up. Read keys
 * (as /stats); the reads go through the raw-event gate (src/routes/stats-reader.ts).
 */
const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (app, { reader }) => {
  const access = 'read' as const;

  app.get(
    '/users',
    {
      config: { access },
      schema: {
        tags: ['users'],
        operationId: 'searchUsers',
        summary: 'Find users by the start of their id',
        description: "The project's users whose user_id starts with `prefix`, in byte order.",
        querystring: UserSearchQuery,
        response: { 200: UserSearchResponse, ...errors },
      },
    },
    async (request, reply) => {
      const project = await app.projects.forRequest(request);
      const { prefix, limit } = request.query;
      const users = await reader.readRaw(reply, undefined, 'users table', (db) =>
        searchUsers(db, project.id, prefix, limit),
      );
      return { users };
    },
  );

  app.get(
    '/users/:user_id',
    {
      config: { access },
      schema: {
        tags: ['users'],
        operationId: 'getUser',
        summary: "A user's profile",
        description:
          'First and last seen (UTC, microseconds), the number of stored events and the count of ' +
          'each event type. 404 for a user this project has never seen.',
        params: UserIdParams,
        querystring: UserQuery,
        response: { 200: UserProfileResponse, ...errors },
      },
    },
    async (request, reply) => {
      const project = await app.projects.forRequest(request);
      const userId = request.params.user_id;
      const profile = await reader.readRaw(reply, undefined, "the user's raw events", (db) =>
        getUser(db, project.id, userId),
      );
      if (!profile) throw unknownUser(userId);
      return profile;
    },
  );

  app.get(
    '/users/:user_id/events',
    {
      config: { access },
      schema: {
        tags: ['users'],
        operationId: 'getUserEvents',
        summary: "A user's events, newest first",
        description:
          'Each event as stored (properties exact, numbers with every digit), newest first; ' +
          'pass `next_cursor` as `before` for older events. Pages neither skip nor repeat ' +
          'events while others are written. 404 for a user this project has never seen.',
        params: UserIdParams,
        querystring: UserEventsQuery,
        response: { 200: UserEventsResponse, ...errors },
      },
    },
    async (request, reply) => {
      const project = await app.projects.forRequest(request);
      const userId = request.params.user_id;
      const { before, limit } = request.query;
      const page = await reader.readRaw(reply, undefined, "the user's raw events", (db) =>
        userEvents(db, project.id, userId, { before, limit }),
      );
      if (page.events.length === 0 && before === undefined) {
        const known = await reader.readRaw(reply, undefined, 'users table', (db) =>
          searchUsers(db, project.id, userId, 1),
        );
        if (known[0]?.user_id !== userId) throw unknownUser(userId);
      }
      // Properties go out as the JSON text PostgreSQL stores (a parsed number would lose
      // digits): the answer is written here, every other field through JSON.stringify.
      const events = page.events.map(({ properties_json, ...event }) => {
        const head = JSON.stringify(event);
        return `${head.slice(0, -1)},"properties":${properties_json}}`;
      });
      const body = `{"events":[${events.join(',')}],"next_cursor":${JSON.stringify(page.next_cursor)}}`;
      // A string with a JSON content type is sent as it is (no serializer runs on it).
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );
};

export default userRoutes;
