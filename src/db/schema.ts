import type { ColumnType, Generated } from 'kysely';

/**
 * Typed view of the tables the migrations create (see migrations/). The /stats query
 * modules and the write path use raw SQL (Kysely's `sql` template) on purpose: their
 * set-based statements (window functions, LATERAL, ON CONFLICT arithmetic) read better as
 * SQL than as builder chains. These types document the summary tables for code that wants
 * the query builder (tests, tools), and keep column names checked there.
 * What each summary row means: docs/write-path.md.
 */
export interface EventsTable {
  event_id: string;
  occurred_at: ColumnType<Date, string, never>;
  user_id: string;
  event_type: string;
  properties: ColumnType<Record<string, unknown>, string, never>;
  received_at: Generated<Date>;
}

/** Dates are 'YYYY-MM-DD' strings (src/db/pool.ts keeps them as text). */
type Day = string;

export interface ReportZonesTable {
  zone_id: number;
  name: string;
}

export interface UsersTable {
  user_key: Generated<number>;
  user_id: string;
  first_seen_at: ColumnType<Date, string, string>;
  /** The user's latest stored event (the write path's in-order fast path). */
  last_seen_at: ColumnType<Date, string, string>;
  /** Scratch of the write path's upsert: the two instants before the latest batch. */
  first_seen_before: ColumnType<Date | null, string | null, string | null>;
  last_seen_before: ColumnType<Date | null, string | null, string | null>;
}

export interface EventTypesTable {
  type_key: Generated<number>;
  event_type: string;
}

export interface UserDaysTable {
  user_key: number;
  zone_id: number;
  day: Day;
}

export interface ActiveUserReachTable {
  zone_id: number;
  day: Day;
  /** The user's previous active day, clamped to day - 30. */
  previous_day: Day;
  users: number;
}

export interface RetentionReachTable {
  zone_id: number;
  cohort_day: Day;
  day: Day;
  /** The user's previous active day, clamped to day - 7. */
  previous_day: Day;
  users: number;
}

export interface TypeUserDaysTable {
  user_key: number;
  type_key: number;
  zone_id: number;
  day: Day;
}

export interface TypeReachTable {
  zone_id: number;
  type_key: number;
  day: Day;
  /** The user's previous active day for this type ('-infinity' if none). */
  previous_day: Day;
  users: number;
}

export interface TypeDayCountsTable {
  zone_id: number;
  day: Day;
  type_key: number;
  events: number;
}

export interface Database {
  events: EventsTable;
  report_zones: ReportZonesTable;
  users: UsersTable;
  event_types: EventTypesTable;
  user_days: UserDaysTable;
  active_user_reach: ActiveUserReachTable;
  retention_reach: RetentionReachTable;
  type_user_days: TypeUserDaysTable;
  type_reach: TypeReachTable;
  type_day_counts: TypeDayCountsTable;
}

/**
 * The summary tables the write path keeps beside the raw events (docs/write-path.md), each
 * keyed by project first: what deleting a project clears and what usage counts.
 */
export const SUMMARY_TABLES = [
  'user_days',
  'type_user_days',
  'active_user_reach',
  'retention_reach',
  'type_reach',
  'type_day_counts',
] as const;

/** The per-project dictionaries of users and event types (keys for the summaries). */
export const DICTIONARY_TABLES = ['users', 'event_types'] as const;
