import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatDay, today } from '../../src/stats/dates.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event, type TestEvent } from '../helpers/events.js';
import { emptyTables } from '../helpers/summaries.js';

let database: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

async function ingest(events: TestEvent[]) {
  const res = await app.inject({ method: 'POST', url: '/events', payload: events });
  expect(res.statusCode).toBe(202);
  return res.json();
}

async function get(url: string) {
  const res = await app.inject(url);
  return { status: res.statusCode, body: res.json() };
}

const e = (user_id: string, occurred_at: string, event_type = 'login') =>
  event({ user_id, occurred_at, event_type });

describe('GET /stats/dau', () => {
  it('counts distinct users per day, every day of the range, zero-filled', async () => {
    await ingest([
      e('u1', '2025-10-19T10:00:00Z'),
      e('u1', '2025-10-19T11:00:00Z'),
      e('u2', '2025-10-19T12:00:00Z'),
      e('u3', '2025-10-19T23:59:59Z'),
      e('u3', '2025-10-21T00:00:00Z'),
    ]);
    const { status, body } = await get('/stats/dau?from=2025-10-18&to=2025-10-22');
    expect(status).toBe(200);
    expect(body).toEqual([
      { date: '2025-10-18', unique_users: 0 },
      { date: '2025-10-19', unique_users: 3 },
      { date: '2025-10-20', unique_users: 0 },
      { date: '2025-10-21', unique_users: 1 },
      { date: '2025-10-22', unique_users: 0 },
    ]);
  });

  it('places offsets on their UTC day: +03:00 can move an event to the day before, -05:00 to the day after', async () => {
    await ingest([e('east', '2025-10-20T01:00:00+03:00'), e('west', '2025-10-19T21:00:00-05:00')]);
    expect((await get('/stats/dau?from=2025-10-19&to=2025-10-20')).body).toEqual([
      { date: '2025-10-19', unique_users: 1 }, // east: 2025-10-19T22:00Z
      { date: '2025-10-20', unique_users: 1 }, // west: 2025-10-20T02:00Z
    ]);
  });

  it('uses the calendar days of tz, including across a daylight-saving change', async () => {
    // Europe/Kyiv moves from +02:00 to +03:00 at 2025-03-30T01:00Z.
    await ingest([
      e('a', '2025-03-29T22:30:00Z'), // Kyiv 2025-03-30 00:30 (+02:00)
      e('b', '2025-03-30T21:30:00Z'), // Kyiv 2025-03-31 00:30 (+03:00)
      e('c', '2025-03-30T20:30:00Z'), // Kyiv 2025-03-30 23:30 (+03:00)
    ]);
    expect((await get('/stats/dau?from=2025-03-29&to=2025-03-31')).body).toEqual([
      { date: '2025-03-29', unique_users: 1 },
      { date: '2025-03-30', unique_users: 2 },
      { date: '2025-03-31', unique_users: 0 },
    ]);
    expect((await get('/stats/dau?from=2025-03-29&to=2025-03-31&tz=Europe/Kyiv')).body).toEqual([
      { date: '2025-03-29', unique_users: 0 },
      { date: '2025-03-30', unique_users: 2 },
      { date: '2025-03-31', unique_users: 1 },
    ]);
  });

  it('never counts a duplicate twice, within or across batches', async () => {
    const one = e('u1', '2025-10-19T10:00:00Z');
    await ingest([one, one, e('u2', '2025-10-19T10:00:00Z')]);
    await ingest([one, { ...one, user_id: 'intruder' }]);
    expect((await get('/stats/dau?from=2025-10-19&to=2025-10-19')).body).toEqual([
      { date: '2025-10-19', unique_users: 2 },
    ]);
  });

  it('defaults to the last 30 days ending today (UTC)', async () => {
    const now = new Date().toISOString();
    await ingest([e('now', now)]);
    const { body } = await get('/stats/dau');
    expect(body).toHaveLength(30);
    expect(body[29]).toEqual({ date: formatDay(today('UTC')), unique_users: 1 });
    expect(body[0].date).toBe(formatDay(today('UTC') - 29));
  });

  it.each([
    ['from after to', '/stats/dau?from=2025-10-20&to=2025-10-19', 'from'],
    ['an impossible date', '/stats/dau?from=2025-02-30&to=2025-03-01', 'from'],
    ['a malformed date', '/stats/dau?from=19.10.2025&to=2025-10-20', 'from'],
    ['a range over 3660 days', '/stats/dau?from=2015-01-01&to=2025-01-08', 'to'],
    ['an unknown time zone', '/stats/dau?from=2025-10-19&to=2025-10-20&tz=Mars/Olympus', 'tz'],
    ['a raw offset for tz', '/stats/dau?from=2025-10-19&to=2025-10-20&tz=%2B03:00', 'tz'],
  ])('answers 422 for %s', async (_name, url, field) => {
    const { status, body } = await get(url);
    expect(status).toBe(422);
    expect(body.error).toBe('validation_error');
    expect(body.details[0].field).toBe(field);
  });

  it('accepts exactly 3660 days', async () => {
    const { status, body } = await get('/stats/dau?from=2015-01-01&to=2025-01-07');
    expect(status).toBe(200);
    expect(body).toHaveLength(3660);
  });
});

describe('GET /stats/top-events', () => {
  it('orders by count desc then event_type asc, with distinct users, limited', async () => {
    await ingest([
      e('u1', '2025-10-19T10:00:00Z', 'purchase'),
      e('u1', '2025-10-20T10:00:00Z', 'purchase'),
      e('u2', '2025-10-20T10:00:00Z', 'purchase'),
      e('u1', '2025-10-19T10:00:00Z', 'login'),
      e('u2', '2025-10-19T10:00:00Z', 'login'),
      e('u3', '2025-10-21T10:00:00Z', 'login'),
      e('u1', '2025-10-19T10:00:00Z', 'view'),
      e('u9', '2025-10-25T10:00:00Z', 'view'), // outside the range
      e('u1', '2025-10-19T10:00:00Z', 'Zebra'),
    ]);
    expect((await get('/stats/top-events?from=2025-10-19&to=2025-10-24')).body).toEqual([
      { event_type: 'login', count: 3, unique_users: 3 },
      { event_type: 'purchase', count: 3, unique_users: 2 },
      { event_type: 'Zebra', count: 1, unique_users: 1 },
      { event_type: 'view', count: 1, unique_users: 1 },
    ]);
    expect(
      (await get('/stats/top-events?from=2025-10-19&to=2025-10-24&limit=2')).body,
    ).toHaveLength(2);
    // A user active on several days of the range counts once.
    expect((await get('/stats/top-events?from=2025-10-20&to=2025-10-21')).body).toEqual([
      { event_type: 'purchase', count: 2, unique_users: 2 },
      { event_type: 'login', count: 1, unique_users: 1 },
    ]);
  });

  it('stays exact when one late batch brings several earlier days of a type', async () => {
    await ingest([e('u1', '2025-10-10T10:00:00Z', 'view')]);
    await ingest([
      e('u1', '2025-10-05T10:00:00Z', 'view'),
      e('u1', '2025-10-07T10:00:00Z', 'view'),
    ]);
    for (const [from, to, users] of [
      ['2025-10-06', '2025-10-10', 1],
      ['2025-10-08', '2025-10-10', 1],
      ['2025-10-01', '2025-10-31', 1],
      ['2025-10-08', '2025-10-09', 0],
    ] as const) {
      const body = (await get(`/stats/top-events?from=${from}&to=${to}`)).body;
      expect(body[0]?.unique_users ?? 0, `${from}..${to}`).toBe(users);
    }
  });

  it('is empty for a range without events', async () => {
    expect((await get('/stats/top-events?from=2025-01-01&to=2025-01-02')).body).toEqual([]);
  });

  it.each([
    ['/stats/top-events?limit=0', 'limit'],
    ['/stats/top-events?limit=101', 'limit'],
    ['/stats/top-events?limit=ten', 'limit'],
    ['/stats/top-events?from=2025-10-10&to=2025-10-01', 'from'],
  ])('answers 422 for %s', async (url, field) => {
    const { status, body } = await get(url);
    expect(status).toBe(422);
    expect(body.details[0].field).toBe(field);
  });
});

describe('GET /stats/retention', () => {
  it('follows the cohort whose first event is on start_date', async () => {
    await ingest([
      e('old', '2025-10-18T10:00:00Z'), // first seen before start_date: not in the cohort
      e('old', '2025-10-19T10:00:00Z'),
      e('u1', '2025-10-19T08:00:00Z'),
      e('u2', '2025-10-19T09:00:00Z'),
      e('u3', '2025-10-19T23:59:59Z'),
      e('u1', '2025-10-20T08:00:00Z'),
      e('u2', '2025-10-20T00:00:00Z'),
      e('u2', '2025-10-21T12:00:00Z'),
      e('new', '2025-10-20T12:00:00Z'), // later cohort
    ]);
    expect((await get('/stats/retention?start_date=2025-10-19&windows=3')).body).toEqual({
      start_date: '2025-10-19',
      cohort_size: 3,
      windows: [
        { day: 0, count: 3, rate: 1 },
        { day: 1, count: 2, rate: 0.6667 },
        { day: 2, count: 1, rate: 0.3333 },
        { day: 3, count: 0, rate: 0 },
      ],
    });
  });

  it('defaults to windows=3, allows windows=0, and returns N+1 zero entries for an empty cohort', async () => {
    const empty = await get('/stats/retention?start_date=2025-01-01');
    expect(empty.body).toEqual({
      start_date: '2025-01-01',
      cohort_size: 0,
      windows: [0, 1, 2, 3].map((day) => ({ day, count: 0, rate: 0 })),
    });
    await ingest([e('u1', '2025-01-01T00:00:00Z')]);
    expect((await get('/stats/retention?start_date=2025-01-01&windows=0')).body.windows).toEqual([
      { day: 0, count: 1, rate: 1 },
    ]);
  });

  it('moves a user to an earlier cohort when an older event arrives late', async () => {
    await ingest([
      e('u1', '2025-10-20T10:00:00Z'),
      e('u1', '2025-10-21T10:00:00Z'),
      e('u2', '2025-10-20T10:00:00Z'),
    ]);
    expect((await get('/stats/retention?start_date=2025-10-20&windows=1')).body.cohort_size).toBe(
      2,
    );
    await ingest([e('u1', '2025-10-18T10:00:00Z')]);
    expect((await get('/stats/retention?start_date=2025-10-20&windows=1')).body).toMatchObject({
      cohort_size: 1,
      windows: [
        { day: 0, count: 1 },
        { day: 1, count: 0 },
      ],
    });
    expect(
      (await get('/stats/retention?start_date=2025-10-18&windows=3')).body.windows.map(
        (w: { count: number }) => w.count,
      ),
    ).toEqual([1, 0, 1, 1]);
  });

  it('decides the first day in tz', async () => {
    // 22:30Z on the 19th is the 20th in Kyiv (+03:00 in October).
    await ingest([e('u1', '2025-10-19T22:30:00Z'), e('u1', '2025-10-20T22:30:00Z')]);
    expect((await get('/stats/retention?start_date=2025-10-19&windows=1')).body.cohort_size).toBe(
      1,
    );
    expect(
      (await get('/stats/retention?start_date=2025-10-20&windows=1&tz=Europe/Kyiv')).body,
    ).toMatchObject({
      cohort_size: 1,
      windows: [
        { day: 0, count: 1, rate: 1 },
        { day: 1, count: 1, rate: 1 },
      ],
    });
  });

  it.each([
    ['/stats/retention', 'start_date'],
    ['/stats/retention?start_date=2025-13-01', 'start_date'],
    ['/stats/retention?start_date=2025-10-19&windows=61', 'windows'],
    ['/stats/retention?start_date=2025-10-19&windows=-1', 'windows'],
    ['/stats/retention?start_date=2025-10-19&tz=Nowhere', 'tz'],
  ])('answers 422 for %s', async (url, field) => {
    const { status, body } = await get(url);
    expect(status).toBe(422);
    expect(body).toMatchObject({ error: 'validation_error', details: [{ field }] });
  });
});

describe('freshness', () => {
  it('shows accepted events in every endpoint as soon as the 202 is sent', async () => {
    await ingest([e('u1', '2025-10-19T10:00:00Z', 'signup')]);
    expect((await get('/stats/dau?from=2025-10-19&to=2025-10-19')).body[0].unique_users).toBe(1);
    expect((await get('/stats/top-events?from=2025-10-19&to=2025-10-19')).body[0]).toEqual({
      event_type: 'signup',
      count: 1,
      unique_users: 1,
    });
    expect((await get('/stats/retention?start_date=2025-10-19&windows=0')).body.cohort_size).toBe(
      1,
    );
  });
});

describe('GET /stats/active-users', () => {
  it('gives dau, wau and mau for every day, zero-filled', async () => {
    await ingest([
      e('u1', '2025-10-01T10:00:00Z'),
      e('u2', '2025-10-05T10:00:00Z'),
      e('u1', '2025-10-08T10:00:00Z'),
      e('u3', '2025-10-31T10:00:00Z'),
    ]);
    const { status, body } = await get('/stats/active-users?from=2025-10-07&to=2025-10-09');
    expect(status).toBe(200);
    expect(body).toEqual([
      { date: '2025-10-07', dau: 0, wau: 2, mau: 2 },
      { date: '2025-10-08', dau: 1, wau: 2, mau: 2 },
      { date: '2025-10-09', dau: 0, wau: 2, mau: 2 },
    ]);
    const late = await get('/stats/active-users?from=2025-10-30&to=2025-10-31');
    // 2025-10-31: the 30 days 10-02..10-31 hold u2, u1 (10-08) and u3; 10-01 has dropped out.
    expect(late.body).toEqual([
      { date: '2025-10-30', dau: 0, wau: 0, mau: 2 },
      { date: '2025-10-31', dau: 1, wau: 1, mau: 3 },
    ]);
  });

  it('refuses more than 366 days and unknown zones', async () => {
    expect((await get('/stats/active-users?from=2024-01-01&to=2025-01-01')).status).toBe(422);
    expect((await get('/stats/active-users?from=2024-01-01&to=2024-12-31')).status).toBe(200);
    const res = await get('/stats/active-users?tz=Mars/Olympus');
    expect(res.status).toBe(422);
    expect(res.body.details).toEqual([{ field: 'tz', message: expect.any(String) }]);
  });
});

describe('GET /stats/retention-matrix', () => {
  it('gives a cohort per day, with counts and rates per later day', async () => {
    await ingest([
      e('a', '2025-10-01T10:00:00Z'),
      e('b', '2025-10-01T11:00:00Z'),
      e('a', '2025-10-02T10:00:00Z'),
      e('b', '2025-10-04T10:00:00Z'),
      e('c', '2025-10-02T09:00:00Z'),
    ]);
    const { status, body } = await get(
      '/stats/retention-matrix?from=2025-10-01&to=2025-10-03&windows=3',
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      period: 'day',
      cohorts: [
        { start_date: '2025-10-01', size: 2, counts: [2, 1, 0, 1], rates: [1, 0.5, 0, 0.5] },
        { start_date: '2025-10-02', size: 1, counts: [1, 0, 0, 0], rates: [1, 0, 0, 0] },
        { start_date: '2025-10-03', size: 0, counts: [0, 0, 0, 0], rates: [0, 0, 0, 0] },
      ],
    });
  });

  it('gives ISO-week cohorts from Monday, counting a user once per week', async () => {
    await ingest([
      e('a', '2025-10-05T10:00:00Z'), // Sunday: week of Monday 09-29
      e('b', '2025-09-29T00:00:00Z'),
      e('a', '2025-10-06T10:00:00Z'), // next week, twice
      e('a', '2025-10-07T10:00:00Z'),
    ]);
    const { body } = await get(
      '/stats/retention-matrix?from=2025-10-01&to=2025-10-01&period=week&windows=2',
    );
    expect(body).toEqual({
      period: 'week',
      cohorts: [{ start_date: '2025-09-29', size: 2, counts: [2, 1, 0], rates: [1, 0.5, 0] }],
    });
  });

  it('leaves out periods that have not ended yet', async () => {
    const now = today('UTC');
    const day = (n: number) => formatDay(now + n);
    await ingest([e('a', `${day(-2)}T10:00:00Z`), e('a', `${day(0)}T00:00:01Z`)]);
    const { body } = await get(`/stats/retention-matrix?from=${day(-2)}&to=${day(0)}&windows=5`);
    expect(body.cohorts).toEqual([
      { start_date: day(-2), size: 1, counts: [1, 0], rates: [1, 0] },
      { start_date: day(-1), size: 0, counts: [0], rates: [0] },
      { start_date: day(0), size: 0, counts: [], rates: [] },
    ]);
  });

  it('bounds the work of one request', async () => {
    expect((await get('/stats/retention-matrix?from=2025-01-01&to=2025-04-03')).status).toBe(422);
    expect((await get('/stats/retention-matrix?from=2025-01-01&to=2025-04-02')).status).toBe(200);
    expect(
      (await get('/stats/retention-matrix?from=2025-01-01&to=2025-01-01&period=week&windows=13'))
        .status,
    ).toBe(422);
    expect((await get('/stats/retention-matrix?windows=31')).status).toBe(422);
    expect((await get('/stats/retention-matrix?period=month')).status).toBe(422);
  });
});

describe('GET /stats/overview', () => {
  it('counts events and distinct users of the current day in tz', async () => {
    const now = today('Asia/Kathmandu');
    const date = formatDay(now);
    // 00:00 local in Kathmandu is 18:15 UTC the day before.
    const midnight = new Date(`${date}T00:00:00+05:45`).getTime();
    await ingest([
      e('u1', new Date(midnight).toISOString()),
      e('u1', new Date(midnight + 60_000).toISOString()),
      e('u2', new Date(midnight - 1000).toISOString()), // the day before
    ]);
    const { status, body } = await get('/stats/overview?tz=Asia/Kathmandu');
    expect(status).toBe(200);
    expect(body).toEqual({ date, events_today: 2, active_users_today: 1 });
    const utc = await get('/stats/overview');
    expect(utc.body.date).toBe(formatDay(today('UTC')));
  });
});
