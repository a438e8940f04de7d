import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let test: TestApp;

beforeAll(async () => {
  database = await createTestDatabase();
  test = await buildTestApp(database);
});
afterAll(async () => {
  await test.app.close();
  await database.close();
});

it("serves analytics.js's short paths: /v1/t as track, /v1/p as page, /v1/b as a batch", async () => {
  const message = (type: string, id: string) => ({
    type,
    event: type === 't' ? 'Clicked' : undefined,
    userId: 'u-js',
    messageId: id,
    timestamp: '2025-10-19T10:00:00.000Z',
    writeKey: 'browser-key',
  });
  const post = (url: string, payload: unknown) =>
    test.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify(payload),
    });
  expect((await post('/v1/t', { ...message('t', 'js-1'), type: undefined })).statusCode).toBe(200);
  expect((await post('/v1/p', { ...message('p', 'js-2'), type: undefined })).statusCode).toBe(200);
  expect(
    (
      await post('/v1/b', {
        batch: [{ ...message('track', 'js-3'), event: 'Bought' }],
        writeKey: 'k',
      })
    ).statusCode,
  ).toBe(200);
  const { rows } = await database.pool.query(
    'SELECT event_type FROM events WHERE user_id = $1 ORDER BY event_type',
    ['u-js'],
  );
  expect(rows.map((r) => r.event_type)).toEqual(['$pageview', 'Bought', 'Clicked']);
});
