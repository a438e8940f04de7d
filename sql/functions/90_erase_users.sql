-- Erasure (right to be forgotten; docs/lifecycle.md): removes every raw event of the given
-- users of a project and corrects every summary exactly, in every zone of the project, as
-- if they had never sent anything; days whose raw events already expired included (their
-- counts are in type_user_days.expired_events). One transaction.
--
-- Locks: the project's share lock (as a batch takes it), its upkeep lock (not while retention
-- folds), then the users' rows in user_id order, then the summary tables in the write
-- path's order and sorted: the same order as ingest, so concurrent batches and erasures
-- cannot deadlock. An event of an erased user written afterwards makes a new user.
-- Returns each erased user with the raw events deleted; unknown users are left out.
CREATE FUNCTION erase_users(p_project_id integer, p_user_ids text[])
RETURNS TABLE (user_id text, deleted_events bigint)
LANGUAGE plpgsql SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  raw_floor timestamptz;
BEGIN
  PERFORM lock_projects_shared(ARRAY[p_project_id]);
  PERFORM lock_project_upkeep(p_project_id);
  SELECT p.raw_floor INTO raw_floor FROM projects p WHERE p.project_id = p_project_id;

  PERFORM 1 FROM users u
  WHERE u.project_id = p_project_id AND u.user_id = ANY (p_user_ids)
  ORDER BY u.user_id
  FOR UPDATE;
  CREATE TEMP TABLE erased ON COMMIT DROP AS
  SELECT u.user_key, u.user_id, u.first_seen_at FROM users u
  WHERE u.project_id = p_project_id AND u.user_id = ANY (p_user_ids);
  -- Temp tables have no statistics: unanalysed, the planner guesses ~1000 rows and joins
  -- every partition of events by a hash join (a scan of the whole table, seconds at 1M
  -- events) instead of probing the (project_id, user_id) index per user.
  ANALYZE erased;

  -- The users' raw events still stored (the index on (project_id, user_id, occurred_at)).
  CREATE TEMP TABLE erased_events ON COMMIT DROP AS
  SELECT x.user_key, e.source, e.event_id, e.occurred_at, e.event_type
  FROM erased x JOIN events e ON e.project_id = p_project_id AND e.user_id = x.user_id;
  ANALYZE erased_events;

  -- Each user-day, and each user-type-day, with the user's previous day before it: the row
  -- of each reach table that counted it (as the write path filed it).
  WITH days AS (
    SELECT d.zone_id, d.day,
           coalesce(lag(d.day) OVER (PARTITION BY d.user_key, d.zone_id ORDER BY d.day), '-infinity') AS previous_day
    FROM user_days d JOIN erased x ON x.user_key = d.user_key
    WHERE d.project_id = p_project_id
  )
  UPDATE active_user_reach r SET users = r.users - c.n
  FROM (
    SELECT zone_id, day, greatest(previous_day, day - 30) AS previous_day, count(*)::int AS n
    FROM days GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ) AS c
  WHERE r.project_id = p_project_id AND r.zone_id = c.zone_id AND r.day = c.day
    AND r.previous_day = c.previous_day;

  WITH days AS (
    SELECT d.zone_id, (x.first_seen_at AT TIME ZONE z.name)::date AS cohort_day, d.day,
           coalesce(lag(d.day) OVER (PARTITION BY d.user_key, d.zone_id ORDER BY d.day), '-infinity') AS previous_day
    FROM user_days d JOIN erased x ON x.user_key = d.user_key
    JOIN report_zones z ON z.zone_id = d.zone_id
    WHERE d.project_id = p_project_id
  )
  UPDATE retention_reach r SET users = r.users - c.n
  FROM (
    SELECT zone_id, cohort_day, day, greatest(previous_day, day - 7) AS previous_day, count(*)::int AS n
    FROM days GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ) AS c
  WHERE r.project_id = p_project_id AND r.zone_id = c.zone_id AND r.cohort_day = c.cohort_day
    AND r.day = c.day AND r.previous_day = c.previous_day;

  WITH days AS (
    SELECT d.zone_id, d.type_key, d.day,
           coalesce(lag(d.day) OVER (PARTITION BY d.user_key, d.zone_id, d.type_key ORDER BY d.day), '-infinity') AS previous_day
    FROM type_user_days d JOIN erased x ON x.user_key = d.user_key
    WHERE d.project_id = p_project_id
  )
  UPDATE type_reach r SET users = r.users - c.n
  FROM (
    SELECT zone_id, type_key, day, previous_day, count(*)::int AS n
    FROM days GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ) AS c
  WHERE r.project_id = p_project_id AND r.zone_id = c.zone_id AND r.type_key = c.type_key
    AND r.day = c.day AND r.previous_day = c.previous_day;

  -- Events per zone, local day and type: those still stored (on or after raw_floor; older
  -- rows are being folded or gone) and those that expired.
  UPDATE type_day_counts c SET events = c.events - f.n
  FROM (
    SELECT zone_id, day, type_key, sum(n)::bigint AS n FROM (
      SELECT z.zone_id, (e.occurred_at AT TIME ZONE z.name)::date AS day, t.type_key, count(*) AS n
      FROM erased_events e
      JOIN event_types t ON t.project_id = p_project_id AND t.event_type = e.event_type
      JOIN project_zones pz ON pz.project_id = p_project_id
      JOIN report_zones z ON z.zone_id = pz.zone_id
      WHERE raw_floor IS NULL OR e.occurred_at >= raw_floor
      GROUP BY 1, 2, 3
      UNION ALL
      SELECT d.zone_id, d.day, d.type_key, sum(d.expired_events)
      FROM type_user_days d JOIN erased x ON x.user_key = d.user_key
      WHERE d.project_id = p_project_id AND d.expired_events > 0
      GROUP BY 1, 2, 3
    ) AS parts
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ) AS f
  WHERE c.project_id = p_project_id AND c.zone_id = f.zone_id AND c.day = f.day
    AND c.type_key = f.type_key;

  -- (Rows left counting 0 are the same as no row, as when the write path moves a user.)

  DELETE FROM user_days d USING erased x WHERE d.project_id = p_project_id AND d.user_key = x.user_key;
  DELETE FROM type_user_days d USING erased x WHERE d.project_id = p_project_id AND d.user_key = x.user_key;
  DELETE FROM event_ids i USING erased_events e
  WHERE i.project_id = p_project_id AND i.source = e.source AND i.event_id = e.event_id;
  DELETE FROM events e USING erased x WHERE e.project_id = p_project_id AND e.user_id = x.user_id;
  DELETE FROM users u USING erased x WHERE u.project_id = p_project_id AND u.user_key = x.user_key;

  RETURN QUERY
  SELECT x.user_id, count(e.event_id)
  FROM erased x LEFT JOIN erased_events e ON e.user_key = x.user_key
  GROUP BY x.user_id ORDER BY x.user_id;
END
$fn$;
