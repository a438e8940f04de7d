-- Back to 0007: one unpartitioned events table keyed by its identity. Raw events that
-- retention already dropped stay gone (their summaries stay, as they are).
ALTER TABLE events RENAME TO events_0008;
CREATE TABLE events (
  event_id    uuid        NOT NULL,
  occurred_at timestamptz NOT NULL,
  user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 256),
  event_type  text        NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 128),
  properties  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
  received_at timestamptz NOT NULL DEFAULT now(),
  project_id  integer     NOT NULL,
  source      smallint    NOT NULL CHECK (source >= 0),
  PRIMARY KEY (project_id, source, event_id)
);
INSERT INTO events (event_id, occurred_at, user_id, event_type, properties, received_at, project_id, source)
SELECT event_id, occurred_at, user_id, event_type, properties, received_at, project_id, source
FROM events_0008;
DROP TABLE events_0008;
CREATE INDEX events_project_occurred_at_idx ON events (project_id, occurred_at);

DROP TABLE event_ids, expired_partitions;
ALTER TABLE type_user_days DROP COLUMN expired_events;
ALTER TABLE project_zones DROP COLUMN complete_from;
ALTER TABLE projects DROP COLUMN raw_retention_days, DROP COLUMN raw_floor;
ANALYZE events;
