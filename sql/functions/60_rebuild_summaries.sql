-- Rebuilds every summary of one project (or of every project when p_project_id is NULL),
-- in each of its reporting zones, from its stored events: after a bulk load that wrote
-- events directly (bench/stats.ts), a restore, or to check the write path. Holds each
-- project's lock exclusively while it works. Ends with fresh planner statistics.
CREATE FUNCTION rebuild_summaries(p_project_id integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = analytics, public AS $fn$
DECLARE
  project integer;
  zone smallint;
BEGIN
  FOR project IN SELECT project_id FROM projects
                 WHERE p_project_id IS NULL OR project_id = p_project_id ORDER BY 1 LOOP
    PERFORM lock_project_exclusive(project);
    DELETE FROM user_days WHERE project_id = project;
    DELETE FROM type_user_days WHERE project_id = project;
    DELETE FROM active_user_reach WHERE project_id = project;
    DELETE FROM retention_reach WHERE project_id = project;
    DELETE FROM type_reach WHERE project_id = project;
    DELETE FROM type_day_counts WHERE project_id = project;
    DELETE FROM users WHERE project_id = project;
    DELETE FROM event_types WHERE project_id = project;

    INSERT INTO users (project_id, user_id, first_seen_at, last_seen_at)
    SELECT project, user_id, min(occurred_at), max(occurred_at) FROM events
    WHERE project_id = project GROUP BY user_id ORDER BY user_id;

    INSERT INTO event_types (project_id, event_type)
    SELECT DISTINCT project, event_type FROM events WHERE project_id = project ORDER BY 2;

    FOR zone IN SELECT zone_id FROM project_zones WHERE project_id = project ORDER BY zone_id LOOP
      PERFORM backfill_project_zone(project, zone);
    END LOOP;
    -- Built from the events that are left: complete from the first whole local day.
    UPDATE project_zones pz SET complete_from = first_complete_day(p.raw_floor, z.name)
    FROM projects p, report_zones z
    WHERE pz.project_id = project AND p.project_id = project AND z.zone_id = pz.zone_id;
  END LOOP;

  ANALYZE users, event_types, user_days, active_user_reach, retention_reach, type_user_days,
    type_reach, type_day_counts;
END
$fn$;
