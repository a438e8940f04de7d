-- One row per event, keyed by the client's event_id (the idempotency key).
CREATE TABLE events (
  event_id    uuid        PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 256),
  event_type  text        NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 128),
  properties  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
  received_at timestamptz NOT NULL DEFAULT now()
);

-- Time-range scans: the /stats queries for a non-UTC time zone read raw events by time.
-- UTC queries are answered from the summary tables (0002), so no other index is needed;
-- every extra index slows ingestion.
CREATE INDEX events_occurred_at_idx ON events (occurred_at);
