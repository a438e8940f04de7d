import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

const WEEK_MS = 7 * 86_400_000;
/** 1970-01-01 was a Thursday: Mondays are 4 days later, modulo a week. */
const MONDAY_OFFSET_MS = 4 * 86_400_000;

/** The Monday 00:00 UTC (epoch ms) of an instant's week: the partition that holds it. */
export function weekStart(epochMs: number): number {
  return Math.floor((epochMs - MONDAY_OFFSET_MS) / WEEK_MS) * WEEK_MS + MONDAY_OFFSET_MS;
}

/** Runs one statement with parameters (a pg pool or client, or a Kysely through queryVia). */
export type Query = (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>;

export function queryVia(db: Kysely<Database>): Query {
  return async (text, values) => ({
    rows: (await db.executeQuery(CompiledQuery.raw(text, values))).rows as unknown[],
  });
}

/** Week starts (epoch ms) of the partitions each database (pool or Kysely) is known to have. */
let known = new WeakMap<object, Set<number>>();

async function loadPartitions(key: object, query: Query): Promise<Set<number>> {
  const { rows } = await query('SELECT week_start FROM analytics.event_partitions()', []);
  const weeks = new Set((rows as { week_start: Date }[]).map((r) => r.week_start.getTime()));
  known.set(key, weeks);
  return weeks;
}

function missing(known: Set<number>, weeks: Set<number>): number[] {
  return [...weeks].filter((w) => !known.has(w)).sort((x, y) => x - y);
}

/**
 * Makes sure each of `weeks` (week starts, from weeksOf) has its partition of events, so a
 * batch never fails for its dates: normally the weeks are known (maintenance creates them
 * ahead of time) and this costs nothing; a batch with a week without one (a backfill of old
 * events) creates it first, in a short transaction of its own that does not block other
 * writers (analytics.create_event_partitions). Only the weeks the batch has: a batch with
 * one event from 1971 and one from today makes two partitions, not the 2,900 weeks between.
 * `key` is the database the cache is kept for; `query` must not be inside the batch's
 * transaction.
 */
export async function ensurePartitions(
  key: object,
  query: Query,
  weeks: Set<number>,
): Promise<void> {
  const cached = known.get(key);
  if (cached && missing(cached, weeks).length === 0) return;
  const absent = missing(await loadPartitions(key, query), weeks);
  if (absent.length === 0) return;
  for (const week of absent) {
    const at = new Date(week).toISOString();
    await query('SELECT analytics.create_event_partitions($1::timestamptz, $1::timestamptz)', [at]);
  }
  await loadPartitions(key, query);
}

/** Forgets what is known of every database's partitions (retention dropped some). */
export function forgetPartitions(): void {
  known = new WeakMap();
}

/**
 * True for PostgreSQL's refusal of a row whose partition is gone (dropped by another
 * instance's retention after this one cached it): forget and ensure again.
 */
export function isMissingPartition(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '23514' && typeof message === 'string' && message.includes('no partition');
}

/** The weeks (their Monday 00:00 UTC, epoch ms) that hold these instants. */
export function weeksOf(instants: Iterable<string>): Set<number> {
  const weeks = new Set<number>();
  for (const at of instants) weeks.add(weekStart(Date.parse(at)));
  return weeks;
}
