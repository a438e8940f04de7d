import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

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

const RANGE = 'from=2025-10-01&to=2025-10-07';

async function expect422(url: string, field: string) {
  const res = await app.inject(url);
  expect(res.statusCode, url).toBe(422);
  const body = res.json();
  expect(body.error).toBe('validation_error');
  expect(body.details.map((d: { field: string }) => d.field)).toContain(field);
}

describe('integers in query strings are plain decimal digits (item 5)', () => {
  it.each([
    '1e400',
    'Infinity',
    '-Infinity',
    '0x10',
    '%20%205',
    '5%20',
    '1e1',
    '1.0',
    '+5',
    '-0',
    '',
    '99999999999999999999999',
    '10&limit=20',
  ])('limit=%s is a 422', async (value) => {
    await expect422(`/stats/top-events?${RANGE}&limit=${value}`, 'limit');
  });

  it.each(['1.0', '1e400', '-1e400', '1e1', '0x3', 'NaN'])('windows=%s is a 422', async (value) => {
    await expect422(`/stats/retention?start_date=2025-10-01&windows=${value}`, 'windows');
  });

  it('plain digits still work, leading zeros included', async () => {
    expect((await app.inject(`/stats/top-events?${RANGE}&limit=5`)).statusCode).toBe(200);
    expect((await app.inject(`/stats/top-events?${RANGE}&limit=007`)).statusCode).toBe(200);
    const retention = await app.inject('/stats/retention?start_date=2025-10-01&windows=0');
    expect(retention.json().windows).toHaveLength(1);
    await expect422(`/stats/top-events?${RANGE}&limit=101`, 'limit');
  });
});

describe('dates are years 0001..9999, derived dates too (item 5)', () => {
  it.each([
    ['/stats/dau?from=0000-01-01&to=0000-01-01', 'to'],
    ['/stats/dau?from=0000-12-31&to=0001-01-01', 'from'],
    ['/stats/dau?to=0001-01-05', 'from'],
    ['/stats/dau?to=0001-01-05&tz=Europe/Kyiv', 'from'],
    ['/stats/top-events?to=0001-01-29', 'from'],
    ['/stats/retention?start_date=0000-06-01', 'start_date'],
  ])('%s is a 422', async (url, field) => {
    await expect422(url, field);
  });

  it.each([
    '/stats/dau?to=0001-01-30',
    '/stats/dau?from=0001-01-01&to=0001-01-05&tz=America/New_York',
    '/stats/dau?from=9999-12-25&to=9999-12-31&tz=Pacific/Kiritimati',
    '/stats/top-events?from=0001-01-01&to=0001-01-01&tz=Pacific/Kiritimati',
    '/stats/retention?start_date=0001-01-01&tz=America/New_York',
    '/stats/retention?start_date=9999-12-31&windows=0&tz=Pacific/Kiritimati',
    '/stats/retention?start_date=9999-11-01&windows=60&tz=Pacific/Kiritimati',
    '/stats/active-users?from=0001-01-30&to=0001-02-05&tz=Pacific/Pago_Pago',
    '/stats/retention-matrix?from=9999-12-01&to=9999-12-20&windows=7',
  ])('%s, at the edges of the range, is a 200', async (url) => {
    const res = await app.inject(url);
    expect(res.statusCode, res.body).toBe(200);
  });

  it.each([
    ['/stats/retention?start_date=9999-12-31&windows=60', 'windows'],
    ['/stats/retention?start_date=9999-12-31&windows=1&tz=Pacific/Kiritimati', 'windows'],
    ['/stats/active-users?from=0001-01-01&to=0001-01-05', 'from'],
    ['/stats/active-users?from=0001-01-29&to=0001-01-30&tz=America/New_York', 'from'],
    ['/stats/retention-matrix?from=9999-12-01&to=9999-12-31&period=week&windows=12', 'to'],
    [
      '/stats/retention-matrix?from=9999-12-01&to=9999-12-31&windows=30&tz=Pacific/Kiritimati',
      'to',
    ],
  ])('%s derives a date outside years 0001..9999: 422 on %s', async (url, field) => {
    const res = await app.inject(url);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().details[0].field).toBe(field);
  });
});
