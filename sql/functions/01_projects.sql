-- Per-project locks (transaction-scoped advisory locks in one namespace).
--
-- Every batch takes its projects' locks in SHARE mode, in project_id order, before it
-- writes anything, and checks that each project still exists. Building or removing a
-- project's reporting zone and deleting a project take the project's lock EXCLUSIVE: they
-- wait for that project's batches in flight and hold its new ones until they commit, so no
-- batch is counted twice or missed, while other projects' writes go on.
CREATE FUNCTION project_lock_namespace() RETURNS integer
LANGUAGE sql IMMUTABLE AS $fn$ SELECT 17729 $fn$;  -- 0x4541, "EA"

-- SQLSTATE EA404: the project does not exist (deleted while the request was under way).
CREATE FUNCTION lock_projects_shared(p_project_ids integer[])
RETURNS void LANGUAGE plpgsql SET search_path = analytics, public AS $fn$
DECLARE
  project integer;
BEGIN
  FOR project IN SELECT DISTINCT p FROM unnest(p_project_ids) AS p ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock_shared(project_lock_namespace(), project);
    IF NOT EXISTS (SELECT 1 FROM projects WHERE project_id = project) THEN
      RAISE EXCEPTION 'project % does not exist', project USING ERRCODE = 'EA404';
    END IF;
  END LOOP;
END
$fn$;

CREATE FUNCTION lock_project_exclusive(p_project_id integer)
RETURNS void LANGUAGE plpgsql SET search_path = analytics, public AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(project_lock_namespace(), p_project_id);
  IF NOT EXISTS (SELECT 1 FROM projects WHERE project_id = p_project_id) THEN
    RAISE EXCEPTION 'project % does not exist', p_project_id USING ERRCODE = 'EA404';
  END IF;
END
$fn$;

-- The summary queries name their zone through this: it returns the zone id when it is one
-- of the project's reporting zones and raises SQLSTATE EA409 when it is not (any more), so
-- an instance whose cached project settings are stale falls back to raw events instead of
-- reading summaries that were removed. Evaluated once per index scan.
CREATE FUNCTION reporting_zone(p_project_id integer, p_zone_id smallint)
RETURNS smallint LANGUAGE plpgsql STABLE SET search_path = analytics, public AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM project_zones WHERE project_id = p_project_id AND zone_id = p_zone_id) THEN
    RAISE EXCEPTION 'zone % is not a reporting zone of project %', p_zone_id, p_project_id
      USING ERRCODE = 'EA409';
  END IF;
  RETURN p_zone_id;
END
$fn$;

-- A second per-project lock, for the work that rewrites a project's per-user state outside
-- the write path: folding expired raw events into it (retention) and erasing users. Those
-- two never run at once in a project; ingest does not take this lock.
CREATE FUNCTION lock_project_upkeep(p_project_id integer)
RETURNS void LANGUAGE sql SET search_path = analytics, public AS $fn$
  SELECT pg_advisory_xact_lock(project_lock_namespace() + 1, p_project_id);
$fn$;
