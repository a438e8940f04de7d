import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEvents } from '../../src/ingest/write-events.js';
import { ensureReportZones } from '../../src/stats/report-zones.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { expectedSummaries, summarySnapshot } from '../helpers/summaries.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

describe('REPORT_TIME_ZONES', () => {
  it('adds each zone once (names are case-insensitive, UTC aliases are UTC), built from the stored events', async () => {
    await writeEvents(database.db, [
      {
        event_id: '00000000-0000-4000-8000-000000000001',
        occurred_at: '2025-10-25T21:30:00Z',
        user_id: 'u1',
        event_type: 'view',
        properties: '{}',
      },
      {
        event_id: '00000000-0000-4000-8000-000000000002',
        occurred_at: '2025-10-26T22:30:00Z',
        user_id: 'u1',
        event_type: 'view',
        properties: '{}',
      },
    ]);
    const zones = ['Europe/Kyiv', 'europe/kyiv', 'UTC', 'Etc/UTC'];
    expect(await ensureReportZones(database.db, zones)).toEqual(['Europe/Kyiv']);
    expect(await ensureReportZones(database.db, zones)).toEqual([]);
    const { rows } = await database.pool.query('SELECT name FROM report_zones ORDER BY zone_id');
    expect(rows.map((r) => r.name)).toEqual(['UTC', 'Europe/Kyiv']);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('refuses a zone PostgreSQL does not know with SQLSTATE 22023, before writing anything', async () => {
    await expect(
      database.pool.query(`SELECT add_report_zone('Mars/Olympus')`),
    ).rejects.toMatchObject({
      code: '22023',
    });
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM report_zones');
    expect(rows[0].n).toBe(2);
  });
});
