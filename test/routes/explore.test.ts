import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createKeys } from '../helpers/ingest-requests.js';
import { insertRawEvents, type RawRow } from '../helpers/raw-events.js';
import { createProjectRow, emptyTables } from '../helpers/summaries.js';

/**
 * The exploration routes (issue 17) by example: refusals of bad parameters, read keys,
 * projects kept apart, outside_retention, the raw-event gate, exact stored properties.
 * Their numbers against the oracle: explore.property.test.ts.
 */

let database: TestDatabase;
let app: FastifyInstance;
let otherId: number;

beforeAll(async () => {
  database = await createTestDatabase();
  otherId = await createProjectRow(database.pool, 'other');
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
  await database.pool.query('UPDATE projects SET raw_floor = NULL');
  await database.pool.query('UPDATE project_zones SET complete_from = NULL');
  app.projects.registry.invalidate();
});

let nextId = 1;
const row = (
  user_id: string,
  event_type: string,
  occurred_at: string,
  properties = '{}',
  project_id = 1,
): RawRow => ({
  project_id,
  source: 0,
  event_id: `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`,
  occurred_at,
  user_id,
  event_type,
  properties,
});

async function seed() {
  await insertRawEvents(database.pool, [
    row('u1', 'signup', '2025-10-01T10:00:00Z', '{"plan":"pro","n":9007199254740993}'),
    row('u1', 'activate', '2025-10-01T11:00:00Z', '{"plan":"pro"}'),
    row('u2', 'signup', '2025-10-02T10:00:00Z', '{"plan":"free"}'),
    // The same user id in the other project: another user.
    row('u1', 'signup', '2025-10-01T10:00:00Z', '{"plan":"free"}', otherId),
  ]);
  await database.pool.query('SELECT analytics.rebuild_summaries()');
}

const ROUTES = [
  '/stats/funnel?steps=signup,activate&from=2025-10-01&to=2025-10-02',
  '/stats/properties?from=2025-10-01&to=2025-10-02',
  '/stats/dau?from=2025-10-01&to=2025-10-02&where=plan:pro',
  '/stats/top-events?from=2025-10-01&to=2025-10-02&breakdown=plan',
  '/stats/active-users?from=2025-10-01&to=2025-10-02&where=plan:pro',
  '/users?prefix=u',
  '/users/u1',
  '/users/u1/events',
];

async function refusal(url: string) {
  const res = await app.inject(url);
  return { status: res.statusCode, error: res.json().error, field: res.json().details?.[0]?.field };
}

describe('bad parameters are a 422 naming the parameter', () => {
  const RANGE = 'from=2025-10-01&to=2025-10-02';
  const cases: [string, string][] = [
    ['/stats/funnel?from=2025-10-01', 'steps'],
    [`/stats/funnel?steps=a&${RANGE}`, 'steps'],
    [`/stats/funnel?steps=a,a&${RANGE}`, 'steps'],
    [`/stats/funnel?steps=a,,b&${RANGE}`, 'steps'],
    [
      `/stats/funnel?steps=${Array.from({ length: 11 }, (_, i) => `t${i}`).join(',')}&${RANGE}`,
      'steps',
    ],
    [`/stats/funnel?steps=a,b&${RANGE}&window=91d`, 'window'],
    [`/stats/funnel?steps=a,b&${RANGE}&window=0m`, 'window'],
    [`/stats/funnel?steps=a,b&${RANGE}&window=7w`, 'window'],
    [`/stats/funnel?steps=a,b&${RANGE}&window=1.5h`, 'window'],
    [`/stats/funnel?steps=a,b&${RANGE}&where=plan`, 'where'],
    [`/stats/funnel?steps=a,b&${RANGE}&where=:pro`, 'where'],
    [`/stats/funnel?steps=a,b&${RANGE}&breakdown=plan&breakdown_limit=0`, 'breakdown_limit'],
    [`/stats/funnel?steps=a,b&${RANGE}&breakdown=plan&breakdown_limit=51`, 'breakdown_limit'],
    [`/stats/funnel?steps=a,b&${RANGE}&breakdown=plan&breakdown_limit=1e1`, 'breakdown_limit'],
    [`/stats/funnel?steps=a,b&${RANGE}&breakdown_limit=5`, 'breakdown_limit'],
    [`/stats/funnel?steps=a,b&${RANGE}&breakdown=`, 'breakdown'],
    ['/stats/funnel?steps=a,b&from=2024-01-01&to=2025-10-02', 'to'],
    ['/stats/funnel?steps=a,b&from=2025-10-03&to=2025-10-02', 'from'],
    [`/stats/funnel?steps=a,b&${RANGE}&tz=Mars/Olympus`, 'tz'],
    [`/stats/dau?${RANGE}&where=plan`, 'where'],
    [`/stats/dau?${RANGE}&breakdown=plan&breakdown_limit=51`, 'breakdown_limit'],
    [`/stats/dau?from=2024-01-01&to=2025-10-02&where=plan:pro`, 'to'],
    [
      `/stats/top-events?${RANGE}&${Array.from({ length: 21 }, (_, i) => `where=k${i}:v`).join('&')}`,
      'where',
    ],
    [`/stats/active-users?${RANGE}&breakdown=plan`, 'breakdown'],
    [`/stats/active-users?${RANGE}&where=nocolon`, 'where'],
    ['/stats/properties?from=2024-01-01&to=2025-10-02', 'to'],
    [`/stats/properties?${RANGE}&event_type=`, 'event_type'],
    ['/users/u1/events?before=abc', 'before'],
    ['/users/u1/events?limit=0', 'limit'],
    ['/users/u1/events?limit=1001', 'limit'],
    ['/users?prefix=u&limit=101', 'limit'],
  ];
  it.each(cases)('%s -> %s', async (url, field) => {
    const r = await refusal(url);
    expect(r).toMatchObject({ status: 422, error: 'validation_error' });
    if (r.field !== undefined) expect(r.field.replace(/^\//, '')).toBe(field);
  });
});

describe('answers', () => {
  it('funnel, filters, breakdowns, properties and users on a small example', async () => {
    await seed();
    const get = async (url: string) => {
      const res = await app.inject(url);
      expect(res.statusCode, res.body).toBe(200);
      return res;
    };
    const funnel = await get(
      '/stats/funnel?steps=signup,activate&from=2025-10-01&to=2025-10-02&breakdown=plan',
    );
    expect(funnel.headers['server-timing']).toMatch(/^raw-events;/);
    expect(funnel.json().steps).toEqual([
      {
        event_type: 'signup',
        users: 1,
        conversion_from_previous: 1,
        conversion_from_first: 1,
        median_seconds_from_previous: null,
        breakdown: 'free',
      },
      {
        event_type: 'activate',
        users: 0,
        conversion_from_previous: 0,
        conversion_from_first: 0,
        median_seconds_from_previous: null,
        breakdown: 'free',
      },
      {
        event_type: 'signup',
        users: 1,
        conversion_from_previous: 1,
        conversion_from_first: 1,
        median_seconds_from_previous: null,
        breakdown: 'pro',
      },
      {
        event_type: 'activate',
        users: 1,
        conversion_from_previous: 1,
        conversion_from_first: 1,
        median_seconds_from_previous: 3600,
        breakdown: 'pro',
      },
    ]);
    // Unfiltered: summaries, exactly as before.
    const dau = await get('/stats/dau?from=2025-10-01&to=2025-10-02');
    expect(dau.headers['server-timing']).toMatch(/^summaries;/);
    expect(dau.json()).toEqual([
      { date: '2025-10-01', unique_users: 1 },
      { date: '2025-10-02', unique_users: 1 },
    ]);
    const filtered = await get('/stats/dau?from=2025-10-01&to=2025-10-02&where=plan:free');
    expect(filtered.headers['server-timing']).toMatch(/^raw-events;/);
    expect(filtered.json()).toEqual([
      { date: '2025-10-01', unique_users: 0 },
      { date: '2025-10-02', unique_users: 1 },
    ]);
    const props = await get('/stats/properties?from=2025-10-01&to=2025-10-02&event_type=signup');
    expect(props.json()).toEqual({
      keys: [
        {
          key: 'plan',
          events: 2,
          values: [
            { value: 'free', events: 1 },
            { value: 'pro', events: 1 },
          ],
        },
        { key: 'n', events: 1, values: [{ value: '9007199254740993', events: 1 }] },
      ],
    });
    const events = await get('/users/u1/events?limit=1');
    expect(events.headers['content-type']).toBe('application/json; charset=utf-8');
    const next = events.json().next_cursor as string;
    expect(events.json().events.map((e: { event_type: string }) => e.event_type)).toEqual([
      'activate',
    ]);
    const older = await get(`/users/u1/events?limit=1&before=${next}`);
    // Every digit of a stored number, as stored (JSON.parse would round it).
    expect(older.body).toContain('"properties":{"n": 9007199254740993, "plan": "pro"}');
    expect(older.json().next_cursor).toBeNull();
    expect((await get('/users/u1')).json()).toMatchObject({ user_id: 'u1', events: 2 });
    expect((await get('/users?prefix=u&limit=1')).json()).toEqual({
      users: [{ user_id: 'u1', last_seen_at: '2025-10-01T11:00:00.000000Z' }],
    });
  });

  it('an unknown user is a 404 on the profile and the timeline', async () => {
    await seed();
    for (const url of ['/users/nobody', '/users/nobody/events', '/users/u2?project=other']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error).toBe('not_found');
    }
  });
});

describe('keys and projects', () => {
  it('needs a read key (AUTH=required), and a key sees its own project only', async () => {
    await seed();
    const { app: authed } = await buildTestApp(database, { auth: 'required' });
    try {
      const keys = await createKeys(database.db, { reader: 'read', writer: 'write', all: 'all' });
      const theirs = await createKeys(database.db, { theirs: 'read' }, otherId);
      const ask = (url: string, key?: string, project?: string) =>
        authed.inject({
          url,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(project ? { 'x-project': project } : {}),
          },
        });
      for (const url of ROUTES) {
        expect((await ask(url)).statusCode, url).toBe(401);
        expect((await ask(url, keys.writer)).statusCode, url).toBe(403);
        expect((await ask(url, keys.reader)).statusCode, url).toBe(200);
        expect((await ask(url, keys.all)).statusCode, url).toBe(200);
        // Another project's key naming this project: 404, whatever the route.
        expect((await ask(url, theirs.theirs, 'default')).statusCode, url).toBe(404);
      }
      // The other project's key reads its own u1 (one signup, plan free) and nothing else.
      const profile = await ask('/users/u1', theirs.theirs);
      expect(profile.json()).toMatchObject({ user_id: 'u1', events: 1 });
      expect((await ask('/users/u2', theirs.theirs)).statusCode).toBe(404);
      const funnel = await ask(
        '/stats/funnel?steps=signup,activate&from=2025-10-01&to=2025-10-02',
        theirs.theirs,
      );
      expect(funnel.json().steps.map((s: { users: number }) => s.users)).toEqual([1, 0]);
    } finally {
      await authed.close();
    }
  });
});

describe('outside_retention', () => {
  it('every /stats route refuses days before the first complete day of its path', async () => {
    await seed();
    // Raw events before 2025-10-02 expired; the UTC summaries were kept whole.
    await database.pool.query(
      `UPDATE projects SET raw_floor = '2025-10-02T00:00:00Z' WHERE slug = 'default'`,
    );
    app.projects.registry.invalidate();
    const before = 'from=2025-10-01&to=2025-10-03';
    const after = 'from=2025-10-02&to=2025-10-03';
    const raw = [
      `/stats/funnel?steps=signup,activate&${before}`,
      `/stats/properties?${before}`,
      `/stats/dau?${before}&where=plan:pro`,
      `/stats/dau?${before}&breakdown=plan`,
      `/stats/top-events?${before}&where=plan:pro`,
      `/stats/active-users?from=2025-10-30&to=2025-10-31&where=plan:pro`,
      `/stats/dau?${before}&tz=Asia/Kolkata`,
      `/stats/top-events?${before}&tz=Asia/Kolkata`,
      `/stats/retention?start_date=2025-10-01&tz=Asia/Kolkata`,
      `/stats/retention-matrix?${before}&tz=Asia/Kolkata`,
    ];
    for (const url of raw) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(422);
      expect(res.json().error, url).toBe('outside_retention');
    }
    // The same questions from the first complete day on are answered.
    for (const url of [
      `/stats/funnel?steps=signup,activate&${after}`,
      `/stats/dau?${after}&where=plan:pro`,
      `/stats/active-users?from=2025-10-31&to=2025-10-31&where=plan:pro`,
      `/stats/dau?from=2025-10-03&to=2025-10-04&tz=Asia/Kolkata`,
      // Summaries in UTC are complete: unfiltered questions there still reach back.
      `/stats/dau?${before}`,
      `/stats/top-events?${before}`,
      `/stats/active-users?${before}`,
      '/stats/overview',
    ]) {
      expect((await app.inject(url)).statusCode, url).toBe(200);
    }

    // A reporting zone whose summaries are complete from a day on refuses earlier days.
    await database.pool.query(
      `UPDATE project_zones SET complete_from = '2025-10-02'
       WHERE project_id = (SELECT project_id FROM projects WHERE slug = 'default')`,
    );
    app.projects.registry.invalidate();
    for (const url of [
      `/stats/dau?${before}`,
      `/stats/top-events?${before}`,
      `/stats/active-users?from=2025-10-30&to=2025-10-31`,
      '/stats/retention?start_date=2025-10-01',
      `/stats/retention-matrix?${before}`,
      // A weekly cohort of Friday 3 October starts on Monday 29 September.
      '/stats/retention-matrix?from=2025-10-03&to=2025-10-10&period=week&windows=1',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(422);
      expect(res.json()).toMatchObject({
        error: 'outside_retention',
        details: [{ field: expect.any(String) }],
      });
    }
    expect((await app.inject(`/stats/dau?${after}`)).statusCode).toBe(200);
    expect((await app.inject('/stats/retention?start_date=2025-10-02')).statusCode).toBe(200);
    expect(
      (
        await app.inject(
          '/stats/retention-matrix?from=2025-10-06&to=2025-10-10&period=week&windows=1',
        )
      ).statusCode,
    ).toBe(200);
  });
});

describe('the raw-event gate', () => {
  it('admits RAW_STATS_CONCURRENCY exploration queries; beyond the queue, 503 busy', async () => {
    await seed();
    const { app: gated } = await buildTestApp(database, {
      rawStatsConcurrency: 1,
      rawStatsQueue: 0,
    });
    // Hold the events table so that the first admitted query waits inside the gate.
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const first = gated.inject(ROUTES[0] as string);
      // Let the first request take its turn.
      for (let i = 0; i < 50; i++) {
        const { rows } = await locker.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass`,
        );
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const url of ROUTES.slice(1)) {
        const res = await gated.inject(url);
        expect(res.statusCode, url).toBe(503);
        expect(res.json().error).toBe('busy');
        expect(res.headers['retry-after']).toBe('1');
      }
      await locker.query('ROLLBACK');
      expect((await first).statusCode).toBe(200);
    } finally {
      await locker.end();
      await gated.close();
    }
  });
});
