import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { createKey, type Scope } from '../../src/auth/keys.js';
import type { Database } from '../../src/db/schema.js';
import { event } from './events.js';

/**
 * One valid request body per ingest endpoint, in each SDK's own envelope, carrying `count`
 * messages (unique ids unless given). Keys are not in the bodies: tests add them.
 */
export type Family = 'events' | 'segment' | 'posthog' | 'amplitude';

export interface Endpoint {
  url: string;
  family: Family;
  /** Builds a body with these message ids (one message per id). */
  body(ids: string[]): unknown;
}

const AT = '2025-10-19T10:00:00Z';
const AT_MS = Date.parse(AT);

export function segmentMessage(id: string, overrides: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: 'signup',
    userId: 'u1',
    messageId: id,
    timestamp: AT,
    properties: { plan: 'pro' },
    ...overrides,
  };
}

export function posthogEvent(id: string, overrides: Record<string, unknown> = {}) {
  return {
    event: 'signup',
    distinct_id: 'u1',
    uuid: id,
    timestamp: AT,
    properties: { plan: 'pro' },
    ...overrides,
  };
}

export function amplitudeEvent(id: string, overrides: Record<string, unknown> = {}) {
  return {
    event_type: 'signup',
    user_id: 'u1',
    insert_id: id,
    time: AT_MS,
    event_properties: { plan: 'pro' },
    ...overrides,
  };
}

const single = (ids: string[]) => {
  if (ids.length !== 1) throw new Error('a single-message endpoint takes one id');
  return ids[0] as string;
};

export const INGEST_ENDPOINTS: Endpoint[] = [
  {
    url: '/events',
    family: 'events',
    body: (ids) => ids.map((id) => event({ event_id: id, event_type: 'signup' })),
  },
  {
    url: '/v1/batch',
    family: 'segment',
    body: (ids) => ({ batch: ids.map((id) => segmentMessage(id)) }),
  },
  { url: '/v1/track', family: 'segment', body: (ids) => segmentMessage(single(ids)) },
  // analytics.js posts to the paths shortened to their first letter.
  {
    url: '/v1/b',
    family: 'segment',
    body: (ids) => ({ batch: ids.map((id) => segmentMessage(id)) }),
  },
  { url: '/v1/t', family: 'segment', body: (ids) => segmentMessage(single(ids)) },
  {
    url: '/v1/identify',
    family: 'segment',
    body: (ids) => ({ userId: 'u1', messageId: single(ids), timestamp: AT, traits: { a: 1 } }),
  },
  {
    url: '/batch/',
    family: 'posthog',
    body: (ids) => ({ batch: ids.map((id) => posthogEvent(id)) }),
  },
  { url: '/capture/', family: 'posthog', body: (ids) => posthogEvent(single(ids)) },
  { url: '/e/', family: 'posthog', body: (ids) => ids.map((id) => posthogEvent(id)) },
  { url: '/i/v0/e/', family: 'posthog', body: (ids) => ids.map((id) => posthogEvent(id)) },
  {
    url: '/2/httpapi',
    family: 'amplitude',
    body: (ids) => ({ events: ids.map((id) => amplitudeEvent(id)) }),
  },
  {
    url: '/batch',
    family: 'amplitude',
    body: (ids) => ({ events: ids.map((id) => amplitudeEvent(id)) }),
  },
];

/** The status of a successful request to this endpoint. */
export function successStatus(family: Family): number {
  return family === 'events' ? 202 : 200;
}

/** Where each SDK puts its key in the body (POST /events has no such field). */
export function withBodyKey(family: Family, body: unknown, key: string): unknown {
  if (family === 'segment') return { ...(body as object), writeKey: key };
  if (family === 'amplitude') return { ...(body as object), api_key: key };
  if (family === 'posthog') {
    if (Array.isArray(body)) {
      // posthog-js: the token inside each event's properties.
      return body.map((e) => ({ ...e, properties: { ...e.properties, token: key } }));
    }
    return { ...(body as object), api_key: key };
  }
  throw new Error('POST /events takes keys in headers only');
}

export function ids(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}

export async function post(
  app: FastifyInstance,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Creates a key of a project (the default project unless named), as the CLI does. */
export async function newKey(
  db: Kysely<Database>,
  name: string,
  scope: Scope,
  projectId = 1,
): Promise<string> {
  const created = await createKey(db, projectId, name, scope);
  if (!created) throw new Error(`a key named ${name} exists already`);
  return created.key;
}

/** Creates keys by name and scope, as the CLI does; returns the plain keys. */
export async function createKeys(
  db: Kysely<Database>,
  scopes: Record<string, Scope>,
  projectId = 1,
): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const [name, scope] of Object.entries(scopes)) {
    keys[name] = await newKey(db, name, scope, projectId);
  }
  return keys;
}

/** A Kysely on the pool that records every SQL statement it runs, to count queries. */
export function recordingKysely(pool: pg.Pool): { db: Kysely<Database>; statements: string[] } {
  const statements: string[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (e) => {
      statements.push(e.query.sql);
    },
  });
  return { db, statements };
}

/** A metric's value from the Prometheus text of /metrics (0 when the series is absent). */
export async function metricValue(app: FastifyInstance, series: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
