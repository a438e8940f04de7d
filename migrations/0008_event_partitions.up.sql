-- Data lifecycle (docs/lifecycle.md): raw events in weekly time partitions, a dedup table
-- apart from them, and the per-project and per-user state that retention and erasure need.

-- The dedup identity of every stored event, one row each, apart from the partitions: an
-- event's copy with another timestamp (an SDK resend whose skew-corrected time moved by a
-- few milliseconds, or by days) falls in another partition, so a key per partition could
-- not see it. occurred_at tells which partition holds the event (erasure, retention).
CREATE TABLE event_ids (
  project_id  integer     NOT NULL,
  source      smallint    NOT NULL,
  event_id    uuid        NOT NULL,
  occurred_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, source, event_id)
);
INSERT INTO event_ids (project_id, source, event_id, occurred_at)
SELECT project_id, source, event_id, occurred_at FROM events ORDER BY 1, 2, 3;

-- Raw events, partitioned by UTC week (Monday 00:00 UTC to the next): a query over a range
-- reads the range's partitions only, and retention drops whole weeks. Partitions are named
-- events_wYYYYMMDD after their Monday; analytics.create_event_partitions() adds them ahead
-- of time (maintenance) and on demand (a batch with a week that has none). There is no
-- default partition: it would forbid DETACH ... CONCURRENTLY, which retention uses so that
-- dropping a week never blocks ingest.
ALTER TABLE events RENAME TO events_0007;
ALTER TABLE events_0007 RENAME CONSTRAINT events_pkey TO events_0007_pkey;
ALTER INDEX events_project_occurred_at_idx RENAME TO events_0007_project_occurred_at_idx;
CREATE TABLE events (
  project_id  integer     NOT NULL,
  source      smallint    NOT NULL CHECK (source >= 0),
  event_id    uuid        NOT NULL,
  occurred_at timestamptz NOT NULL,
  user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 256),
  event_type  text        NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 128),
  properties  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
  received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (occurred_at);
-- Ranges of a project's events (raw-path /stats, exploration, export).
CREATE INDEX events_project_occurred_at_idx ON events (project_id, occurred_at);
-- One user's events (erasure, the user timeline, retention cohorts in a zone without
-- summaries).
CREATE INDEX events_project_user_idx ON events (project_id, user_id, occurred_at);

DO $$
DECLARE
  week timestamptz;
BEGIN
  FOR week IN
    SELECT DISTINCT date_trunc('week', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    FROM events_0007 ORDER BY 1
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      'events_w' || to_char(week AT TIME ZONE 'UTC', 'YYYYMMDD'), week, week + interval '7 days');
  END LOOP;
END
$$;
INSERT INTO events SELECT project_id, source, event_id, occurred_at, user_id, event_type,
  properties, received_at FROM events_0007;
DROP TABLE events_0007;

-- Retention per project (NULL: keep raw events forever). raw_floor: every raw event of the
-- project at or after this instant is stored; older ones may have expired (NULL: none did).
ALTER TABLE projects
  ADD COLUMN raw_retention_days integer CHECK (raw_retention_days BETWEEN 1 AND 36500),
  ADD COLUMN raw_floor timestamptz;

-- A zone added after raw events expired is built from what is left: it is complete from
-- this local day on (NULL: complete).
ALTER TABLE project_zones ADD COLUMN complete_from date;

-- Events of a user, type and local day whose raw rows expired, so that erasing the user
-- still corrects type_day_counts exactly for those days.
ALTER TABLE type_user_days ADD COLUMN expired_events integer NOT NULL DEFAULT 0;

-- Partitions whose counts were folded into type_user_days.expired_events before being
-- dropped (or whose project's rows were deleted), so a maintenance pass that stopped
-- half-way never folds a week twice.
CREATE TABLE expired_partitions (
  partition_name text        NOT NULL,
  project_id     integer     NOT NULL,
  expired_at     timestamptz NOT NULL DEFAULT now(),
  events         bigint      NOT NULL,
  PRIMARY KEY (partition_name, project_id)
);

ANALYZE event_ids, events;
