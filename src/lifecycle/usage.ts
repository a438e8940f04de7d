import { type Kysely, sql } from 'kysely';
import { type Database, DICTIONARY_TABLES, SUMMARY_TABLES } from '../db/schema.js';
import type { Project } from '../projects/repository.js';

/** What a project's data takes (GET /projects/{slug}/usage): what retention buys. */
export interface ProjectUsage {
  slug: string;
  raw_retention_days: number | null;
  /** Raw events stored now (exact). */
  events: number;
  /** Bytes of raw events with their indexes (the project's share, by rows). */
  raw_bytes: number;
  /** Bytes of every summary table with indexes, and of the users and types dictionaries. */
  summary_bytes: number;
  /** Bytes of the dedup table (event_ids) with its key. */
  dedup_bytes: number;
  /** The UTC day of the oldest raw event stored (null: none). */
  oldest_raw_day: string | null;
  /** Every raw event at or after this instant is stored (null: none expired). */
  raw_events_from: string | null;
  /** Weekly partitions holding the project's raw events, oldest first. */
  partitions: string[];
  /** Partitions of raw events in the database (every project). */
  partitions_total: number;
}

/**
 * Bytes of a table (with indexes, TOAST and partitions) times the project's share of its
 * rows: rows of the project counted exactly (project_id leads every key), rows of the table
 * as PostgreSQL's statistics estimate them (so no table is scanned whole).
 */
async function share(
  db: Kysely<Database>,
  table: string,
  projectId: number,
): Promise<{ rows: number; bytes: number }> {
  const { rows } = await sql<{ rows: string; total_rows: string; bytes: string }>`
    WITH parts AS (
      SELECT c.oid, c.reltuples FROM pg_class c WHERE c.oid = ${table}::regclass AND c.relkind <> 'p'
      UNION ALL
      SELECT i.inhrelid, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = ${table}::regclass
    )
    SELECT (SELECT count(*) FROM ${sql.table(table)} WHERE project_id = ${projectId}) AS rows,
           (SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM parts) AS total_rows,
           (SELECT coalesce(sum(pg_total_relation_size(oid)), 0) FROM parts) AS bytes`.execute(db);
  const row = rows[0];
  const mine = Number(row?.rows ?? 0);
  const total = Math.max(Number(row?.total_rows ?? 0), mine);
  return {
    rows: mine,
    bytes: total === 0 ? 0 : Math.round((Number(row?.bytes ?? 0) * mine) / total),
  };
}

export async function projectUsage(db: Kysely<Database>, project: Project): Promise<ProjectUsage> {
  const raw = await share(db, 'events', project.id);
  const dedup = await share(db, 'event_ids', project.id);
  let summaryBytes = 0;
  for (const table of [...DICTIONARY_TABLES, ...SUMMARY_TABLES])
    summaryBytes += (await share(db, table, project.id)).bytes;
  const { rows: oldest } = await sql<{ day: string | null }>`
    SELECT (min(occurred_at) AT TIME ZONE 'UTC')::date::text AS day FROM events
    WHERE project_id = ${project.id}`.execute(db);
  const { rows: partitions } = await sql<{ name: string; holds: boolean }>`
    SELECT p.partition_name AS name,
           analytics.partition_holds_project(p.partition_name, ${project.id}::int) AS holds
    FROM analytics.event_partitions() p ORDER BY p.week_start`.execute(db);
  return {
    slug: project.slug,
    raw_retention_days: project.rawRetentionDays ?? null,
    events: raw.rows,
    raw_bytes: raw.bytes,
    summary_bytes: summaryBytes,
    dedup_bytes: dedup.bytes,
    oldest_raw_day: oldest[0]?.day ?? null,
    raw_events_from: project.rawFloor ?? null,
    partitions: partitions.filter((p) => p.holds).map((p) => p.name),
    partitions_total: partitions.length,
  };
}
