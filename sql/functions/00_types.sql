-- Values passed between the steps of ingest_events() (docs/write-path.md).

-- An event stored by step 1.
CREATE TYPE ingest_stored_event AS (
  project_id integer, occurred_at timestamptz, user_id text, event_type text
);

-- A stored event's identity (the dedup key of events).
CREATE TYPE ingest_event_identity AS (project_id integer, source smallint, event_id uuid);

-- A user of the batch, locked, with the first and latest events before the batch.
CREATE TYPE ingest_batch_user AS (
  project_id integer, user_id text, user_key integer,
  previous_first timestamptz, previous_last timestamptz
);

-- An event type of the batch with its key.
CREATE TYPE ingest_batch_type AS (project_id integer, event_type text, type_key integer);

-- An event of the batch with integer keys, and its user's first and latest events before
-- the batch (read under the user's lock).
CREATE TYPE ingest_keyed_event AS (
  project_id integer, user_key integer, type_key integer, occurred_at timestamptz,
  previous_first timestamptz, previous_last timestamptz
);

-- A (project, zone, user[, type], day) not stored yet, with the nearest stored days of the
-- same user[ and type] before and after it (NULL if none), and in step 3 the user's cohort
-- (local day of the first event) after and before the batch. type_key is NULL in step 3,
-- the cohorts NULL in step 4.
CREATE TYPE ingest_new_day AS (
  project_id integer, zone_id smallint, user_key integer, type_key integer, day date,
  previous_old date, next_old date, cohort_day date, old_cohort_day date
);

-- A reporting zone of a project in the batch (read once per batch, under the project's lock).
CREATE TYPE ingest_zone AS (project_id integer, zone_id smallint, name text);
