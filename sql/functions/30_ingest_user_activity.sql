-- Step 3: user activity per reporting zone of the event's project: user_days,
-- active_user_reach and retention_reach.
--
-- Ordering rules: every read of user_days (the probes and the re-homed users' history)
-- happens before this step inserts into user_days, so each new day is compared with the
-- stored days only, and new days with each other only through the window over the batch.
--
-- The in-order fast path: users.last_seen_at is the instant of the user's latest stored
-- event, and local days are monotonic in the instant, so in any zone the local day of
-- previous_last (last_day) is the user's latest stored day. A day after it is new, with
-- last_day as its previous stored day and nothing stored after it; last_day itself is
-- stored. Neither needs a probe; only late days probe user_days.
-- OFFSET 0 keeps the planner from copying the at_or_before probe into both the filter
-- and the output (it did: two probes per candidate).
CREATE FUNCTION ingest_user_activity(keyed ingest_keyed_event[], zones ingest_zone[])
RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  -- 3a. New (project, zone, user, day) with the user's nearest stored days before and
  --     after, and the user's cohort after and before the batch.
  SELECT array_agg(ROW(t.project_id, t.zone_id, t.user_key, NULL, t.day, t.at_or_before,
           CASE WHEN t.last_day IS NULL OR t.day >= t.last_day THEN NULL
                ELSE (SELECT min(d.day) FROM user_days d
                      WHERE d.project_id = t.project_id AND d.user_key = t.user_key
                        AND d.zone_id = t.zone_id AND d.day > t.day)
           END,
           t.cohort_day, t.old_cohort_day)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*,
           CASE WHEN p.last_day IS NULL OR p.day > p.last_day THEN p.last_day
                WHEN p.day = p.last_day THEN p.day
                ELSE (SELECT max(d.day) FROM user_days d
                      WHERE d.project_id = p.project_id AND d.user_key = p.user_key
                        AND d.zone_id = p.zone_id AND d.day <= p.day)
           END AS at_or_before
    FROM (
      SELECT DISTINCT k.project_id, z.zone_id, k.user_key,
             (k.occurred_at AT TIME ZONE z.name)::date AS day,
             (least(k.previous_first, k.batch_first) AT TIME ZONE z.name)::date AS cohort_day,
             (k.previous_first AT TIME ZONE z.name)::date AS old_cohort_day,
             (k.previous_last AT TIME ZONE z.name)::date AS last_day
      FROM (
        SELECT *, min(occurred_at) OVER (PARTITION BY project_id, user_key) AS batch_first
        FROM unnest(keyed)
      ) AS k
      JOIN unnest(zones) AS z ON z.project_id = k.project_id
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
    SELECT project_id, zone_id, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY project_id, zone_id, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM f
    UNION ALL
    SELECT project_id, zone_id, next_old, coalesce(previous_old, '-infinity'), -1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, user_key, next_old, previous_old
    UNION ALL
    SELECT project_id, zone_id, next_old, max(day), 1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, user_key, next_old, previous_old
  ), clamped AS (
    SELECT project_id, zone_id, day, greatest(previous_day, day - 30) AS previous_day, change
    FROM delta
  )
  INSERT INTO active_user_reach AS r (project_id, zone_id, day, previous_day, users)
  SELECT project_id, zone_id, day, previous_day, sum(change) FROM clamped
  GROUP BY project_id, zone_id, day, previous_day HAVING sum(change) <> 0
  ORDER BY project_id, zone_id, day, previous_day
  ON CONFLICT (project_id, zone_id, day, previous_day) DO UPDATE SET users = r.users + EXCLUDED.users;

  -- 3c. retention_reach, in one sorted pass. Users whose cohort (local day of the first
  --     event) did not change get the same local delta as 3b, in their cohort. A user
  --     whose first event moved to an earlier local day is re-homed: every stored day
  --     leaves the old cohort and every day (stored and new) joins the new one.
  WITH f AS (SELECT * FROM unnest(fresh)), staying AS (
    SELECT * FROM f WHERE cohort_day = old_cohort_day
  ), rehomed_days AS (
    SELECT r.project_id, r.zone_id, r.user_key, r.cohort_day, r.old_cohort_day, d.day, true AS stored
    FROM (SELECT DISTINCT project_id, zone_id, user_key, cohort_day, old_cohort_day FROM f
          WHERE cohort_day <> old_cohort_day) AS r
    JOIN user_days d
      ON d.project_id = r.project_id AND d.user_key = r.user_key AND d.zone_id = r.zone_id
    UNION ALL
    SELECT project_id, zone_id, user_key, cohort_day, old_cohort_day, day, false
    FROM f WHERE cohort_day <> old_cohort_day
  ), delta AS (
    SELECT project_id, zone_id, cohort_day, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY project_id, zone_id, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM staying
    UNION ALL
    SELECT project_id, zone_id, cohort_day, next_old, coalesce(previous_old, '-infinity'), -1
    FROM staying WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, cohort_day, user_key, next_old, previous_old
    UNION ALL
    SELECT project_id, zone_id, cohort_day, next_old, max(day), 1
    FROM staying WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, cohort_day, user_key, next_old, previous_old
    UNION ALL
    SELECT project_id, zone_id, old_cohort_day, day,
           coalesce(lag(day) OVER (PARTITION BY project_id, zone_id, user_key ORDER BY day), '-infinity'), -1
    FROM rehomed_days WHERE stored
    UNION ALL
    SELECT project_id, zone_id, cohort_day, day,
           coalesce(lag(day) OVER (PARTITION BY project_id, zone_id, user_key ORDER BY day), '-infinity'), 1
    FROM rehomed_days
  ), clamped AS (
    SELECT project_id, zone_id, cohort_day, day, greatest(previous_day, day - 7) AS previous_day, change
    FROM delta
  )
  INSERT INTO retention_reach AS r (project_id, zone_id, cohort_day, day, previous_day, users)
  SELECT project_id, zone_id, cohort_day, day, previous_day, sum(change) FROM clamped
  GROUP BY project_id, zone_id, cohort_day, day, previous_day HAVING sum(change) <> 0
  ORDER BY project_id, zone_id, cohort_day, day, previous_day
  ON CONFLICT (project_id, zone_id, cohort_day, day, previous_day)
  DO UPDATE SET users = r.users + EXCLUDED.users;

  -- 3d. Store the new days (a plain insert: under the user lock no one else adds them).
  INSERT INTO user_days (project_id, user_key, zone_id, day)
  SELECT project_id, user_key, zone_id, day FROM unnest(fresh)
  ORDER BY project_id, user_key, zone_id, day;
END
$fn$;
