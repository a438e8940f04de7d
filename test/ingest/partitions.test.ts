import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weekStart } from '../../src/ingest/partitions.js';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createProjectRow } from '../helpers/summaries.js';

/** Partitions made on demand for a batch: the weeks it has, whatever lies between them. */
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

async function partitionWeeks(): Promise<number[]> {
  const { rows } = await database.pool.query<{ week_start: Date }>(
    'SELECT week_start FROM analytics.event_partitions()',
  );
  return rows.map((r) => r.week_start.getTime()).sort((a, b) => a - b);
}

describe('partitions on demand', () => {
  it('a batch with an event from 1971 and one from now adds the two weeks only', async () => {
    const project = await createProjectRow(database.pool, 'old-and-new', ['UTC']);
    const old = '1971-03-10T12:00:00.000Z';
    const recent = new Date().toISOString();
    const before = await partitionWeeks();
    const result = await writeEvents(
      database.db,
      toStore(project, 'events', [
        {
          event_id: '00000000-0000-4000-8000-000000000001',
          occurred_at: old,
          user_id: 'u1',
          event_type: 'view',
          properties: '{}',
        },
        {
          event_id: '00000000-0000-4000-8000-000000000002',
          occurred_at: recent,
          user_id: 'u1',
          event_type: 'view',
          properties: '{}',
        },
      ]),
    );
    expect(result).toEqual({ accepted: 2, skipped: 0 });
    const expected = new Set([
      ...before,
      weekStart(Date.parse(old)),
      weekStart(Date.parse(recent)),
    ]);
    expect(await partitionWeeks()).toEqual([...expected].sort((a, b) => a - b));
  });
});
