DROP FUNCTION ingest_events(uuid[], timestamptz[], text[], text[], jsonb[]);
DROP TABLE event_type_reach;
DROP TABLE type_user_days;
DROP TABLE daily_event_counts;
DROP TABLE retention_counts;
DROP TABLE daily_active_users;
DROP TABLE daily_user_activity;
DROP TABLE user_first_seen;
