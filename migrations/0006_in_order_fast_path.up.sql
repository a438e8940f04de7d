-- Step 2 becomes one upsert of the batch's users, and the in-order fast path of steps 3-4
-- (docs/write-path.md, "Step 2" and "The fast path").
--
-- users.last_seen_at is the instant of the user's latest stored event. Local days are
-- monotonic in the instant, so in any zone the local day of last_seen_at is the user's
-- latest stored day. A batch day after it is new, its previous stored day is that day, and
-- nothing is stored after it: steps 3 and 4 then need no probe into user_days (and one
-- instead of three into type_user_days). Only late days (before the user's latest stored
-- day) probe as before.
--
-- first_seen_before and last_seen_before hold first_seen_at and last_seen_at as they were
-- before the latest batch with this user: the upsert that locks and advances a user
-- returns them (UPDATE ... RETURNING sees only new values before PostgreSQL 18). They mean
-- nothing outside that statement.
ALTER TABLE users
  ADD COLUMN last_seen_at timestamptz,
  ADD COLUMN first_seen_before timestamptz,
  ADD COLUMN last_seen_before timestamptz;
UPDATE users u SET last_seen_at = m.last_at
FROM (SELECT user_id, max(occurred_at) AS last_at FROM events GROUP BY user_id) AS m
WHERE u.user_id = m.user_id;
-- (A user without events left, only if events were deleted by hand.)
UPDATE users SET last_seen_at = first_seen_at WHERE last_seen_at IS NULL;
ALTER TABLE users ALTER COLUMN last_seen_at SET NOT NULL;
-- Every batch rewrites its users' rows: leave room on each page so that the new version
-- stays on the page and the indexes are not touched (a HOT update).
ALTER TABLE users SET (fillfactor = 70);

ALTER TYPE ingest_keyed_event ADD ATTRIBUTE previous_last timestamptz;
-- A user of the batch, locked, with first and latest events before the batch.
CREATE TYPE ingest_batch_user AS (
  user_id text, user_key integer, previous_first timestamptz, previous_last timestamptz
);
-- An event type of the batch with its key.
CREATE TYPE ingest_batch_type AS (event_type text, type_key integer);

-- Step 2c: the batch's events with integer keys and their users' state before the batch.
-- Joins three unnested arrays, so hash joins only: the planner guesses 10 rows for each
-- array and could otherwise pick a nested loop over thousands x thousands.
CREATE FUNCTION ingest_key_events(
  stored ingest_stored_event[], batch_users ingest_batch_user[], batch_types ingest_batch_type[]
) RETURNS ingest_keyed_event[]
LANGUAGE sql SET enable_nestloop = off SET enable_mergejoin = off SET jit = off AS $fn$
  SELECT array_agg(ROW(u.user_key, t.type_key, s.occurred_at, u.previous_first, u.previous_last)::ingest_keyed_event)
  FROM unnest(stored) AS s
  JOIN unnest(batch_users) AS u ON u.user_id = s.user_id
  JOIN unnest(batch_types) AS t ON t.event_type = s.event_type;
$fn$;

-- Step 2: dictionaries and user locks, as one upsert per table.
--
-- 2a. Missing event types (sorted, so concurrent batches wait for each other in one
--     order), and the batch's type keys.
-- 2b. Every user of the batch in one INSERT ... ON CONFLICT DO UPDATE, in user_id order:
--     a new user is inserted, a known one is locked and advanced (first_seen_at earlier for
--     a late event, last_seen_at later for a new one). Either way the row is this batch's
--     until commit, and the lock is taken in the one order every batch uses. A known user
--     is proposed with its own key (so no identity value is burnt on it, and a row that
--     somehow did not conflict would fail on the primary key rather than get a new key).
--     On a conflict PostgreSQL re-reads the latest committed row version, so a batch that
--     waited reads the state the other one left.
-- 2c. The events with their keys (ingest_key_events).
--
-- Plans: every statement here and in steps 3-4 joins the batch (an unnested array) with
-- tables through their indexes, and arrays with each other only by hash (2c).
-- enable_seqscan = off keeps the probes on the indexes whatever the tables' statistics (a
-- freshly loaded table still "looks" empty). jit = off: a statement's estimated cost easily
-- passes jit_above_cost here (and disabled scans add 1e10 to it), and compiling costs far
-- more than these per-batch statements run (measured: 0.5-1 s per statement).
CREATE OR REPLACE FUNCTION ingest_lock_users(stored ingest_stored_event[])
RETURNS ingest_keyed_event[] LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  batch_types ingest_batch_type[];
  batch_users ingest_batch_user[];
BEGIN
  INSERT INTO event_types (event_type)
  SELECT DISTINCT s.event_type FROM unnest(stored) AS s
  WHERE NOT EXISTS (SELECT 1 FROM event_types t WHERE t.event_type = s.event_type)
  ORDER BY 1
  ON CONFLICT (event_type) DO NOTHING;

  SELECT array_agg(ROW(t.event_type, t.type_key)::ingest_batch_type) INTO batch_types
  FROM event_types t
  WHERE t.event_type IN (SELECT s.event_type FROM unnest(stored) AS s);

  WITH upserted AS (
    INSERT INTO users AS u (user_key, user_id, first_seen_at, last_seen_at, first_seen_before, last_seen_before)
    OVERRIDING SYSTEM VALUE
    SELECT coalesce((SELECT k.user_key FROM users k WHERE k.user_id = b.user_id),
                    nextval(pg_get_serial_sequence('users', 'user_key'))),
           b.user_id, b.first_at, b.last_at, b.first_at, NULL
    FROM (
      SELECT s.user_id, min(s.occurred_at) AS first_at, max(s.occurred_at) AS last_at
      FROM unnest(stored) AS s GROUP BY s.user_id
    ) AS b
    ORDER BY b.user_id
    ON CONFLICT (user_id) DO UPDATE
    SET first_seen_before = u.first_seen_at,
        last_seen_before  = u.last_seen_at,
        first_seen_at     = least(u.first_seen_at, EXCLUDED.first_seen_at),
        last_seen_at      = greatest(u.last_seen_at, EXCLUDED.last_seen_at)
    RETURNING u.user_id, u.user_key, u.first_seen_before, u.last_seen_before
  )
  SELECT array_agg(ROW(user_id, user_key, first_seen_before, last_seen_before)::ingest_batch_user)
  INTO batch_users FROM upserted;

  RETURN ingest_key_events(stored, batch_users, batch_types);
END
$fn$;

-- Step 3, as in 0005 except 3a: a day after the user's latest stored day (last_day) is new,
-- with last_day as its previous stored day and no stored day after it; last_day itself is
-- stored. Neither needs a probe.
-- OFFSET 0 keeps the planner from copying the at_or_before probe into both the filter
-- and the output (it did: two probes per candidate).
CREATE OR REPLACE FUNCTION ingest_user_activity(keyed ingest_keyed_event[])
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  -- 3a. New (zone, user, day) with the user's nearest stored days before and after, and
  --     the user's cohort after and before the batch.
  SELECT array_agg(ROW(t.zone_id, t.user_key, NULL, t.day, t.at_or_before,
           CASE WHEN t.last_day IS NULL OR t.day >= t.last_day THEN NULL
                ELSE (SELECT min(d.day) FROM user_days d
                      WHERE d.user_key = t.user_key AND d.zone_id = t.zone_id AND d.day > t.day)
           END,
           t.cohort_day, t.old_cohort_day)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*,
           CASE WHEN p.last_day IS NULL OR p.day > p.last_day THEN p.last_day
                WHEN p.day = p.last_day THEN p.day
                ELSE (SELECT max(d.day) FROM user_days d
                      WHERE d.user_key = p.user_key AND d.zone_id = p.zone_id AND d.day <= p.day)
           END AS at_or_before
    FROM (
      SELECT DISTINCT z.zone_id, k.user_key, (k.occurred_at AT TIME ZONE z.name)::date AS day,
             (least(k.previous_first, k.batch_first) AT TIME ZONE z.name)::date AS cohort_day,
             (k.previous_first AT TIME ZONE z.name)::date AS old_cohort_day,
             (k.previous_last AT TIME ZONE z.name)::date AS last_day
      FROM (
        SELECT *, min(occurred_at) OVER (PARTITION BY user_key) AS batch_first FROM unnest(keyed)
      ) AS k CROSS JOIN report_zones z
    ) AS p
    OFFSET 0
  ) AS t
  WHERE t.at_or_before IS DISTINCT FROM t.day;

  IF fresh IS NULL THEN
    RETURN;
  END IF;

  -- 3b. active_user_reach. A new day is filed under the later of its nearest stored day
  --     and the previous new day of the same user. A stored day right after new ones
  --     (next_old) was filed under previous_old and now goes under the latest of them.
  WITH f AS (SELECT * FROM unnest(fresh)), delta AS (
    SELECT zone_id, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY zone_id, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM f
    UNION ALL
    SELECT zone_id, next_old, coalesce(previous_old, '-infinity'), -1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY zone_id, user_key, next_old, previous_old
    UNION ALL
    SELECT zone_id, next_old, max(day), 1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY zone_id, user_key, next_old, previous_old
  ), clamped AS (
    SELECT zone_id, day, greatest(previous_day, day - 30) AS previous_day, change FROM delta
  )
  INSERT INTO active_user_reach AS r (zone_id, day, previous_day, users)
  SELECT zone_id, day, previous_day, sum(change) FROM clamped
  GROUP BY zone_id, day, previous_day HAVING sum(change) <> 0
  ORDER BY zone_id, day, previous_day
  ON CONFLICT (zone_id, day, previous_day) DO UPDATE SET users = r.users + EXCLUDED.users;

  -- 3c. retention_reach, in one sorted pass. Users whose cohort (local day of the first
  --     event) did not change get the same local delta as 3b, in their cohort. A user
  --     whose first event moved to an earlier local day is re-homed: every stored day
  --     leaves the old cohort and every day (stored and new) joins the new one.
  WITH f AS (SELECT * FROM unnest(fresh)), staying AS (
    SELECT * FROM f WHERE cohort_day = old_cohort_day
  ), rehomed_days AS (
    SELECT r.zone_id, r.user_key, r.cohort_day, r.old_cohort_day, d.day, true AS stored
    FROM (SELECT DISTINCT zone_id, user_key, cohort_day, old_cohort_day FROM f
          WHERE cohort_day <> old_cohort_day) AS r
    JOIN user_days d ON d.user_key = r.user_key AND d.zone_id = r.zone_id
    UNION ALL
    SELECT zone_id, user_key, cohort_day, old_cohort_day, day, false
    FROM f WHERE cohort_day <> old_cohort_day
  ), delta AS (
    SELECT zone_id, cohort_day, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY zone_id, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM staying
    UNION ALL
    SELECT zone_id, cohort_day, next_old, coalesce(previous_old, '-infinity'), -1
    FROM staying WHERE next_old IS NOT NULL
    GROUP BY zone_id, cohort_day, user_key, next_old, previous_old
    UNION ALL
    SELECT zone_id, cohort_day, next_old, max(day), 1
    FROM staying WHERE next_old IS NOT NULL
    GROUP BY zone_id, cohort_day, user_key, next_old, previous_old
    UNION ALL
    SELECT zone_id, old_cohort_day, day,
           coalesce(lag(day) OVER (PARTITION BY zone_id, user_key ORDER BY day), '-infinity'), -1
    FROM rehomed_days WHERE stored
    UNION ALL
    SELECT zone_id, cohort_day, day,
           coalesce(lag(day) OVER (PARTITION BY zone_id, user_key ORDER BY day), '-infinity'), 1
    FROM rehomed_days
  ), clamped AS (
    SELECT zone_id, cohort_day, day, greatest(previous_day, day - 7) AS previous_day, change FROM delta
  )
  INSERT INTO retention_reach AS r (zone_id, cohort_day, day, previous_day, users)
  SELECT zone_id, cohort_day, day, previous_day, sum(change) FROM clamped
  GROUP BY zone_id, cohort_day, day, previous_day HAVING sum(change) <> 0
  ORDER BY zone_id, cohort_day, day, previous_day
  ON CONFLICT (zone_id, cohort_day, day, previous_day) DO UPDATE SET users = r.users + EXCLUDED.users;

  -- 3d. Store the new days (a plain insert: under the user lock no one else adds them).
  INSERT INTO user_days (user_key, zone_id, day)
  SELECT user_key, zone_id, day FROM unnest(fresh) ORDER BY user_key, zone_id, day;
END
$fn$;

-- Step 4, as in 0005 except 4a: a user with no stored event has no stored type-day (no
-- probe); on or after the user's latest stored day only the probe for the type's latest
-- stored day is needed (nothing of any type is stored after it).
CREATE OR REPLACE FUNCTION ingest_type_activity(keyed ingest_keyed_event[])
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  SELECT array_agg(ROW(t.zone_id, t.user_key, t.type_key, t.day, t.at_or_before,
           CASE WHEN t.last_day IS NULL OR t.day >= t.last_day THEN NULL
                ELSE (SELECT min(d.day) FROM type_user_days d
                      WHERE d.user_key = t.user_key AND d.type_key = t.type_key
                        AND d.zone_id = t.zone_id AND d.day > t.day)
           END, NULL, NULL)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*,
           CASE WHEN p.last_day IS NULL THEN NULL
                ELSE (SELECT max(d.day) FROM type_user_days d
                      WHERE d.user_key = p.user_key AND d.type_key = p.type_key
                        AND d.zone_id = p.zone_id AND d.day <= p.day)
           END AS at_or_before
    FROM (
      SELECT DISTINCT z.zone_id, k.user_key, k.type_key, (k.occurred_at AT TIME ZONE z.name)::date AS day,
             (k.previous_last AT TIME ZONE z.name)::date AS last_day
      FROM unnest(keyed) AS k CROSS JOIN report_zones z
    ) AS p
    OFFSET 0
  ) AS t
  WHERE t.at_or_before IS DISTINCT FROM t.day;

  IF fresh IS NULL THEN
    RETURN;
  END IF;

  WITH f AS (SELECT * FROM unnest(fresh)), delta AS (
    SELECT zone_id, type_key, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY zone_id, type_key, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM f
    UNION ALL
    SELECT zone_id, type_key, next_old, coalesce(previous_old, '-infinity'), -1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY zone_id, type_key, user_key, next_old, previous_old
    UNION ALL
    SELECT zone_id, type_key, next_old, max(day), 1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY zone_id, type_key, user_key, next_old, previous_old
  )
  INSERT INTO type_reach AS r (zone_id, type_key, day, previous_day, users)
  SELECT zone_id, type_key, day, previous_day, sum(change) FROM delta
  GROUP BY zone_id, type_key, day, previous_day HAVING sum(change) <> 0
  ORDER BY zone_id, type_key, day, previous_day
  ON CONFLICT (zone_id, type_key, day, previous_day) DO UPDATE SET users = r.users + EXCLUDED.users;

  INSERT INTO type_user_days (user_key, type_key, zone_id, day)
  SELECT user_key, type_key, zone_id, day FROM unnest(fresh) ORDER BY user_key, type_key, zone_id, day;
END
$fn$;

-- rebuild_summaries() as in 0005, and it also sets last_seen_at.
CREATE OR REPLACE FUNCTION rebuild_summaries()
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  zone smallint;
BEGIN
  LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
  TRUNCATE users, event_types, user_days, active_user_reach, retention_reach, type_user_days,
    type_reach, type_day_counts RESTART IDENTITY;

  INSERT INTO users (user_id, first_seen_at, last_seen_at)
  SELECT user_id, min(occurred_at), max(occurred_at) FROM events GROUP BY user_id ORDER BY user_id;

  INSERT INTO event_types (event_type)
  SELECT DISTINCT event_type FROM events ORDER BY 1;

  FOR zone IN SELECT zone_id FROM report_zones ORDER BY zone_id LOOP
    PERFORM backfill_report_zone(zone);
  END LOOP;

  ANALYZE report_zones, users, event_types, user_days, active_user_reach, retention_reach,
    type_user_days, type_reach, type_day_counts;
END
$fn$;
