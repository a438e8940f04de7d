import { Migrator, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { applyFunctions } from '../../src/db/functions.js';
import { migrateDown, migrateToLatest, SqlFileMigrationProvider } from '../../src/db/migrator.js';
import { createKysely, createPool } from '../../src/db/pool.js';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { legacyExpected, legacySnapshot, legacyWrite } from '../helpers/legacy.js';
import {
  addReportZones,
  createProjectRow,
  expectedSummaries,
  SUMMARY_TABLES,
  summarySnapshot,
} from '../helpers/summaries.js';

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
      await writeEvents(live.db, toStore(1, 'events', shuffled.slice(i, i + 37)));

    expect(await summarySnapshot(upgraded.pool)).toEqual(await summarySnapshot(live.pool));
  });

  /** The 0003 summary tables, sorted, zero-count rows left out (they equal no row). */
  async function v1Summaries(database: TestDatabase) {
    const out: Record<string, string[]> = {};
    for (const table of [
      'user_first_seen',
      'daily_user_activity',
      'daily_active_users',
      'retention_counts',
      'daily_event_counts',
      'type_user_days',
      'event_type_reach',
    ]) {
      const { rows } = await database.pool.query({
        text: `SELECT * FROM ${table}`,
        rowMode: 'array',
      });
      out[table] = rows
        .filter(
          (r: unknown[]) =>
            !(
              table.endsWith('reach') ||
              table.startsWith('retention') ||
              table === 'daily_active_users'
            ) || r[r.length - 1] !== 0,
        )
        .map((r: unknown[]) => JSON.stringify(r))
        .sort();
    }
    return out;
  }

  // Late events (before users' first events, between stored days), several days, several types.
  const history = Array.from({ length: 400 }, (_, i) => ({
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    occurred_at: new Date(
      Date.UTC(2025, 2, 1 + ((i * 7) % 40), (i * 5) % 24, (i * 15) % 60),
    ).toISOString(),
    user_id: `u${(i * 31) % 29}`,
    event_type: `t${i % 5}`,
    properties: '{}',
  }));

  async function at0003WithEvents() {
    const database = await freshDatabase();
    const migrator = new Migrator({ db: database.db, provider: new SqlFileMigrationProvider() });
    const { error } = await migrator.migrateTo('0003_ingest_returns_duplicates');
    expect(error).toBeUndefined();
    // Ingested live by the 0003 write path, in batches of 23.
    for (let i = 0; i < history.length; i += 23)
      await legacyWrite(database.db, history.slice(i, i + 23));
    return database;
  }

  it('0005 upgrades a 0003 database exactly, and its down migration restores the 0003 summaries', async () => {
    const database = await at0003WithEvents();
    const before = await v1Summaries(database);
    expect(before.daily_active_users?.length).toBeGreaterThan(10);

    await migrateToLatest(database.db);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
    // A zone added later is built from the stored events exactly too; live writes keep it so.
    await addReportZones(database.pool, ['Asia/Kathmandu', 'America/New_York']);
    await writeEvents(
      database.db,
      toStore(1, 'events', [
        {
          event_id: '10000000-0000-4000-8000-000000000001',
          occurred_at: '2025-02-01T00:00:00Z',
          user_id: 'u3',
          event_type: 't1',
          properties: '{}',
        },
        {
          event_id: '10000000-0000-4000-8000-000000000002',
          occurred_at: '2025-04-30T23:59:59Z',
          user_id: 'new',
          event_type: 'new',
          properties: '{}',
        },
      ]),
    );
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));

    expect(await migrateDown(database.db)).toEqual(['0008_event_partitions']);
    expect(await migrateDown(database.db)).toEqual(['0007_projects']);
    expect(await migrateDown(database.db)).toEqual(['0006_in_order_fast_path']);
    expect(await migrateDown(database.db)).toEqual(['0005_summary_engine_v2']);
    const reference = await at0003WithEvents();
    await legacyWrite(reference.db, [
      {
        event_id: '10000000-0000-4000-8000-000000000001',
        occurred_at: '2025-02-01T00:00:00Z',
        user_id: 'u3',
        event_type: 't1',
        properties: '{}',
      },
      {
        event_id: '10000000-0000-4000-8000-000000000002',
        occurred_at: '2025-04-30T23:59:59Z',
        user_id: 'new',
        event_type: 'new',
        properties: '{}',
      },
    ]);
    expect(await v1Summaries(database)).toEqual(await v1Summaries(reference));
    // And the restored 0003 write path works.
    await legacyWrite(database.db, history.slice(0, 3));
  });

  it('0006 upgrades a 0005 database exactly (last_seen_at from the stored events), and its down migration restores 0005', async () => {
    const database = await freshDatabase();
    const migrator = new Migrator({ db: database.db, provider: new SqlFileMigrationProvider() });
    expect((await migrator.migrateTo('0005_summary_engine_v2')).error).toBeUndefined();
    await database.pool.query(`SELECT add_report_zone('Asia/Kathmandu')`);
    // Ingested live by the 0005 write path, late and out of order.
    const shuffled = [...history].reverse();
    for (let i = 0; i < shuffled.length; i += 17)
      await legacyWrite(database.db, shuffled.slice(i, i + 17));

    expect((await migrator.migrateTo('0006_in_order_fast_path')).error).toBeUndefined();
    expect(await legacySnapshot(database.pool)).toEqual(await legacyExpected(database.pool));
    // The 0006 write path continues from the upgraded state: in order, on the last day, late.
    const more = history.map((e, i) => ({
      ...e,
      event_id: `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      occurred_at: new Date(
        Date.parse(e.occurred_at) + (i % 3) * 86_400_000 * 7 - 3_600_000,
      ).toISOString(),
    }));
    for (let i = 0; i < more.length; i += 29) await legacyWrite(database.db, more.slice(i, i + 29));
    expect(await legacySnapshot(database.pool)).toEqual(await legacyExpected(database.pool));

    expect(await migrateDown(database.db)).toEqual(['0006_in_order_fast_path']);
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'last_seen_at'`,
    );
    expect(rows[0].n).toBe(0);
    // The restored 0005 write path works and keeps its summaries exact.
    await legacyWrite(database.db, [
      {
        event_id: '30000000-0000-4000-8000-000000000001',
        occurred_at: '2025-03-05T10:00:00Z',
        user_id: 'after-down',
        event_type: 't1',
        properties: '{}',
      },
    ]);
    await migrateToLatest(database.db);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('0005 leaves planner statistics on the bulk-built summaries, so no plan is made for empty tables', async () => {
    const database = await at0003WithEvents();
    // A bulk load straight into events (as a restore would), then the upgrade builds the summaries.
    await database.pool.query(`
      INSERT INTO events (event_id, occurred_at, user_id, event_type)
      SELECT gen_random_uuid(), timestamptz '2025-03-01' + i * interval '97 seconds', 'bulk' || (i % 3000), 't' || (i % 7)
      FROM generate_series(1, 40000) AS i`);
    await migrateToLatest(database.db);
    const { rows } = await database.pool.query(
      `SELECT c.relname, c.reltuples, s.n_live_tup
       FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
       WHERE c.relname = ANY($1)`,
      [SUMMARY_TABLES],
    );
    expect(rows.map((r) => r.relname).sort()).toEqual([...SUMMARY_TABLES].sort());
    for (const r of rows) {
      const { rows: count } = await database.pool.query(
        `SELECT count(*)::int AS n FROM ${r.relname}`,
      );
      // ANALYZE ran after the backfill: the planner's row count is the real one (-1 means never analysed).
      expect({ table: r.relname, estimate: r.reltuples }).toEqual({
        table: r.relname,
        estimate: count[0].n,
      });
    }
    // A plan on the freshly built tables: the per-type reach sum and the write path's
    // per-user probe are index scans, not scans of the table.
    const { rows: plan } = await database.pool.query(
      `EXPLAIN (FORMAT JSON) SELECT sum(users) FROM type_reach
       WHERE project_id = 1 AND zone_id = 0 AND type_key = 1 AND day BETWEEN '2025-03-01' AND '2025-03-30' AND previous_day < '2025-03-01'`,
    );
    expect(JSON.stringify(plan[0]['QUERY PLAN'])).not.toContain('Seq Scan');
    const { rows: probe } = await database.pool.query(
      `EXPLAIN (FORMAT JSON) SELECT max(day) FROM user_days WHERE project_id = 1 AND user_key = 5 AND zone_id = 0 AND day <= '2025-03-09'`,
    );
    expect(JSON.stringify(probe[0]['QUERY PLAN'])).not.toContain('Seq Scan');
  });

  /** The raw events' content, sorted (columns by name, whatever their order in the table). */
  async function rawEvents(database: TestDatabase): Promise<string[]> {
    const { rows } = await database.pool.query(
      `SELECT event_id::text, occurred_at::text, user_id, event_type, properties::text FROM events`,
    );
    return rows.map((r) => JSON.stringify(r)).sort();
  }

  /** A database at 0006 with events (two zones) and keys, as the previous release left it. */
  async function at0006WithData() {
    const database = await freshDatabase();
    const migrator = new Migrator({ db: database.db, provider: new SqlFileMigrationProvider() });
    expect((await migrator.migrateTo('0006_in_order_fast_path')).error).toBeUndefined();
    await database.pool.query(`SELECT add_report_zone('Asia/Kathmandu')`);
    const shuffled = [...history].sort((a, b) => (a.user_id + a.event_id).localeCompare(b.user_id));
    for (let i = 0; i < shuffled.length; i += 31)
      await legacyWrite(database.db, shuffled.slice(i, i + 31));
    await database.pool.query(
      `INSERT INTO api_keys (name, key_hash, scope) VALUES ('old-writer', '\\x01', 'write'), ('old-reader', '\\x02', 'read')`,
    );
    return database;
  }

  it('0007 moves every row into the default project exactly, keeps legacy ids deduplicated, and its down migration restores 0006', async () => {
    const database = await at0006WithData();
    const before = await legacySnapshot(database.pool);
    const rawBefore = await rawEvents(database);
    expect(await migrateToLatest(database.db)).toEqual(['0007_projects', '0008_event_partitions']);
    // 0008: the same rows, each in its UTC week's partition, and one dedup row each.
    expect(await rawEvents(database)).toEqual(rawBefore);
    const { rows: partitions } = await database.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT tableoid)::int AS partitions,
              count(DISTINCT date_trunc('week', occurred_at AT TIME ZONE 'UTC'))::int AS weeks,
              (SELECT count(*)::int FROM event_ids) AS ids
       FROM events`,
    );
    expect(partitions[0]).toEqual({
      n: history.length,
      partitions: partitions[0].weeks,
      weeks: partitions[0].weeks,
      ids: history.length,
    });
    expect(partitions[0].weeks).toBeGreaterThan(4);

    const { rows: projects } = await database.pool.query(
      `SELECT project_id, slug, legacy_event_ids FROM projects`,
    );
    expect(projects).toEqual([{ project_id: 1, slug: 'default', legacy_event_ids: true }]);
    // The zones keep their ids; the existing zones come first, UTC last.
    const { rows: zones } = await database.pool.query(
      `SELECT z.name FROM project_zones pz JOIN report_zones z USING (zone_id) ORDER BY position`,
    );
    expect(zones.map((z) => z.name)).toEqual(['Asia/Kathmandu', 'UTC']);
    const { rows: keys } = await database.pool.query(
      `SELECT name, scope, project_id FROM api_keys ORDER BY name`,
    );
    expect(keys).toEqual([
      { name: 'old-reader', scope: 'read', project_id: 1 },
      { name: 'old-writer', scope: 'write', project_id: 1 },
    ]);
    // Whole-summary equality with a recomputation from the raw events.
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
    const { rows: sources } = await database.pool.query(`SELECT DISTINCT source FROM events`);
    expect(sources).toEqual([{ source: 0 }]);

    // A copy of a pre-upgrade event through any family is still a duplicate; new ids are new.
    const old = history[0] as (typeof history)[number];
    const again = await writeEvents(database.db, [
      ...toStore(1, 'segment', [old]),
      ...toStore(1, 'events', [{ ...old, event_id: '40000000-0000-4000-8000-000000000001' }]),
    ]);
    expect(again).toEqual({ accepted: 1, skipped: 1 });
    // A second project with the same ids and users is another app.
    const web = await createProjectRow(database.pool, 'web', ['Europe/Kyiv']);
    expect(await writeEvents(database.db, toStore(web, 'events', history.slice(0, 50)))).toEqual({
      accepted: 50,
      skipped: 0,
    });
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));

    // A resend of a stored event with a time in another week is still a duplicate.
    const resend = await writeEvents(
      database.db,
      toStore(web, 'events', [
        { ...(history[1] as (typeof history)[number]), occurred_at: '2025-06-30T00:00:00.001Z' },
      ]),
    );
    expect(resend).toEqual({ accepted: 0, skipped: 1 });

    expect(await migrateDown(database.db)).toEqual(['0008_event_partitions']);
    const { rows: unpartitioned } = await database.pool.query(
      `SELECT relkind FROM pg_class WHERE relname = 'events'`,
    );
    expect(unpartitioned).toEqual([{ relkind: 'r' }]);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
    expect(await migrateDown(database.db)).toEqual(['0007_projects']);
    // Back to one app: the default project's rows (the extra event included), summaries rebuilt.
    const after = await legacySnapshot(database.pool);
    expect(after).toEqual(await legacyExpected(database.pool));
    const { rows: count } = await database.pool.query(`SELECT count(*)::int AS n FROM events`);
    expect(count[0].n).toBe(history.length + 1);
    expect(after.users).toEqual(before.users);
    const { rows: keysAfter } = await database.pool.query(`SELECT name FROM api_keys ORDER BY 1`);
    expect(keysAfter.map((k) => k.name)).toEqual(['old-reader', 'old-writer']);
    // The 0006 write path works again, and the upgrade can be repeated.
    await legacyWrite(database.db, [
      { ...old, event_id: '40000000-0000-4000-8000-000000000002', user_id: 'after-down' },
    ]);
    expect(await legacySnapshot(database.pool)).toEqual(await legacyExpected(database.pool));
    await migrateToLatest(database.db);
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  /** Every function of the service's schemas with its full definition, by signature. */
  async function functionDefinitions(database: TestDatabase): Promise<Record<string, string>> {
    const { rows } = await database.pool.query(`
      SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
             pg_get_functiondef(p.oid) AS definition
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname IN ('public', 'analytics', 'legacy_0006') ORDER BY 1`);
    return Object.fromEntries(rows.map((r) => [r.name, r.definition]));
  }

  it('a fresh database and an upgraded one end with identical function definitions (one per function, from sql/functions)', async () => {
    const fresh = await freshDatabase();
    await migrateToLatest(fresh.db);
    const upgraded = await at0006WithData();
    await migrateToLatest(upgraded.db);
    const definitions = await functionDefinitions(fresh);
    expect(await functionDefinitions(upgraded)).toEqual(definitions);
    const names = Object.keys(definitions);
    expect(names).toContain(
      'analytics.ingest_events(p_project_ids integer[], p_sources smallint[], p_event_ids uuid[], p_occurred_at timestamp with time zone[], p_user_ids text[], p_event_types text[], p_properties jsonb[])',
    );
    // Nothing the service calls is left in public.
    expect(names.filter((n) => n.startsWith('public.'))).toEqual([]);
    // Applying again changes nothing; a changed file is applied at the next migration.
    expect(await applyFunctions(fresh.db)).toBe(false);
  });
});
