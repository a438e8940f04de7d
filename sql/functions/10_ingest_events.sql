-- The write path: stores a batch of events and updates every summary in every reporting
-- zone of each event's project, atomically, in one round trip. Used by every ingest route
-- and the CSV importer alike. docs/write-path.md is the page to read before changing it.
--
-- An event's identity (the dedup key) is (project_id, source, event_id): source is the
-- ingest family (1 = POST /events and the importer, 2 = Segment/RudderStack, 3 = PostHog,
-- 4 = Amplitude; src/ingest/sources.ts). Returns the positions (1-based) of the events that
-- were already stored, by an earlier or a concurrent batch. Callers pass each identity once.
--
-- Lock order (every batch takes locks in this one order, so concurrent batches cannot
-- deadlock): its projects' advisory locks in SHARE mode by project_id, event_ids by identity,
-- event_types by (project, name), users by (project, user_id), then each shared summary
-- table in one sorted pass: active_user_reach, retention_reach, type_reach,
-- type_day_counts. Per-user rows (user_days, type_user_days) are touched only under the
-- user's lock.
--
-- Every week the batch's events fall in must have its partition (create_event_partitions,
-- called by the caller beforehand when a week is missing: src/ingest/partitions.ts).

-- Step 1b: the new events' rows, into their week's partition. Joins two unnested arrays,
-- so by hash only (the planner guesses 10 rows for each and could pick a nested loop).
CREATE FUNCTION ingest_store_events(
  p_project_ids integer[], p_sources smallint[], p_event_ids uuid[], p_occurred_at timestamptz[],
  p_user_ids text[], p_event_types text[], p_properties jsonb[], new_ids ingest_event_identity[]
) RETURNS ingest_stored_event[]
LANGUAGE sql SET enable_nestloop = off SET enable_mergejoin = off SET jit = off
SET search_path = analytics, public AS $fn$
  WITH inserted AS (
    INSERT INTO events (project_id, source, event_id, occurred_at, user_id, event_type, properties)
    SELECT t.project_id, t.source, t.event_id, t.occurred_at, t.user_id, t.event_type,
           coalesce(t.properties, '{}')
    FROM unnest(p_project_ids, p_sources, p_event_ids, p_occurred_at, p_user_ids, p_event_types, p_properties)
         AS t(project_id, source, event_id, occurred_at, user_id, event_type, properties)
    JOIN unnest(new_ids) AS n
      ON n.project_id = t.project_id AND n.source = t.source AND n.event_id = t.event_id
    RETURNING project_id, occurred_at, user_id, event_type
  )
  SELECT array_agg(ROW(project_id, occurred_at, user_id, event_type)::ingest_stored_event)
  FROM inserted;
$fn$;

CREATE FUNCTION ingest_events(
  p_project_ids integer[],
  p_sources     smallint[],
  p_event_ids   uuid[],
  p_occurred_at timestamptz[],
  p_user_ids    text[],
  p_event_types text[],
  p_properties  jsonb[]
) RETURNS integer[]
LANGUAGE plpgsql SET jit = off SET search_path = analytics, public AS $fn$
DECLARE
  stored   ingest_stored_event[];
  new_ids  ingest_event_identity[];
  existing integer[] := '{}';
  keyed    ingest_keyed_event[];
  zones    ingest_zone[];
BEGIN
  PERFORM lock_projects_shared(p_project_ids);

  -- Step 1a: claim the identities in event_ids, sorted (the first occurrence in the batch
  -- wins). In a project that holds events stored before sources were recorded, an event
  -- is also a duplicate of a legacy event (source 0) with its id.
  WITH batch AS (
    SELECT DISTINCT ON (t.project_id, t.source, t.event_id) t.*
    FROM unnest(p_project_ids, p_sources, p_event_ids, p_occurred_at)
         WITH ORDINALITY AS t(project_id, source, event_id, occurred_at, ord)
    ORDER BY t.project_id, t.source, t.event_id, t.ord
  ), claimed AS (
    INSERT INTO event_ids (project_id, source, event_id, occurred_at)
    SELECT b.project_id, b.source, b.event_id, b.occurred_at
    FROM batch b JOIN projects p ON p.project_id = b.project_id
    WHERE NOT (p.legacy_event_ids AND EXISTS (
      SELECT 1 FROM event_ids l
      WHERE l.project_id = b.project_id AND l.source = 0 AND l.event_id = b.event_id))
    ORDER BY b.project_id, b.source, b.event_id
    ON CONFLICT (project_id, source, event_id) DO NOTHING
    RETURNING project_id, source, event_id
  )
  SELECT array_agg(ROW(c.project_id, c.source, c.event_id)::ingest_event_identity)
  INTO new_ids
  FROM claimed c;

  IF coalesce(cardinality(new_ids), 0) < cardinality(p_event_ids) THEN
    -- NOT IN over a subquery runs as a hashed subplan: linear in the batch.
    SELECT coalesce(array_agg(t.ord ORDER BY t.ord), '{}') INTO existing
    FROM unnest(p_project_ids, p_sources, p_event_ids) WITH ORDINALITY AS t(project_id, source, event_id, ord)
    WHERE (t.project_id, t.source, t.event_id) NOT IN (
      SELECT n.project_id, n.source, n.event_id FROM unnest(new_ids) AS n);
  END IF;

  IF new_ids IS NULL THEN
    RETURN existing;
  END IF;

  -- Step 1b: the new events themselves.
  stored := ingest_store_events(p_project_ids, p_sources, p_event_ids, p_occurred_at, p_user_ids,
                                p_event_types, p_properties, new_ids);

  -- The reporting zones of the batch's projects (stable under their locks).
  SELECT array_agg(ROW(pz.project_id, z.zone_id, z.name)::ingest_zone) INTO zones
  FROM project_zones pz JOIN report_zones z ON z.zone_id = pz.zone_id
  WHERE pz.project_id IN (SELECT DISTINCT s.project_id FROM unnest(stored) AS s);

  keyed := ingest_lock_users(stored);            -- step 2
  PERFORM ingest_user_activity(keyed, zones);    -- step 3
  PERFORM ingest_type_activity(keyed, zones);    -- step 4
  PERFORM ingest_type_counts(keyed, zones);      -- step 5
  RETURN existing;
END
$fn$;
