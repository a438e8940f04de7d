import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { ensureDefaultProjectZones } from '../../src/projects/default-zones.js';
import { findProject, updateProject } from '../../src/projects/repository.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createProjectRow, expectedSummaries, summarySnapshot } from '../helpers/summaries.js';

let database: TestDatabase;
let other: number;
beforeAll(async () => {
  database = await createTestDatabase();
  other = await createProjectRow(database.pool, 'other', ['America/New_York']);
});
afterAll(async () => {
  await database.close();
});

const events = [
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
];

async function zonesOf(slug: string): Promise<string[]> {
  return (await findProject(database.db, { slug }))?.zones.map((z) => z.name) ?? [];
}

describe('reporting zones per project', () => {
  it('REPORT_TIME_ZONES adds each zone to default once (case-insensitive, UTC aliases are UTC), built from its events only; the first becomes the main zone', async () => {
    await writeEvents(database.db, toStore(1, 'events', events));
    // The same ids and user in another project, which must not count in default's zones.
    await writeEvents(database.db, toStore(other, 'events', events));
    const zones = ['Europe/Kyiv', 'europe/kyiv', 'UTC', 'Etc/UTC'];
    await expect(ensureDefaultProjectZones(database.db, zones)).rejects.toThrow(/twice/);
    expect(await ensureDefaultProjectZones(database.db, ['Europe/Kyiv', 'Etc/UTC'])).toEqual([
      'Europe/Kyiv',
    ]);
    expect(await ensureDefaultProjectZones(database.db, ['Europe/Kyiv'])).toEqual([]);
    expect(await zonesOf('default')).toEqual(['Europe/Kyiv', 'UTC']);
    expect(await zonesOf('other')).toEqual(['America/New_York', 'UTC']);
    // Another zone later is appended; the main zone stays.
    expect(await ensureDefaultProjectZones(database.db, ['Asia/Kathmandu'])).toEqual([
      'Asia/Kathmandu',
    ]);
    expect(await zonesOf('default')).toEqual(['Europe/Kyiv', 'Asia/Kathmandu', 'UTC']);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('replacing the list removes zones with their summaries and builds new ones; UTC always stays', async () => {
    const { built } = await updateProject(database.db, 'other', {
      zones: ['Pacific/Chatham', 'Asia/Kathmandu'],
    });
    expect(built).toEqual(['Pacific/Chatham', 'Asia/Kathmandu']);
    expect(await zonesOf('other')).toEqual(['Pacific/Chatham', 'Asia/Kathmandu', 'UTC']);
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM user_days d JOIN report_zones z USING (zone_id)
       WHERE d.project_id = $1 AND z.name = 'America/New_York'`,
      [other],
    );
    expect(rows[0].n).toBe(0);
    // UTC listed first is the main zone.
    await updateProject(database.db, 'other', { zones: ['UTC', 'Asia/Kathmandu'] });
    expect(await zonesOf('other')).toEqual(['UTC', 'Asia/Kathmandu']);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('refuses a zone PostgreSQL does not know with SQLSTATE 22023, before writing anything', async () => {
    await expect(
      database.pool.query(`SELECT analytics.set_project_zones($1, ARRAY['Mars/Olympus'])`, [other]),
    ).rejects.toMatchObject({ code: '22023' });
    expect(await zonesOf('other')).toEqual(['UTC', 'Asia/Kathmandu']);
  });

  it("building a zone of one project holds that project's writes only", async () => {
    const client = await database.pool.connect();
    try {
      // A zone build in progress in project "other" (its lock held exclusively).
      await client.query('BEGIN');
      await client.query('SELECT analytics.lock_project_exclusive($1)', [other]);
      const more = events.map((e, i) => ({
        ...e,
        event_id: `00000000-0000-4000-8000-00000000010${i}`,
      }));
      // Default's batch commits while the build holds "other".
      const defaultWrite = await Promise.race([
        writeEvents(database.db, toStore(1, 'events', more)),
        new Promise((resolve) => setTimeout(() => resolve('blocked'), 5000)),
      ]);
      expect(defaultWrite).toEqual({ accepted: 2, skipped: 0 });
      // Other's batch waits for the build.
      let otherDone = false;
      const otherWrite = writeEvents(database.db, toStore(other, 'events', more)).then((r) => {
        otherDone = true;
        return r;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(otherDone).toBe(false);
      await client.query('COMMIT');
      expect(await otherWrite).toEqual({ accepted: 2, skipped: 0 });
    } finally {
      client.release();
    }
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });
});
