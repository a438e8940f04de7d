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
