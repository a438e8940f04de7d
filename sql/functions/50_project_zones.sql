-- Builds one reporting zone's summaries of one project from its stored events (the rows of
-- that project and zone must be absent). The same definitions as the write path, computed
-- over all the project's events at once. Rows go in primary-key order (appends to each
-- index) and sorts get memory enough to stay off disk.
CREATE FUNCTION backfill_project_zone(p_project_id integer, p_zone_id smallint)
RETURNS void
LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  zone text := (SELECT name FROM report_zones WHERE zone_id = p_zone_id);
BEGIN
  -- One pass over the events (joined to the dictionaries) feeds both per-event tables;
  -- user_days then comes from the narrower type_user_days.
  WITH keyed AS MATERIALIZED (
    SELECT u.user_key, t.type_key, (e.occurred_at AT TIME ZONE zone)::date AS day
    FROM events e
    JOIN users u ON u.project_id = e.project_id AND u.user_id = e.user_id
    JOIN event_types t ON t.project_id = e.project_id AND t.event_type = e.event_type
    WHERE e.project_id = p_project_id
  ), per_user AS (
    INSERT INTO type_user_days (project_id, user_key, type_key, zone_id, day)
    SELECT DISTINCT p_project_id, user_key, type_key, p_zone_id, day FROM keyed ORDER BY 2, 3, 5
  )
  INSERT INTO type_day_counts (project_id, zone_id, day, type_key, events)
  SELECT p_project_id, p_zone_id, day, type_key, count(*) FROM keyed GROUP BY day, type_key;

  INSERT INTO user_days (project_id, user_key, zone_id, day)
  SELECT DISTINCT project_id, user_key, zone_id, day FROM type_user_days
  WHERE project_id = p_project_id AND zone_id = p_zone_id
  ORDER BY 2, 4;

  INSERT INTO active_user_reach (project_id, zone_id, day, previous_day, users)
  SELECT p_project_id, p_zone_id, day, greatest(previous_day, day - 30) AS clamped, count(*)
  FROM (
    SELECT day, coalesce(lag(day) OVER (PARTITION BY user_key ORDER BY day), '-infinity') AS previous_day
    FROM user_days WHERE project_id = p_project_id AND zone_id = p_zone_id
  ) AS t
  GROUP BY day, clamped;

  INSERT INTO retention_reach (project_id, zone_id, cohort_day, day, previous_day, users)
  SELECT p_project_id, p_zone_id, (u.first_seen_at AT TIME ZONE zone)::date AS cohort_day, t.day,
         greatest(t.previous_day, t.day - 7) AS clamped, count(*)
  FROM (
    SELECT user_key, day,
           coalesce(lag(day) OVER (PARTITION BY user_key ORDER BY day), '-infinity') AS previous_day
    FROM user_days WHERE project_id = p_project_id AND zone_id = p_zone_id
  ) AS t
  JOIN users u ON u.project_id = p_project_id AND u.user_key = t.user_key
  GROUP BY cohort_day, t.day, clamped;

  INSERT INTO type_reach (project_id, zone_id, type_key, day, previous_day, users)
  SELECT p_project_id, p_zone_id, type_key, day, previous_day, count(*)
  FROM (
    SELECT type_key, day,
           coalesce(lag(day) OVER (PARTITION BY type_key, user_key ORDER BY day), '-infinity') AS previous_day
    FROM type_user_days WHERE project_id = p_project_id AND zone_id = p_zone_id
  ) AS t
  GROUP BY type_key, day, previous_day;
END
$fn$;

-- Deletes one reporting zone's summaries of one project.
CREATE FUNCTION delete_project_zone_summaries(p_project_id integer, p_zone_id smallint)
RETURNS void
LANGUAGE sql SET search_path = analytics, public AS $fn$
  DELETE FROM user_days WHERE project_id = p_project_id AND zone_id = p_zone_id;
  DELETE FROM type_user_days WHERE project_id = p_project_id AND zone_id = p_zone_id;
  DELETE FROM active_user_reach WHERE project_id = p_project_id AND zone_id = p_zone_id;
  DELETE FROM retention_reach WHERE project_id = p_project_id AND zone_id = p_zone_id;
  DELETE FROM type_reach WHERE project_id = p_project_id AND zone_id = p_zone_id;
  DELETE FROM type_day_counts WHERE project_id = p_project_id AND zone_id = p_zone_id;
$fn$;

-- Sets a project's reporting zones to p_zones, in order (the first is its main zone; UTC is
-- appended when not listed: it always has summaries). A zone added is built from the
-- project's stored events; a zone removed loses its summaries. Holds the project's lock
-- exclusively (its batches wait; other projects write on). An unknown zone raises SQLSTATE
-- 22023 from AT TIME ZONE before anything is written. Zone names match case-insensitively.
-- Returns the names of the zones that were built.
CREATE FUNCTION set_project_zones(p_project_id integer, p_zones text[])
RETURNS text[]
LANGUAGE plpgsql SET search_path = analytics, public AS $fn$
DECLARE
  wanted text[] := p_zones;
  zone text;
  id smallint;
  ids smallint[] := '{}';
  built text[] := '{}';
  old smallint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM unnest(wanted) AS w WHERE lower(w) = 'utc') THEN
    wanted := wanted || 'UTC'::text;
  END IF;
  FOREACH zone IN ARRAY wanted LOOP
    PERFORM now() AT TIME ZONE zone;
  END LOOP;
  PERFORM lock_project_exclusive(p_project_id);

  -- Each zone's id in the shared dictionary; a new name is added under a table lock, so
  -- two projects adding zones at once cannot take the same id.
  FOREACH zone IN ARRAY wanted LOOP
    SELECT zone_id INTO id FROM report_zones WHERE lower(name) = lower(zone);
    IF id IS NULL THEN
      LOCK TABLE report_zones IN SHARE ROW EXCLUSIVE MODE;
      SELECT zone_id INTO id FROM report_zones WHERE lower(name) = lower(zone);
      IF id IS NULL THEN
        INSERT INTO report_zones (zone_id, name)
        SELECT coalesce(max(zone_id) + 1, 0), zone FROM report_zones
        RETURNING zone_id INTO id;
      END IF;
    END IF;
    IF NOT id = ANY (ids) THEN
      ids := ids || id;
    END IF;
  END LOOP;

  FOR old IN SELECT zone_id FROM project_zones
             WHERE project_id = p_project_id AND NOT zone_id = ANY (ids) LOOP
    PERFORM delete_project_zone_summaries(p_project_id, old);
  END LOOP;
  DELETE FROM project_zones WHERE project_id = p_project_id AND NOT zone_id = ANY (ids);
  -- New positions (unique per project): move the kept rows out of the way first.
  UPDATE project_zones SET position = position + 10000 WHERE project_id = p_project_id;
  FOR i IN 1 .. cardinality(ids) LOOP
    IF EXISTS (SELECT 1 FROM project_zones WHERE project_id = p_project_id AND zone_id = ids[i]) THEN
      UPDATE project_zones SET position = i - 1
      WHERE project_id = p_project_id AND zone_id = ids[i];
    ELSE
      -- Built from the events that are left: complete from the first whole local day.
      INSERT INTO project_zones (project_id, zone_id, position, complete_from)
      SELECT p_project_id, ids[i], i - 1, first_complete_day(p.raw_floor, z.name)
      FROM projects p, report_zones z WHERE p.project_id = p_project_id AND z.zone_id = ids[i];
      PERFORM backfill_project_zone(p_project_id, ids[i]);
      built := built || (SELECT name FROM report_zones WHERE zone_id = ids[i]);
    END IF;
  END LOOP;
  IF cardinality(built) > 0 THEN
    ANALYZE project_zones, user_days, active_user_reach, retention_reach, type_user_days,
      type_reach, type_day_counts;
  END IF;
  RETURN built;
END
$fn$;
