-- Step 2c: the batch's events with integer keys and their users' state before the batch.
-- Joins three unnested arrays, so hash joins only: the planner guesses 10 rows for each
-- array and could otherwise pick a nested loop over thousands x thousands.
CREATE FUNCTION ingest_key_events(
  stored ingest_stored_event[], batch_users ingest_batch_user[], batch_types ingest_batch_type[]
) RETURNS ingest_keyed_event[]
LANGUAGE sql SET enable_nestloop = off SET enable_mergejoin = off SET jit = off
SET search_path = analytics, public AS $fn$
  SELECT array_agg(ROW(s.project_id, u.user_key, t.type_key, s.occurred_at, u.previous_first,
                       u.previous_last)::ingest_keyed_event)
  FROM unnest(stored) AS s
  JOIN unnest(batch_users) AS u ON u.project_id = s.project_id AND u.user_id = s.user_id
  JOIN unnest(batch_types) AS t ON t.project_id = s.project_id AND t.event_type = s.event_type;
$fn$;

-- Step 2: dictionaries and user locks, as one upsert per table.
--
-- 2a. Missing event types (sorted, so concurrent batches wait for each other in one
--     order), and the batch's type keys.
-- 2b. Every user of the batch in one INSERT ... ON CONFLICT DO UPDATE, in (project,
--     user_id) order: a new user is inserted, a known one is locked and advanced
--     (first_seen_at earlier for a late event, last_seen_at later for a new one). Either
--     way the row is this batch's until commit, and the lock is taken in the one order
--     every batch uses. A known user is proposed with its own key (so no identity value is
--     burnt on it). On a conflict PostgreSQL re-reads the latest committed row version, so
--     a batch that waited reads the state the other one left. RETURNING sees only new
--     values before PostgreSQL 18: first_seen_before / last_seen_before carry the old ones.
-- 2c. The events with their keys (ingest_key_events).
--
-- Plans: every statement here and in steps 3-4 joins the batch (an unnested array) with
-- tables through their indexes, and arrays with each other only by hash (2c).
-- enable_seqscan = off keeps the probes on the indexes whatever the tables' statistics (a
-- freshly loaded table still "looks" empty). jit = off: a statement's estimated cost easily
-- passes jit_above_cost here (and disabled scans add 1e10 to it), and compiling costs far
-- more than these per-batch statements run (measured: 0.5-1 s per statement).
CREATE FUNCTION ingest_lock_users(stored ingest_stored_event[])
RETURNS ingest_keyed_event[]
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  batch_types ingest_batch_type[];
  batch_users ingest_batch_user[];
BEGIN
  INSERT INTO event_types (project_id, event_type)
  SELECT DISTINCT s.project_id, s.event_type FROM unnest(stored) AS s
  WHERE NOT EXISTS (
    SELECT 1 FROM event_types t WHERE t.project_id = s.project_id AND t.event_type = s.event_type)
  ORDER BY 1, 2
  ON CONFLICT (project_id, event_type) DO NOTHING;

  SELECT array_agg(ROW(t.project_id, t.event_type, t.type_key)::ingest_batch_type) INTO batch_types
  FROM event_types t
  WHERE (t.project_id, t.event_type) IN (SELECT s.project_id, s.event_type FROM unnest(stored) AS s);

  WITH upserted AS (
    INSERT INTO users AS u (project_id, user_key, user_id, first_seen_at, last_seen_at,
                            first_seen_before, last_seen_before)
    OVERRIDING SYSTEM VALUE
    SELECT b.project_id,
           coalesce((SELECT k.user_key FROM users k
                     WHERE k.project_id = b.project_id AND k.user_id = b.user_id),
                    nextval(pg_get_serial_sequence('users', 'user_key'))),
           b.user_id, b.first_at, b.last_at, b.first_at, NULL
    FROM (
      SELECT s.project_id, s.user_id, min(s.occurred_at) AS first_at, max(s.occurred_at) AS last_at
      FROM unnest(stored) AS s GROUP BY s.project_id, s.user_id
    ) AS b
    ORDER BY b.project_id, b.user_id
    ON CONFLICT (project_id, user_id) DO UPDATE
    SET first_seen_before = u.first_seen_at,
        last_seen_before  = u.last_seen_at,
        first_seen_at     = least(u.first_seen_at, EXCLUDED.first_seen_at),
        last_seen_at      = greatest(u.last_seen_at, EXCLUDED.last_seen_at)
    RETURNING u.project_id, u.user_id, u.user_key, u.first_seen_before, u.last_seen_before
  )
  SELECT array_agg(ROW(project_id, user_id, user_key, first_seen_before, last_seen_before)::ingest_batch_user)
  INTO batch_users FROM upserted;

  RETURN ingest_key_events(stored, batch_users, batch_types);
END
$fn$;
