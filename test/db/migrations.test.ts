import { Migrator, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateDown, migrateToLatest, SqlFileMigrationProvider } from '../../src/db/migrator.js';
import { createKysely, createPool } from '../../src/db/pool.js';
import { writeEvents } from '../../src/ingest/write-events.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { SUMMARY_TABLES, summarySnapshot } from '../helpers/summaries.js';

const opened: TestDatabase[] = [];
async function freshDatabase(migrated = false) {
  const database = await createTestDatabase({ migrated });
  opened.push(database);
  return database;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

async function tables(database: TestDatabase): Promise<string[]> {
  const { rows } = await database.pool.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely%' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

describe('migrations', () => {
  it('go up to the latest, down one step at a time, and up again', async () => {
    const names = Object.keys(await new SqlFileMigrationProvider().getMigrations());
    expect(names.slice(0, 2)).toEqual(['0001_create_events', '0002_create_summaries']);
    const database = await freshDatabase();
    expect(await migrateToLatest(database.db)).toEqual(names);
    expect(await tables(database)).toEqual(expect.arrayContaining([...SUMMARY_TABLES, 'events']));
    expect(await migrateToLatest(database.db)).toEqual([]);

    for (const name of [...names].reverse()) {
      expect(await migrateDown(database.db)).toEqual([name]);
      if (name === '0002_create_summaries') expect(await tables(database)).toEqual(['events']);
    }
    expect(await tables(database)).toEqual([]);
    expect(await migrateDown(database.db)).toEqual([]);

    expect(await migrateToLatest(database.db)).toEqual(names);
  });

  it('are safe when several instances migrate at once', async () => {
    const database = await freshDatabase();
    const others = Array.from({ length: 4 }, () => {
      const pool = createPool(database.url, { max: 2 });
      return createKysely(pool);
    });
    try {
      const applied = await Promise.all(others.map((db) => migrateToLatest(db)));
      const names = Object.keys(await new SqlFileMigrationProvider().getMigrations());
      expect(applied.flat().sort()).toEqual(names);
    } finally {
      await Promise.all(others.map((db) => db.destroy()));
    }
  });

  it('0002 builds the summaries of events already stored exactly as live ingestion does', async () => {
    const events = Array.from({ length: 300 }, (_, i) => ({
      event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      occurred_at: new Date(Date.UTC(2025, 9, 1 + (i % 13), (i * 7) % 24)).toISOString(),
      user_id: `u${(i * 31) % 23}`,
      event_type: `t${i % 4}`,
      properties: '{}',
    }));

    // An existing database on 0001 with events in it, then the upgrade.
    const upgraded = await freshDatabase();
    const migrator = new Migrator({ db: upgraded.db, provider: new SqlFileMigrationProvider() });
    const first = await migrator.migrateTo('0001_create_events');
    expect(first.error).toBeUndefined();
    await sql`
      INSERT INTO events (event_id, occurred_at, user_id, event_type)
      SELECT * FROM unnest(${events.map((e) => e.event_id)}::uuid[], ${events.map((e) => e.occurred_at)}::timestamptz[],
                           ${events.map((e) => e.user_id)}::text[], ${events.map((e) => e.event_type)}::text[])`.execute(
      upgraded.db,
    );
    await migrateToLatest(upgraded.db);

    // The same events ingested live, in several shuffled batches.
    const live = await freshDatabase(true);
    const shuffled = [...events].sort(() => Math.random() - 0.5);
    for (let i = 0; i < shuffled.length; i += 37)
      await writeEvents(live.db, shuffled.slice(i, i + 37));

    expect(await summarySnapshot(upgraded.pool)).toEqual(await summarySnapshot(live.pool));
  });
});
