-- Back to one app (0006). The old schema cannot tell projects apart, so only the default
-- project's rows are kept: every other project's events, users, summaries and keys are
-- deleted. Within the default project, events that differ only by their ingest family
-- become one (the earliest received wins, as first-write-wins did), admin keys are
-- deleted, and the summaries are rebuilt from the events that remain.

DROP SCHEMA IF EXISTS analytics CASCADE;

DELETE FROM events WHERE project_id <> 1;
DELETE FROM users WHERE project_id <> 1;
DELETE FROM event_types WHERE project_id <> 1;
DELETE FROM user_days WHERE project_id <> 1;
DELETE FROM type_user_days WHERE project_id <> 1;
DELETE FROM active_user_reach WHERE project_id <> 1;
DELETE FROM retention_reach WHERE project_id <> 1;
DELETE FROM type_reach WHERE project_id <> 1;
DELETE FROM type_day_counts WHERE project_id <> 1;
DELETE FROM api_keys WHERE project_id <> 1 OR scope = 'admin';

DELETE FROM events e
USING (
  SELECT ctid, row_number() OVER (PARTITION BY event_id ORDER BY received_at, source) AS n FROM events
) AS d
WHERE e.ctid = d.ctid AND d.n > 1;

ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check,
  ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('write', 'read', 'all'));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey, DROP CONSTRAINT api_keys_project_name_key;
ALTER TABLE api_keys DROP COLUMN key_id, DROP COLUMN project_id;
ALTER TABLE api_keys ADD PRIMARY KEY (name);

ALTER TABLE type_day_counts DROP CONSTRAINT type_day_counts_pkey, DROP COLUMN project_id;
ALTER TABLE type_day_counts ADD PRIMARY KEY (zone_id, day, type_key);
ALTER TABLE type_reach DROP CONSTRAINT type_reach_pkey, DROP COLUMN project_id;
ALTER TABLE type_reach ADD PRIMARY KEY (zone_id, type_key, day, previous_day);
ALTER TABLE retention_reach DROP CONSTRAINT retention_reach_pkey, DROP COLUMN project_id;
ALTER TABLE retention_reach ADD PRIMARY KEY (zone_id, cohort_day, day, previous_day);
ALTER TABLE active_user_reach DROP CONSTRAINT active_user_reach_pkey, DROP COLUMN project_id;
ALTER TABLE active_user_reach ADD PRIMARY KEY (zone_id, day, previous_day);
ALTER TABLE type_user_days DROP CONSTRAINT type_user_days_pkey, DROP COLUMN project_id;
ALTER TABLE type_user_days ADD PRIMARY KEY (user_key, type_key, zone_id, day);
ALTER TABLE user_days DROP CONSTRAINT user_days_pkey, DROP COLUMN project_id;
ALTER TABLE user_days ADD PRIMARY KEY (user_key, zone_id, day);

ALTER TABLE event_types DROP CONSTRAINT event_types_pkey, DROP CONSTRAINT event_types_project_id_event_type_key;
ALTER TABLE event_types DROP COLUMN project_id;
ALTER TABLE event_types ADD PRIMARY KEY (type_key), ADD UNIQUE (event_type);

DROP INDEX users_project_first_seen_at_idx;
ALTER TABLE users DROP CONSTRAINT users_pkey, DROP CONSTRAINT users_project_id_user_id_key;
ALTER TABLE users DROP COLUMN project_id;
ALTER TABLE users ADD PRIMARY KEY (user_key), ADD UNIQUE (user_id);
CREATE INDEX users_first_seen_at_idx ON users (first_seen_at);

DROP INDEX events_project_occurred_at_idx;
ALTER TABLE events DROP CONSTRAINT events_pkey, DROP COLUMN project_id, DROP COLUMN source;
ALTER TABLE events ADD PRIMARY KEY (event_id);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);

DROP TABLE project_zones;
DROP INDEX report_zones_lower_name_key;
DROP TABLE projects;

ALTER FUNCTION legacy_0006.ingest_events(uuid[], timestamptz[], text[], text[], jsonb[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.ingest_lock_users(legacy_0006.ingest_stored_event[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.ingest_key_events(legacy_0006.ingest_stored_event[], legacy_0006.ingest_batch_user[], legacy_0006.ingest_batch_type[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.ingest_user_activity(legacy_0006.ingest_keyed_event[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.ingest_type_activity(legacy_0006.ingest_keyed_event[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.ingest_type_counts(legacy_0006.ingest_keyed_event[]) SET SCHEMA public;
ALTER FUNCTION legacy_0006.backfill_report_zone(smallint) SET SCHEMA public;
ALTER FUNCTION legacy_0006.add_report_zone(text) SET SCHEMA public;
ALTER FUNCTION legacy_0006.rebuild_summaries() SET SCHEMA public;
ALTER TYPE legacy_0006.ingest_stored_event SET SCHEMA public;
ALTER TYPE legacy_0006.ingest_keyed_event SET SCHEMA public;
ALTER TYPE legacy_0006.ingest_new_day SET SCHEMA public;
ALTER TYPE legacy_0006.ingest_batch_user SET SCHEMA public;
ALTER TYPE legacy_0006.ingest_batch_type SET SCHEMA public;
DROP SCHEMA legacy_0006;

-- The summaries of the events that remain, as 0006 builds them.
SELECT rebuild_summaries();
