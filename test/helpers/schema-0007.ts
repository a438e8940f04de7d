/**
 * SHIM, to delete when migration 0007 (projects) is on main: the raw events and users
 * tables as they will be after it, created in an empty database for the exploration
 * tests (test/stats/explore-*.test.ts) and bench/explore.ts. When 0007 lands, those use a
 * migrated database instead and this file goes (with EXPLORE_INDEXES moved into a
 * migration, see docs/exploration.md).
 */
import type pg from 'pg';

export const SCHEMA_0007 = `
  CREATE TABLE events (
    project_id  integer     NOT NULL,
    source      smallint    NOT NULL,
    event_id    uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    user_id     text        NOT NULL,
    event_type  text        NOT NULL,
    properties  jsonb       NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, source, event_id)
  );
  CREATE INDEX events_project_id_occurred_at_idx ON events (project_id, occurred_at);
  CREATE TABLE users (
    project_id    integer     NOT NULL,
    user_key      integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       text        NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    UNIQUE (project_id, user_id)
  );`;

/**
 * The index exploration adds to events (docs/exploration.md: what it buys, what it costs
 * ingest): a user's events in time order, for the user timeline and profile.
 */
export const EXPLORE_INDEXES = `
  CREATE INDEX events_project_id_user_id_occurred_at_idx ON events (project_id, user_id, occurred_at);`;

export async function createSchema0007(client: pg.Pool | pg.Client): Promise<void> {
  await client.query(SCHEMA_0007);
  await client.query(EXPLORE_INDEXES);
}

/** users as the write path keeps it: each (project, user)'s first and latest event. */
export async function refreshUsers(client: pg.Pool | pg.Client): Promise<void> {
  await client.query(`
    INSERT INTO users (project_id, user_id, first_seen_at, last_seen_at)
    SELECT project_id, user_id, min(occurred_at), max(occurred_at) FROM events GROUP BY 1, 2
    ON CONFLICT (project_id, user_id) DO UPDATE
      SET first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at`);
}
