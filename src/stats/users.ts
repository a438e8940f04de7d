import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { validationError } from '../errors.js';

/**
 * User look-ups: a profile, the user's events newest first, and a prefix search.
 * Instants are ISO 8601 in UTC with microseconds (`2025-10-01T12:00:00.000000Z`), exactly
 * as stored (a JavaScript Date would drop the microseconds).
 */

const ISO_UTC = `YYYY-MM-DD"T"HH24:MI:SS.US"Z"`;

export interface UserProfile {
  user_id: string;
  first_seen_at: string;
  last_seen_at: string;
  events: number;
  /** Most events first, ties in byte order. */
  event_types: { event_type: string; count: number }[];
}

/**
 * The user's profile, or undefined for a user the project has never seen. First and last
 * seen come from the users table the write path keeps; the counts from the user's raw
 * events (the (project_id, user_id, occurred_at) index).
 */
export async function getUser(
  db: Kysely<Database>,
  projectId: number,
  userId: string,
): Promise<UserProfile | undefined> {
  const { rows } = await sql<{
    first_seen_at: string;
    last_seen_at: string;
    event_type: string | null;
    count: number;
  }>`
    SELECT to_char(u.first_seen_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS first_seen_at,
           to_char(u.last_seen_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS last_seen_at,
           t.event_type, coalesce(t.count, 0)::bigint AS count
    FROM users u
    LEFT JOIN LATERAL (
      SELECT event_type, count(*) AS count FROM events
      WHERE project_id = u.project_id AND user_id = u.user_id
      GROUP BY event_type
    ) AS t ON true
    WHERE u.project_id = ${projectId}::int AND u.user_id = ${userId}::text
    ORDER BY t.count DESC, t.event_type COLLATE "C"`.execute(db);
  const first = rows[0];
  if (!first) return undefined;
  const event_types = rows
    .filter((r) => r.event_type !== null)
    .map((r) => ({ event_type: r.event_type as string, count: r.count }));
  return {
    user_id: userId,
    first_seen_at: first.first_seen_at,
    last_seen_at: first.last_seen_at,
    events: event_types.reduce((sum, t) => sum + t.count, 0),
    event_types,
  };
}

export interface StoredEventView {
  event_id: string;
  occurred_at: string;
  received_at: string;
  user_id: string;
  event_type: string;
  /**
   * The properties' JSON text exactly as PostgreSQL stores it (jsonb's canonical text: key
   * order and spacing are jsonb's, every number keeps all its digits). Send it as raw JSON
   * (JSON.parse would round 9007199254740993 to ...992).
   */
  properties_json: string;
}

export interface UserEventsPage {
  events: StoredEventView[];
  /** Pass as `before` for the next (older) page; null when this page is the last. */
  next_cursor: string | null;
}

export const DEFAULT_USER_EVENTS = 50;
export const MAX_USER_EVENTS = 1000;

interface Cursor {
  /** occurred_at as microseconds since the epoch (exact, as text). */
  us: string;
  source: number;
  eventId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.us}.${c.source}.${c.eventId}`).toString('base64url');
}

/** A cursor this module made, or a 422 naming `before`. */
export function decodeCursor(text: string): Cursor {
  const parts = Buffer.from(text, 'base64url').toString('utf8').split('.');
  const [us = '', source = '', eventId = ''] = parts;
  if (
    parts.length !== 3 ||
    !/^-?[0-9]{1,18}$/.test(us) ||
    !/^[0-9]{1,5}$/.test(source) ||
    Number(source) > 32767 ||
    !UUID.test(eventId) ||
    encodeCursor({ us, source: Number(source), eventId }) !== text
  ) {
    throw validationError('invalid cursor', [
      { field: 'before', message: 'must be a next_cursor from a previous page' },
    ]);
  }
  return { us, source: Number(source), eventId };
}

/**
 * The user's events, newest first, `limit` at a time. The order is (occurred_at, source,
 * event_id) descending, a total order on the table's rows, and a cursor is the position
 * of a page's last event in it (keyset pagination): pages neither skip nor repeat events
 * when others are written meanwhile, and an event written later appears on a page where
 * its position falls (an older event arriving late shows up on a later page).
 */
export async function userEvents(
  db: Kysely<Database>,
  projectId: number,
  userId: string,
  options: { before?: string; limit?: number } = {},
): Promise<UserEventsPage> {
  const limit = options.limit ?? DEFAULT_USER_EVENTS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_USER_EVENTS) {
    throw validationError('invalid limit', [
      { field: 'limit', message: `must be an integer from 1 to ${MAX_USER_EVENTS}` },
    ]);
  }
  const cursor = options.before === undefined ? undefined : decodeCursor(options.before);
  const after = cursor
    ? sql`AND (occurred_at, source, event_id) <
           ('epoch'::timestamptz + ${cursor.us}::bigint * interval '1 microsecond', ${cursor.source}::smallint, ${cursor.eventId}::uuid)`
    : sql``;
  const { rows } = await sql<StoredEventView & { us: string; source: number }>`
    SELECT event_id::text AS event_id,
           to_char(occurred_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS occurred_at,
           to_char(received_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS received_at,
           user_id, event_type, properties::text AS properties_json,
           (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS us, source
    FROM events
    WHERE project_id = ${projectId}::int AND user_id = ${userId}::text ${after}
    ORDER BY occurred_at DESC, source DESC, event_id DESC
    LIMIT ${limit + 1}::int`.execute(db);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    events: page.map(({ us: _us, source: _source, ...event }) => event),
    next_cursor:
      rows.length > limit && last
        ? encodeCursor({ us: last.us, source: last.source, eventId: last.event_id })
        : null,
  };
}

export const MAX_USER_SEARCH = 100;

/**
 * The project's users whose user_id starts with `prefix` (case-sensitive), in byte order,
 * at most `limit`: for a look-up box.
 */
export async function searchUsers(
  db: Kysely<Database>,
  projectId: number,
  prefix: string,
  limit: number,
): Promise<{ user_id: string; last_seen_at: string }[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_USER_SEARCH) {
    throw validationError('invalid limit', [
      { field: 'limit', message: `must be an integer from 1 to ${MAX_USER_SEARCH}` },
    ]);
  }
  const { rows } = await sql<{ user_id: string; last_seen_at: string }>`
    SELECT user_id, to_char(last_seen_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS last_seen_at
    FROM users
    WHERE project_id = ${projectId}::int AND starts_with(user_id, ${prefix}::text)
    ORDER BY user_id COLLATE "C"
    LIMIT ${limit}::int`.execute(db);
  return rows;
}
