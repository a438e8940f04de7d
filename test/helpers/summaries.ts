import type pg from 'pg';
import { DICTIONARY_TABLES, SUMMARY_TABLES as WRITE_PATH_SUMMARIES } from '../../src/db/schema.js';

/** Every table the write path keeps besides events (sql/functions/, docs/write-path.md). */
export const SUMMARY_TABLES: string[] = [...DICTIONARY_TABLES, ...WRITE_PATH_SUMMARIES];

/**
 * Each summary table as rows of text, its integer keys replaced by the names they stand
 * for (project slug, user id, event type, zone name: surrogate keys depend on arrival
 * order), zero-count rows left out (a count that went to 0 when a late event moved a user
 * is the same as no row), sorted.
 */
const P = `JOIN projects p ON p.project_id = x.project_id`;
const U = `JOIN users u ON u.project_id = x.project_id AND u.user_key = x.user_key`;
const T = `JOIN event_types t ON t.project_id = x.project_id AND t.type_key = x.type_key`;
const Z = `JOIN report_zones z ON z.zone_id = x.zone_id`;
const STORED: Record<string, string> = {
  users: `SELECT p.slug, x.user_id, x.first_seen_at::text, x.last_seen_at::text FROM users x ${P}`,
  event_types: `SELECT p.slug, x.event_type FROM event_types x ${P}`,
  user_days: `SELECT p.slug, z.name, u.user_id, x.day::text FROM user_days x ${P} ${U} ${Z}`,
  active_user_reach: `SELECT p.slug, z.name, x.day::text, x.previous_day::text, x.users
    FROM active_user_reach x ${P} ${Z} WHERE x.users <> 0`,
  retention_reach: `SELECT p.slug, z.name, x.cohort_day::text, x.day::text, x.previous_day::text, x.users
    FROM retention_reach x ${P} ${Z} WHERE x.users <> 0`,
  type_user_days: `SELECT p.slug, z.name, t.event_type, u.user_id, x.day::text
    FROM type_user_days x ${P} ${U} ${T} ${Z}`,
  type_reach: `SELECT p.slug, z.name, t.event_type, x.day::text, x.previous_day::text, x.users
    FROM type_reach x ${P} ${T} ${Z} WHERE x.users <> 0`,
  type_day_counts: `SELECT p.slug, z.name, x.day::text, t.event_type, x.events::int
    FROM type_day_counts x ${P} ${T} ${Z} WHERE x.events <> 0`,
};

/**
 * The same tables recomputed from the raw events table, straight from their definitions
 * (independently of the write path and the zone backfill), for every reporting zone of
 * each event's project.
 */
const local = `(e.occurred_at AT TIME ZONE z.name)::date`;
const inZones = `FROM events e JOIN projects p ON p.project_id = e.project_id
  JOIN project_zones pz ON pz.project_id = e.project_id JOIN report_zones z ON z.zone_id = pz.zone_id`;
const days = `SELECT DISTINCT p.slug, z.name, e.user_id, ${local} AS day ${inZones}`;
const typeDays = `SELECT DISTINCT p.slug, z.name, e.event_type, e.user_id, ${local} AS day ${inZones}`;
const firsts = `SELECT p.slug, e.user_id, min(e.occurred_at) AS first_at
  FROM events e JOIN projects p ON p.project_id = e.project_id GROUP BY 1, 2`;
const EXPECTED: Record<string, string> = {
  users: `SELECT p.slug, e.user_id, min(e.occurred_at)::text, max(e.occurred_at)::text
    FROM events e JOIN projects p ON p.project_id = e.project_id GROUP BY 1, 2`,
  event_types: `SELECT DISTINCT p.slug, e.event_type FROM events e JOIN projects p ON p.project_id = e.project_id`,
  user_days: `SELECT slug, name, user_id, day::text FROM (${days}) d`,
  active_user_reach: `SELECT slug, name, day::text, greatest(prev, day - 30)::text AS pd, count(*)::int
    FROM (SELECT slug, name, day, lag(day) OVER (PARTITION BY slug, name, user_id ORDER BY day) AS prev
          FROM (${days}) d) r
    GROUP BY slug, name, day, pd`,
  retention_reach: `SELECT slug, name, cohort::text, day::text, greatest(prev, day - 7)::text AS pd, count(*)::int
    FROM (SELECT d.slug, d.name, (f.first_at AT TIME ZONE d.name)::date AS cohort, d.day,
                 lag(d.day) OVER (PARTITION BY d.slug, d.name, d.user_id ORDER BY d.day) AS prev
          FROM (${days}) d JOIN (${firsts}) f USING (slug, user_id)) r
    GROUP BY slug, name, cohort, day, pd`,
  type_user_days: `SELECT slug, name, event_type, user_id, day::text FROM (${typeDays}) d`,
  type_reach: `SELECT slug, name, event_type, day::text, coalesce(prev, '-infinity')::text AS pd, count(*)::int
    FROM (SELECT slug, name, event_type, day,
                 lag(day) OVER (PARTITION BY slug, name, event_type, user_id ORDER BY day) AS prev
          FROM (${typeDays}) d) r
    GROUP BY slug, name, event_type, day, pd`,
  type_day_counts: `SELECT p.slug, z.name, ${local}::text, e.event_type, count(*)::int
    ${inZones} GROUP BY 1, 2, 3, 4`,
};

async function tablesOf(pool: pg.Pool, queries: Record<string, string>) {
  const out: Record<string, string[]> = {};
  for (const [table, query] of Object.entries(queries)) {
    const { rows } = await pool.query({ text: query, rowMode: 'array' });
    out[table] = rows.map((r: unknown[]) => JSON.stringify(r)).sort();
  }
  return out;
}

/** Every summary table's content (see STORED). */
export function summarySnapshot(pool: pg.Pool): Promise<Record<string, string[]>> {
  return tablesOf(pool, STORED);
}

/** The summary tables as they should be, recomputed from the raw events table. */
export function expectedSummaries(pool: pg.Pool): Promise<Record<string, string[]>> {
  return tablesOf(pool, EXPECTED);
}

/** Empties the events (and their dedup rows) and every summary (projects and zones stay). */
export async function emptyTables(pool: pg.Pool): Promise<void> {
  await pool.query(`TRUNCATE events, event_ids, ${SUMMARY_TABLES.join(', ')} RESTART IDENTITY`);
}

/** Sets a project's reporting zones (summaries per zone; UTC stays), `default` by default. */
export async function addReportZones(
  pool: pg.Pool,
  zones: string[],
  slug = 'default',
): Promise<void> {
  await pool.query(
    `SELECT analytics.set_project_zones(project_id,
       ARRAY(SELECT z.name FROM project_zones pz JOIN report_zones z USING (zone_id)
             WHERE pz.project_id = projects.project_id ORDER BY pz.position) || $2::text[])
     FROM projects WHERE slug = $1`,
    [slug, zones],
  );
}

/** Creates a project with reporting zones (UTC added); returns its id. */
export async function createProjectRow(
  pool: pg.Pool,
  slug: string,
  zones: string[] = [],
): Promise<number> {
  const { rows } = await pool.query(
    'INSERT INTO projects (slug, name) VALUES ($1, $1) RETURNING project_id',
    [slug],
  );
  const id = rows[0].project_id as number;
  await pool.query('SELECT analytics.set_project_zones($1, $2::text[])', [id, zones]);
  return id;
}
