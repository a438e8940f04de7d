-- Back to 0005: its step functions and rebuild_summaries(), without last_seen_at.
DROP FUNCTION ingest_key_events(ingest_stored_event[], ingest_batch_user[], ingest_batch_type[]);
DROP TYPE ingest_batch_user, ingest_batch_type;
ALTER TYPE ingest_keyed_event DROP ATTRIBUTE previous_last;
ALTER TABLE users DROP COLUMN last_seen_at, DROP COLUMN first_seen_before, DROP COLUMN last_seen_before;
ALTER TABLE users RESET (fillfactor);

CREATE OR REPLACE FUNCTION ingest_lock_users(stored ingest_stored_event[])
RETURNS ingest_keyed_event[] LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  keyed ingest_keyed_event[];
BEGIN
  INSERT INTO event_types (event_type)
  SELECT DISTINCT s.event_type FROM unnest(stored) AS s
  WHERE NOT EXISTS (SELECT 1 FROM event_types t WHERE t.event_type = s.event_type)
  ORDER BY 1
  ON CONFLICT (event_type) DO NOTHING;

  -- NOT EXISTS first: ON CONFLICT alone would burn an identity value per known user.
  INSERT INTO users (user_id, first_seen_at)
  SELECT s.user_id, min(s.occurred_at) FROM unnest(stored) AS s
  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id)
  GROUP BY s.user_id ORDER BY s.user_id
  ON CONFLICT (user_id) DO NOTHING;

  -- Lock every user of the batch, in user_id order (the sort sits below the row locking),
  -- and read their first event before this batch: the latest committed first_seen_at, as a
  -- batch that waited for the lock reads the row version it waited for. The lock is held
  -- to commit: the user's per-user rows are now this batch's alone.
  SELECT array_agg(ROW(b.user_key, b.type_key, b.occurred_at, b.previous_first)::ingest_keyed_event)
  INTO keyed
  FROM (
    SELECT u.user_key, t.type_key, s.occurred_at, u.first_seen_at AS previous_first
    FROM unnest(stored) AS s
    JOIN users u ON u.user_id = s.user_id
    JOIN event_types t ON t.event_type = s.event_type
    ORDER BY u.user_id
    FOR UPDATE OF u
  ) AS b;

  -- A late event moved these users' first event earlier.
  UPDATE users u SET first_seen_at = m.first_at
  FROM (
    SELECT user_key, min(occurred_at) AS first_at FROM unnest(keyed)
    GROUP BY user_key HAVING min(occurred_at) < min(previous_first)
  ) AS m
  WHERE u.user_key = m.user_key;

  RETURN keyed;
END
$fn$;

CREATE OR REPLACE FUNCTION ingest_user_activity(keyed ingest_keyed_event[])
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  -- 3a. New (zone, user, day) with the user's nearest stored days before and after (one
  --     probe tells both whether the day is stored and, if not, the day before it), and
  --     the user's cohort after and before the batch.
  SELECT array_agg(ROW(t.zone_id, t.user_key, NULL, t.day, t.at_or_before,
           (SELECT min(d.day) FROM user_days d
             WHERE d.user_key = t.user_key AND d.zone_id = t.zone_id AND d.day > t.day),
           t.cohort_day, t.old_cohort_day)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*, (SELECT max(d.day) FROM user_days d
                 WHERE d.user_key = p.user_key AND d.zone_id = p.zone_id AND d.day <= p.day) AS at_or_before
    FROM (
      SELECT DISTINCT z.zone_id, k.user_key, (k.occurred_at AT TIME ZONE z.name)::date AS day,
             (least(k.previous_first, k.batch_first) AT TIME ZONE z.name)::date AS cohort_day,
             (k.previous_first AT TIME ZONE z.name)::date AS old_cohort_day
      FROM (
        SELECT *, min(occurred_at) OVER (PARTITION BY user_key) AS batch_first FROM unnest(keyed)
      ) AS k CROSS JOIN report_zones z
    ) AS p
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

CREATE OR REPLACE FUNCTION ingest_type_activity(keyed ingest_keyed_event[])
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  SELECT array_agg(ROW(t.zone_id, t.user_key, t.type_key, t.day, t.at_or_before,
           (SELECT min(d.day) FROM type_user_days d
             WHERE d.user_key = t.user_key AND d.type_key = t.type_key AND d.zone_id = t.zone_id
               AND d.day > t.day), NULL, NULL)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*, (SELECT max(d.day) FROM type_user_days d
                 WHERE d.user_key = p.user_key AND d.type_key = p.type_key AND d.zone_id = p.zone_id
                   AND d.day <= p.day) AS at_or_before
    FROM (
      SELECT DISTINCT z.zone_id, k.user_key, k.type_key, (k.occurred_at AT TIME ZONE z.name)::date AS day
      FROM unnest(keyed) AS k CROSS JOIN report_zones z
    ) AS p
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

CREATE OR REPLACE FUNCTION rebuild_summaries()
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  zone smallint;
BEGIN
  LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
  TRUNCATE users, event_types, user_days, active_user_reach, retention_reach, type_user_days,
    type_reach, type_day_counts RESTART IDENTITY;

  INSERT INTO users (user_id, first_seen_at)
  SELECT user_id, min(occurred_at) FROM events GROUP BY user_id ORDER BY user_id;

  INSERT INTO event_types (event_type)
  SELECT DISTINCT event_type FROM events ORDER BY 1;

  FOR zone IN SELECT zone_id FROM report_zones ORDER BY zone_id LOOP
    PERFORM backfill_report_zone(zone);
  END LOOP;

  ANALYZE report_zones, users, event_types, user_days, active_user_reach, retention_reach,
    type_user_days, type_reach, type_day_counts;
END
$fn$;

