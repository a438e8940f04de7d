import type pg from 'pg';

export const SUMMARY_TABLES = [
  'daily_active_users',
  'daily_event_counts',
  'daily_user_activity',
  'event_type_reach',
  'retention_counts',
  'type_user_days',
  'user_first_seen',
];

/**
 * Every summary table's content, with zero-count rows left out (a count that went to 0
 * when a late event moved a user is the same as no row).
 */
export async function summarySnapshot(pool: pg.Pool): Promise<Record<string, unknown[]>> {
  const snapshot: Record<string, unknown[]> = {};
  for (const table of SUMMARY_TABLES) {
    const { rows } = await pool.query(
      `SELECT * FROM ${table} ORDER BY 1, 2${table === 'event_type_reach' || table === 'type_user_days' ? ', 3' : ''}`,
    );
    snapshot[table] = rows
      .filter((r) => !('users' in r) || r.users !== 0)
      .map((r) => JSON.parse(JSON.stringify(r)));
  }
  return snapshot;
}

/** The summary tables as they should be, recomputed from the raw events table. */
export async function expectedSummaries(pool: pg.Pool): Promise<Record<string, unknown[]>> {
  const day = `(occurred_at AT TIME ZONE 'UTC')::date`;
  const queries: Record<string, string> = {
    daily_active_users: `SELECT ${day} AS day, count(DISTINCT user_id)::int AS users FROM events GROUP BY 1 ORDER BY 1`,
    daily_event_counts: `SELECT ${day} AS day, event_type, count(*)::int AS events FROM events GROUP BY 1, 2 ORDER BY 1, 2`,
    daily_user_activity: `SELECT DISTINCT user_id, ${day} AS day FROM events ORDER BY 1, 2`,
    event_type_reach: `SELECT day, event_type, previous_day, count(*)::int AS users FROM (
        SELECT day, event_type, coalesce(lag(day) OVER (PARTITION BY event_type, user_id ORDER BY day), '-infinity') AS previous_day
        FROM (SELECT DISTINCT event_type, user_id, ${day} AS day FROM events) d) r
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    retention_counts: `SELECT (f.first_at AT TIME ZONE 'UTC')::date AS cohort_day, a.day AS activity_day, count(*)::int AS users
      FROM (SELECT DISTINCT user_id, ${day} AS day FROM events) a
      JOIN (SELECT user_id, min(occurred_at) AS first_at FROM events GROUP BY user_id) f USING (user_id)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    type_user_days: `SELECT DISTINCT event_type, user_id, ${day} AS day FROM events ORDER BY 1, 2, 3`,
    user_first_seen: `SELECT user_id, min(occurred_at) AS first_seen_at FROM events GROUP BY 1 ORDER BY 1`,
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, query] of Object.entries(queries)) {
    const { rows } = await pool.query(query);
    out[table] = rows.map((r) => JSON.parse(JSON.stringify(r)));
  }
  return out;
}

/** Empties the events table and every summary, between tests of one file. */
export async function emptyTables(pool: pg.Pool): Promise<void> {
  await pool.query(`TRUNCATE events, ${SUMMARY_TABLES.join(', ')}`);
}
