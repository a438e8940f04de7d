import type pg from 'pg';

/** An event row as the events table stores it (instants and properties as text). */
export interface RawRow {
  project_id: number;
  source: number;
  event_id: string;
  /** Any instant PostgreSQL reads as timestamptz. */
  occurred_at: string;
  user_id: string;
  event_type: string;
  /** The properties' JSON text (kept exactly: jsonb keeps every digit). */
  properties: string;
}

/**
 * Writes events straight into a migrated database, for tests of the read queries that need
 * rows the ingest rules refuse or cannot place (any source, any instant): the partitions of
 * their weeks, their dedup rows (the first copy of a (project, source, event_id) wins, as on
 * ingest) and the users table (first and last seen). Summaries are not written: questions
 * asked this way read raw events.
 */
export async function insertRawEvents(pool: pg.Pool, rows: RawRow[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof RawRow>(key: K) => rows.map((r) => r[key]);
  const input = `unnest($1::int[], $2::smallint[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::jsonb[])
    WITH ORDINALITY AS t(project_id, source, event_id, occurred_at, user_id, event_type, properties, n)`;
  const params = [
    column('project_id'),
    column('source'),
    column('event_id'),
    column('occurred_at'),
    column('user_id'),
    column('event_type'),
    column('properties'),
  ];
  await pool.query(
    `SELECT analytics.create_event_partitions(min(occurred_at), max(occurred_at)) FROM ${input}`,
    params,
  );
  await pool.query(
    `WITH firsts AS (
       SELECT DISTINCT ON (project_id, source, event_id) * FROM ${input}
       ORDER BY project_id, source, event_id, n
     ), fresh AS (
       INSERT INTO event_ids (project_id, source, event_id, occurred_at)
       SELECT project_id, source, event_id, occurred_at FROM firsts
       ON CONFLICT DO NOTHING RETURNING project_id, source, event_id
     ), stored AS (
       INSERT INTO events (project_id, source, event_id, occurred_at, user_id, event_type, properties)
       SELECT f.project_id, f.source, f.event_id, f.occurred_at, f.user_id, f.event_type, f.properties
       FROM firsts f JOIN fresh USING (project_id, source, event_id)
       RETURNING project_id, user_id, occurred_at
     )
     INSERT INTO users (project_id, user_id, first_seen_at, last_seen_at)
     SELECT project_id, user_id, min(occurred_at), max(occurred_at) FROM stored GROUP BY 1, 2
     ON CONFLICT (project_id, user_id) DO UPDATE
       SET first_seen_at = least(users.first_seen_at, excluded.first_seen_at),
           last_seen_at = greatest(users.last_seen_at, excluded.last_seen_at)`,
    params,
  );
}

/** Empties events, their dedup rows and users (projects stay). */
export async function emptyRawEvents(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE events, event_ids, users CASCADE');
}
