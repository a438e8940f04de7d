import type pg from 'pg';
import { forgetPartitions } from '../ingest/partitions.js';

/** Partitions are made this far ahead of now, so writes never wait for one. */
const WEEKS_AHEAD = 4;
const DAY_MS = 86_400_000;
/**
 * A week is expired only once it is this far past a project's horizon: an SDK's resend of an
 * event (skew-corrected to a slightly different time) then meets the horizon's refusal, never
 * an expired dedup row, so it cannot be stored twice.
 */
export const EXPIRY_GRACE_MS = DAY_MS;

export interface ExpiredWeek {
  partition: string;
  project: string;
  events: number;
}

export interface MaintenanceReport {
  /** Partitions created ahead of time. */
  created: string[];
  /** Weeks of projects whose raw events expired (folded, their dedup rows deleted). */
  expired: ExpiredWeek[];
  /** Partitions detached and dropped (every project that had rows there had expired them). */
  dropped: string[];
  /** Raw events that expired in this pass. */
  expiredEvents: number;
  /** Partitions of events after the pass. */
  partitions: number;
  /** Event types removed from dictionaries (only erased users had them). */
  prunedEventTypes: number;
}

interface Partition {
  partition_name: string;
  week_start: Date;
  week_end: Date;
}

/** A project's retention horizon: raw events before it are refused and then expire. */
export function retentionHorizon(retentionDays: number, nowMs: number): number {
  return nowMs - retentionDays * DAY_MS;
}

/**
 * One maintenance pass (docs/lifecycle.md): creates the weekly partitions of the coming
 * weeks, then expires every week that is wholly older than a project's horizon (plus a day's
 * grace): the project's rows of that week are folded into the per-user state and their
 * dedup rows deleted (analytics.expire_partition), and a partition whose every project has
 * expired it is detached concurrently and dropped, so ingest never waits for it. Projects
 * that still keep a week keep the partition; an expired project's rows are deleted from it.
 * Idempotent: a pass that stopped part-way is finished by the next.
 */
export async function maintain(
  client: pg.ClientBase,
  nowMs = Date.now(),
): Promise<MaintenanceReport> {
  const report: MaintenanceReport = {
    created: [],
    expired: [],
    dropped: [],
    expiredEvents: 0,
    partitions: 0,
    prunedEventTypes: 0,
  };
  const { rows: created } = await client.query<{ created: string[] }>(
    'SELECT analytics.create_event_partitions($1::timestamptz, $2::timestamptz) AS created',
    [
      new Date(nowMs - 7 * DAY_MS).toISOString(),
      new Date(nowMs + WEEKS_AHEAD * 7 * DAY_MS).toISOString(),
    ],
  );
  report.created = created[0]?.created ?? [];

  // A detach that stopped half-way (a crash, a cancel) is finished first.
  const { rows: pending } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'public.events'::regclass AND i.inhdetachpending`,
  );
  for (const { name } of pending) {
    await client.query(`ALTER TABLE public.events DETACH PARTITION public."${name}" FINALIZE`);
    await client.query(`DROP TABLE IF EXISTS public."${name}"`);
    report.dropped.push(name);
  }

  const { rows: projects } = await client.query<{ id: number; slug: string; days: number }>(
    `SELECT project_id AS id, slug, raw_retention_days AS days FROM projects
     WHERE raw_retention_days IS NOT NULL`,
  );
  const cutoff = new Map(
    projects.map((p) => [p.id, retentionHorizon(p.days, nowMs) - EXPIRY_GRACE_MS]),
  );
  const slugs = new Map(projects.map((p) => [p.id, p.slug]));
  const latestCutoff = Math.max(-Infinity, ...cutoff.values());

  const { rows: partitions } = await client.query<Partition>(
    'SELECT partition_name, week_start, week_end FROM analytics.event_partitions()',
  );
  for (const partition of partitions) {
    if (partition.week_end.getTime() > latestCutoff) break; // newer weeks expire for no one
    // Projects with events of that week still stored: the UTC day counts say which (every
    // project has UTC summaries, and partitions are UTC weeks), less those expired already.
    const { rows: holders } = await client.query<{ project_id: number }>(
      `SELECT DISTINCT c.project_id FROM type_day_counts c
       WHERE c.zone_id = 0 AND c.events > 0
         AND c.day >= ($1::timestamptz AT TIME ZONE 'UTC')::date
         AND c.day < ($2::timestamptz AT TIME ZONE 'UTC')::date
         AND NOT EXISTS (SELECT 1 FROM expired_partitions x
                         WHERE x.partition_name = $3 AND x.project_id = c.project_id)
       ORDER BY 1`,
      [partition.week_start, partition.week_end, partition.partition_name],
    );
    const expires = (id: number) => (cutoff.get(id) ?? -Infinity) >= partition.week_end.getTime();
    const expiring = holders.filter((h) => expires(h.project_id));
    const whole = expiring.length === holders.length;
    for (const { project_id } of expiring) {
      const { rows } = await client.query<{ expired: string }>(
        'SELECT analytics.expire_partition($1, $2::int, $3) AS expired',
        [partition.partition_name, project_id, !whole],
      );
      const events = Number(rows[0]?.expired ?? 0);
      report.expired.push({
        partition: partition.partition_name,
        project: slugs.get(project_id) ?? String(project_id),
        events,
      });
      report.expiredEvents += events;
    }
    // Drop a week only when it held rows that all expired now (an empty week is left for
    // backfills; it costs nothing).
    if (whole && expiring.length > 0) {
      await dropPartition(client, partition.partition_name);
      report.dropped.push(partition.partition_name);
    }
  }
  // Dictionaries: types that erasures left without any event.
  const { rows: pruned } = await client.query<{ pruned: number }>(
    `SELECT coalesce(sum(analytics.prune_event_types(project_id)), 0)::int AS pruned
     FROM projects p
     WHERE EXISTS (SELECT 1 FROM event_types t WHERE t.project_id = p.project_id
                   AND NOT EXISTS (SELECT 1 FROM type_day_counts c
                                   WHERE c.project_id = t.project_id AND c.zone_id = 0
                                     AND c.type_key = t.type_key AND c.events > 0))`,
  );
  report.prunedEventTypes = pruned[0]?.pruned ?? 0;

  // This process's cache of known partitions must not name dropped ones.
  if (report.dropped.length > 0) forgetPartitions();
  const { rows: count } = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM analytics.event_partitions()',
  );
  report.partitions = count[0]?.n ?? 0;
  return report;
}

/**
 * Detaches a partition without blocking ingest or queries (DETACH ... CONCURRENTLY takes
 * only a SHARE UPDATE EXCLUSIVE lock on events and waits for the transactions that may use
 * the partition), then drops it. Not in a transaction block, as CONCURRENTLY requires.
 */
async function dropPartition(client: pg.ClientBase, name: string): Promise<void> {
  await client.query(`ALTER TABLE public.events DETACH PARTITION public."${name}" CONCURRENTLY`);
  await client.query(`DROP TABLE public."${name}"`);
}

/** Session-level advisory lock: one maintenance pass at a time across every instance. */
const MAINTENANCE_LOCK = [17729, -1] as const;

/**
 * Runs a pass unless another instance (or process) is running one; undefined when it was.
 * The pass runs on one connection of its own, which holds the lock, without the serving
 * pool's statement timeout (folding a large week may rightly take longer).
 */
export async function maintainOnce(
  pool: pg.Pool,
  nowMs = Date.now(),
): Promise<MaintenanceReport | undefined> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS locked',
      [...MAINTENANCE_LOCK],
    );
    if (!rows[0]?.locked) return undefined;
    try {
      await client.query('SET statement_timeout = 0');
      return await maintain(client, nowMs);
    } finally {
      await client.query('RESET statement_timeout');
      await client.query('SELECT pg_advisory_unlock($1, $2)', [...MAINTENANCE_LOCK]);
    }
  } finally {
    client.release();
  }
}
