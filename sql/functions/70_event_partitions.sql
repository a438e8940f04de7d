-- Weekly partitions of events (migration 0008): events_wYYYYMMDD holds the UTC week that
-- starts on that Monday.

CREATE FUNCTION event_partition_name(p_week_start timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT 'events_w' || to_char(p_week_start AT TIME ZONE 'UTC', 'YYYYMMDD')
$fn$;

-- The Monday 00:00 UTC of an instant's week.
CREATE FUNCTION event_week_start(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT date_trunc('week', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$fn$;

-- Partitions of events with their week, oldest first.
CREATE FUNCTION event_partitions()
RETURNS TABLE (partition_name text, week_start timestamptz, week_end timestamptz)
LANGUAGE sql STABLE SET search_path = analytics, public AS $fn$
  SELECT c.relname::text,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'public.events'::regclass
  ORDER BY 2;
$fn$;

-- Creates the missing weekly partitions covering [p_from, p_to]; returns the names created.
-- Each is made as a table of its own and then attached, which locks the parent in SHARE
-- UPDATE EXCLUSIVE mode only: batches and queries in flight go on (CREATE TABLE ...
-- PARTITION OF would lock it exclusively). Serialised by an advisory lock, so two callers
-- wanting the same week create it once. lock_timeout bounds the wait behind maintenance
-- (a concurrent detach): the caller retries.
CREATE FUNCTION create_event_partitions(p_from timestamptz, p_to timestamptz)
RETURNS text[]
LANGUAGE plpgsql SET lock_timeout = '5s' SET search_path = analytics, public AS $fn$
DECLARE
  week timestamptz;
  name text;
  created text[] := '{}';
BEGIN
  PERFORM pg_advisory_xact_lock(project_lock_namespace(), 0);
  FOR week IN
    SELECT generate_series(event_week_start(p_from), event_week_start(p_to), interval '7 days')
  LOOP
    name := event_partition_name(week);
    CONTINUE WHEN EXISTS (SELECT 1 FROM event_partitions() p WHERE p.week_start = week);
    EXECUTE format('CREATE TABLE public.%I (LIKE public.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
    EXECUTE format('ALTER TABLE public.events ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
      name, week, week + interval '7 days');
    created := created || name;
  END LOOP;
  RETURN created;
END
$fn$;

-- Whether a partition holds any event of a project (an index probe; usage reports).
CREATE FUNCTION partition_holds_project(p_partition text, p_project_id integer) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = analytics, public AS $fn$
DECLARE
  holds boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I WHERE project_id = $1)', p_partition)
  INTO holds USING p_project_id;
  RETURN holds;
END
$fn$;
