import type { ColumnType, Generated } from 'kysely';

/** Typed view of the tables the migrations create (see migrations/). */
export interface EventsTable {
  event_id: string;
  occurred_at: ColumnType<Date, string, never>;
  user_id: string;
  event_type: string;
  properties: ColumnType<Record<string, unknown>, string, never>;
  received_at: Generated<Date>;
}

export interface Database {
  events: EventsTable;
}
