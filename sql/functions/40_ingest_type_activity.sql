-- Step 4: per-type activity per reporting zone: type_user_days and type_reach (the same
-- reach bookkeeping as step 3b, per type, unclamped). Reads before writes, as in step 3.
-- A user with no stored event has no stored type-day (no probe); on or after the user's
-- latest stored day only the probe for the type's latest stored day is needed (nothing of
-- any type is stored after it).
CREATE FUNCTION ingest_type_activity(keyed ingest_keyed_event[], zones ingest_zone[])
RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  fresh ingest_new_day[];
BEGIN
  SELECT array_agg(ROW(t.project_id, t.zone_id, t.user_key, t.type_key, t.day, t.at_or_before,
           CASE WHEN t.last_day IS NULL OR t.day >= t.last_day THEN NULL
                ELSE (SELECT min(d.day) FROM type_user_days d
                      WHERE d.project_id = t.project_id AND d.user_key = t.user_key
                        AND d.type_key = t.type_key AND d.zone_id = t.zone_id AND d.day > t.day)
           END, NULL, NULL)::ingest_new_day)
  INTO fresh
  FROM (
    SELECT p.*,
           CASE WHEN p.last_day IS NULL THEN NULL
                ELSE (SELECT max(d.day) FROM type_user_days d
                      WHERE d.project_id = p.project_id AND d.user_key = p.user_key
                        AND d.type_key = p.type_key AND d.zone_id = p.zone_id AND d.day <= p.day)
           END AS at_or_before
    FROM (
      SELECT DISTINCT k.project_id, z.zone_id, k.user_key, k.type_key,
             (k.occurred_at AT TIME ZONE z.name)::date AS day,
             (k.previous_last AT TIME ZONE z.name)::date AS last_day
      FROM unnest(keyed) AS k
      JOIN unnest(zones) AS z ON z.project_id = k.project_id
    ) AS p
    OFFSET 0
  ) AS t
  WHERE t.at_or_before IS DISTINCT FROM t.day;

  IF fresh IS NULL THEN
    RETURN;
  END IF;

  WITH f AS (SELECT * FROM unnest(fresh)), delta AS (
    SELECT project_id, zone_id, type_key, day,
           greatest(coalesce(previous_old, '-infinity'),
                    coalesce(lag(day) OVER (PARTITION BY project_id, zone_id, type_key, user_key ORDER BY day), '-infinity'))
             AS previous_day,
           1 AS change
    FROM f
    UNION ALL
    SELECT project_id, zone_id, type_key, next_old, coalesce(previous_old, '-infinity'), -1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, type_key, user_key, next_old, previous_old
    UNION ALL
    SELECT project_id, zone_id, type_key, next_old, max(day), 1
    FROM f WHERE next_old IS NOT NULL
    GROUP BY project_id, zone_id, type_key, user_key, next_old, previous_old
  )
  INSERT INTO type_reach AS r (project_id, zone_id, type_key, day, previous_day, users)
  SELECT project_id, zone_id, type_key, day, previous_day, sum(change) FROM delta
  GROUP BY project_id, zone_id, type_key, day, previous_day HAVING sum(change) <> 0
  ORDER BY project_id, zone_id, type_key, day, previous_day
  ON CONFLICT (project_id, zone_id, type_key, day, previous_day)
  DO UPDATE SET users = r.users + EXCLUDED.users;

  INSERT INTO type_user_days (project_id, user_key, type_key, zone_id, day)
  SELECT project_id, user_key, type_key, zone_id, day FROM unnest(fresh)
  ORDER BY project_id, user_key, type_key, zone_id, day;
END
$fn$;

-- Step 5: events per reporting zone, local day and type.
CREATE FUNCTION ingest_type_counts(keyed ingest_keyed_event[], zones ingest_zone[])
RETURNS void
LANGUAGE sql SET jit = off SET search_path = analytics, public AS $fn$
  INSERT INTO type_day_counts AS c (project_id, zone_id, day, type_key, events)
  SELECT k.project_id, z.zone_id, (k.occurred_at AT TIME ZONE z.name)::date, k.type_key, count(*)
  FROM unnest(keyed) AS k
  JOIN unnest(zones) AS z ON z.project_id = k.project_id
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (project_id, zone_id, day, type_key) DO UPDATE SET events = c.events + EXCLUDED.events;
$fn$;
