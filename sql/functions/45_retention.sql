-- Retention (docs/lifecycle.md): a project's raw events older than its horizon expire one
-- weekly partition at a time, while every summary stays as it is (exact). Before a week's
-- rows of a project go, their counts per user, type, zone and local day are folded into
-- type_user_days.expired_events, so that erasing a user later still corrects
-- type_day_counts for those days; their dedup rows go with them; and the project's
-- raw_floor moves to the week's end (raw-event questions before it are refused).
--
-- p_delete_rows: delete the project's rows from the partition (another project still keeps
-- that week); false when the whole partition is dropped afterwards (detach concurrently,
-- then drop: src/lifecycle/retention.ts). Idempotent per (partition, project): a pass that
-- stopped half-way never folds a week twice. Returns the raw events that expired.
CREATE FUNCTION expire_partition(p_partition text, p_project_id integer, p_delete_rows boolean)
RETURNS bigint
LANGUAGE plpgsql SET jit = off SET work_mem = '256MB' SET search_path = analytics, public AS $fn$
DECLARE
  week_end timestamptz;
  expired bigint;
BEGIN
  PERFORM lock_projects_shared(ARRAY[p_project_id]);
  PERFORM lock_project_upkeep(p_project_id);
  IF EXISTS (SELECT 1 FROM expired_partitions
             WHERE partition_name = p_partition AND project_id = p_project_id) THEN
    RETURN 0;
  END IF;
  SELECT p.week_end INTO week_end FROM event_partitions() p WHERE p.partition_name = p_partition;
  IF week_end IS NULL THEN
    RAISE EXCEPTION 'no partition %', p_partition USING ERRCODE = 'EA404';
  END IF;

  -- The week's events of the project, read once, folded in every zone of the project.
  EXECUTE format($q$
    CREATE TEMP TABLE expiring ON COMMIT DROP AS
    SELECT source, event_id, occurred_at, user_id, event_type FROM public.%I WHERE project_id = $1
  $q$, p_partition) USING p_project_id;
  SELECT count(*) INTO expired FROM expiring;

  UPDATE type_user_days d SET expired_events = d.expired_events + f.events
  FROM (
    SELECT u.user_key, t.type_key, z.zone_id, (x.occurred_at AT TIME ZONE z.name)::date AS day,
           count(*)::int AS events
    FROM expiring x
    JOIN users u ON u.project_id = p_project_id AND u.user_id = x.user_id
    JOIN event_types t ON t.project_id = p_project_id AND t.event_type = x.event_type
    JOIN project_zones pz ON pz.project_id = p_project_id
    JOIN report_zones z ON z.zone_id = pz.zone_id
    GROUP BY 1, 2, 3, 4
  ) AS f
  WHERE d.project_id = p_project_id AND d.user_key = f.user_key AND d.type_key = f.type_key
    AND d.zone_id = f.zone_id AND d.day = f.day;

  DELETE FROM event_ids e USING expiring x
  WHERE e.project_id = p_project_id AND e.source = x.source AND e.event_id = x.event_id;
  IF p_delete_rows THEN
    EXECUTE format('DELETE FROM public.%I WHERE project_id = $1', p_partition) USING p_project_id;
  END IF;

  UPDATE projects SET raw_floor = greatest(coalesce(raw_floor, '-infinity'), week_end)
  WHERE project_id = p_project_id;
  INSERT INTO expired_partitions (partition_name, project_id, events)
  VALUES (p_partition, p_project_id, expired);
  RETURN expired;
END
$fn$;

-- The first local day of a zone that the project's remaining raw events cover whole: a
-- zone built after raw events expired is complete from there on (NULL: nothing expired).
CREATE FUNCTION first_complete_day(p_raw_floor timestamptz, p_zone text) RETURNS date
LANGUAGE sql STABLE AS $fn$
  SELECT CASE
    WHEN p_raw_floor IS NULL THEN NULL
    WHEN (p_raw_floor AT TIME ZONE p_zone)::time = '00:00' THEN (p_raw_floor AT TIME ZONE p_zone)::date
    ELSE (p_raw_floor AT TIME ZONE p_zone)::date + 1
  END
$fn$;

-- Event types of a project that no stored or expired event has any more (their users were
-- erased): removed from the dictionary. Takes the project's lock exclusively, briefly: the
-- write path reads type keys without locking them. Returns how many went.
CREATE FUNCTION prune_event_types(p_project_id integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = analytics, public AS $fn$
DECLARE
  pruned integer;
BEGIN
  PERFORM lock_project_exclusive(p_project_id);
  DELETE FROM event_types t
  WHERE t.project_id = p_project_id
    AND NOT EXISTS (SELECT 1 FROM type_day_counts c
                    WHERE c.project_id = p_project_id AND c.zone_id = 0
                      AND c.type_key = t.type_key AND c.events > 0);
  GET DIAGNOSTICS pruned = ROW_COUNT;
  RETURN pruned;
END
$fn$;
