-- Summary engine v2. How a batch flows, the lock order, what every table means (with a
-- worked example of the "previous active day" trick) and the checklist for adding a
-- summary: docs/write-path.md. Read it before changing anything below.
--
-- What changes from 0002/0003:
--   * users and event types get integer surrogate keys (dictionary tables), so per-user
--     rows are a few integers wide instead of carrying the text user_id;
--   * every summary is kept per reporting time zone (report_zones; UTC is zone 0 and always
--     present, others are added with add_report_zone()), in that zone's local days;
--   * distinct users over any day range (DAU, WAU, MAU, per-type reach, weekly retention)
--     come from "reach" tables that file each (user, day) under the user's previous active
--     day, clamped to the longest range a query needs;
--   * ingest_events() keeps its contract and is split into named steps.

-- The old summaries are rebuilt from the events below, in the new shape.
DROP FUNCTION ingest_events(uuid[], timestamptz[], text[], text[], jsonb[]);
DROP TABLE user_first_seen, daily_user_activity, daily_active_users, retention_counts,
  daily_event_counts, type_user_days, event_type_reach;

-- Reporting time zones. Summaries exist for these; /stats in another zone reads raw events.
CREATE TABLE report_zones (
  zone_id smallint PRIMARY KEY,
  name    text     NOT NULL UNIQUE
);
INSERT INTO report_zones (zone_id, name) VALUES (0, 'UTC');

-- Dictionary of users, and each user's earliest event (decides the retention cohort).
CREATE TABLE users (
  user_key      integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       text        NOT NULL UNIQUE,
  first_seen_at timestamptz NOT NULL
);
-- Cohort look-up for retention in a zone without summaries.
CREATE INDEX users_first_seen_at_idx ON users (first_seen_at);

-- Dictionary of event types.
CREATE TABLE event_types (
  type_key   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type text    NOT NULL UNIQUE
);

-- (user, zone, local day) with at least one event. Per-user state: read and written only
-- under the user's row lock in users.
CREATE TABLE user_days (
  user_key integer  NOT NULL,
  zone_id  smallint NOT NULL,
  day      date     NOT NULL,
  PRIMARY KEY (user_key, zone_id, day)
);

-- Distinct active users over any range of at most 30 days ending on any day:
-- each user_days row is counted under (day, previous active day of the user), the previous
-- day clamped to day - 30 (never active before counts as day - 30 too). Then
--   users active in [a, b] (b - a < 30) = sum(users) WHERE day BETWEEN a AND b AND previous_day < a
-- and DAU(d) = sum(users) WHERE day = d.
CREATE TABLE active_user_reach (
  zone_id      smallint NOT NULL,
  day          date     NOT NULL,
  previous_day date     NOT NULL,
  users        integer  NOT NULL,
  PRIMARY KEY (zone_id, day, previous_day)
);

-- Retention: the same reach, split by cohort (the local day of the user's first event),
-- previous day clamped to day - 7 so that weekly periods can be counted too:
--   cohort c active on day d            = sum(users) WHERE cohort_day = c AND day = d
--   cohort c active in [p, p + 6]        = sum(users) WHERE cohort_day = c AND day BETWEEN p AND p + 6 AND previous_day < p
CREATE TABLE retention_reach (
  zone_id      smallint NOT NULL,
  cohort_day   date     NOT NULL,
  day          date     NOT NULL,
  previous_day date     NOT NULL,
  users        integer  NOT NULL,
  PRIMARY KEY (zone_id, cohort_day, day, previous_day)
);

-- (user, type, zone, local day) with at least one event. Per-user state, like user_days.
CREATE TABLE type_user_days (
  user_key integer  NOT NULL,
  type_key integer  NOT NULL,
  zone_id  smallint NOT NULL,
  day      date     NOT NULL,
  PRIMARY KEY (user_key, type_key, zone_id, day)
);

-- Distinct users of a type over any day range (unclamped: /stats/top-events takes ranges
-- of years):  sum(users) WHERE type_key = t AND day BETWEEN a AND b AND previous_day < a.
CREATE TABLE type_reach (
  zone_id      smallint NOT NULL,
  type_key     integer  NOT NULL,
  day          date     NOT NULL,
  previous_day date     NOT NULL,
  users        integer  NOT NULL,
  PRIMARY KEY (zone_id, type_key, day, previous_day)
);

-- Events per zone, local day and type.
CREATE TABLE type_day_counts (
  zone_id  smallint NOT NULL,
  day      date     NOT NULL,
  type_key integer  NOT NULL,
  events   bigint   NOT NULL,
  PRIMARY KEY (zone_id, day, type_key)
);

-- Values passed between the steps of ingest_events().
CREATE TYPE ingest_stored_event AS (occurred_at timestamptz, user_id text, event_type text);
-- An event of the batch with integer keys, and its user's first event before the batch
-- (the committed first_seen_at read under the user's lock).
CREATE TYPE ingest_keyed_event AS (
  user_key integer, type_key integer, occurred_at timestamptz, previous_first timestamptz
);
-- A (zone, user[, type], day) that was not stored yet, with the nearest stored days of the
-- same user[ and type] before and after it (NULL if none), and in step 3 the user's cohort
-- (local day of the first event) after and before the batch. type_key is NULL in step 3,
-- the cohorts NULL in step 4.
CREATE TYPE ingest_new_day AS (
  zone_id smallint, user_key integer, type_key integer, day date, previous_old date, next_old date,
  cohort_day date, old_cohort_day date
);

-- Step 2: dictionaries and user locks. Creates missing event types and users (sorted, so
-- concurrent batches wait for each other in one order), then locks every user of the batch
-- in user_id order. Returns the batch with integer keys and each user's first event before
-- the batch, then moves first_seen_at earlier for late events.
--
-- Plans: every statement here and in steps 3-4 joins the batch (an unnested array) only
-- with tables, through their indexes, never with another unnested array: the planner
-- estimates an unnested array at 10 rows, and a join of two of them can become a nested
-- loop over both (thousands x thousands). enable_seqscan = off keeps the probes on the
-- indexes whatever the tables' statistics (a freshly loaded table still "looks" empty).
-- jit = off: a statement's estimated cost easily passes jit_above_cost here (and disabled
-- scans add 1e10 to it), and compiling costs far more than these per-batch statements
-- run (measured: 0.5-1 s per statement).
CREATE FUNCTION ingest_lock_users(stored ingest_stored_event[])
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

-- Step 3: user activity per zone: user_days, active_user_reach and retention_reach.
-- Ordering rules: every read of user_days (the probes and the re-homed users' history)
-- happens before this step inserts into user_days, so each new day is compared with the
-- stored days only, and new days with each other only through the window over the batch.
CREATE FUNCTION ingest_user_activity(keyed ingest_keyed_event[])
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

-- Step 4: per-type activity per zone: type_user_days and type_reach (the same reach
-- bookkeeping as 3b, per type, unclamped). Reads before writes, as in step 3.
CREATE FUNCTION ingest_type_activity(keyed ingest_keyed_event[])
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

-- Step 5: events per zone, local day and type.
CREATE FUNCTION ingest_type_counts(keyed ingest_keyed_event[])
RETURNS void LANGUAGE sql SET jit = off AS $fn$
  INSERT INTO type_day_counts AS c (zone_id, day, type_key, events)
  SELECT z.zone_id, (k.occurred_at AT TIME ZONE z.name)::date, k.type_key, count(*)
  FROM unnest(keyed) AS k CROSS JOIN report_zones z
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (zone_id, day, type_key) DO UPDATE SET events = c.events + EXCLUDED.events;
$fn$;

-- The write path: stores a batch of events and updates every summary in every reporting
-- zone, atomically, in one round trip. Used by POST /events and the CSV importer alike.
-- Returns the ids of the batch that were already stored (by an earlier or a concurrent
-- batch). Callers pass each event_id once.
--
-- Lock order (every batch takes locks in this one order, so concurrent batches cannot
-- deadlock; docs/write-path.md): events by event_id, event_types by name, users by
-- user_id, then each shared summary table in one sorted pass: active_user_reach,
-- retention_reach, type_reach, type_day_counts. Per-user rows (user_days,
-- type_user_days) are touched only under the user's lock.
CREATE FUNCTION ingest_events(
  p_event_ids   uuid[],
  p_occurred_at timestamptz[],
  p_user_ids    text[],
  p_event_types text[],
  p_properties  jsonb[]
) RETURNS uuid[]
LANGUAGE plpgsql SET jit = off AS $fn$
DECLARE
  new_ids  uuid[];
  stored   ingest_stored_event[];
  existing uuid[];
  keyed    ingest_keyed_event[];
BEGIN
  -- Step 1: store the new events (sorted by id; the first occurrence of an id wins).
  WITH batch AS (
    SELECT DISTINCT ON (t.event_id) t.event_id, t.occurred_at, t.user_id, t.event_type, t.properties
    FROM unnest(p_event_ids, p_occurred_at, p_user_ids, p_event_types, p_properties)
         WITH ORDINALITY AS t(event_id, occurred_at, user_id, event_type, properties, ord)
    ORDER BY t.event_id, t.ord
  ), inserted AS (
    INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
    SELECT event_id, occurred_at, user_id, event_type, coalesce(properties, '{}') FROM batch
    ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, occurred_at, user_id, event_type
  )
  SELECT array_agg(event_id), array_agg(ROW(occurred_at, user_id, event_type)::ingest_stored_event)
  INTO new_ids, stored
  FROM inserted;

  SELECT coalesce(array_agg(id), '{}') INTO existing
  FROM (SELECT unnest(p_event_ids) EXCEPT SELECT unnest(new_ids)) AS t(id);

  IF stored IS NULL THEN
    RETURN existing;
  END IF;

  keyed := ingest_lock_users(stored);     -- step 2
  PERFORM ingest_user_activity(keyed);    -- step 3
  PERFORM ingest_type_activity(keyed);    -- step 4
  PERFORM ingest_type_counts(keyed);      -- step 5
  RETURN existing;
END
$fn$;

-- Builds one zone's summaries from the stored events (the zone's rows must be absent).
-- The same definitions as the write path, computed over all events at once. Rows go in
-- primary-key order (appends to each index) and sorts get memory enough to stay off disk.
CREATE FUNCTION backfill_report_zone(p_zone_id smallint)
RETURNS void LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off AS $fn$
DECLARE
  zone text := (SELECT name FROM report_zones WHERE zone_id = p_zone_id);
BEGIN
  -- One pass over the events (joined to the dictionaries) feeds both per-event tables;
  -- user_days then comes from the narrower type_user_days.
  WITH keyed AS MATERIALIZED (
    SELECT u.user_key, t.type_key, (e.occurred_at AT TIME ZONE zone)::date AS day
    FROM events e JOIN users u USING (user_id) JOIN event_types t USING (event_type)
  ), per_user AS (
    INSERT INTO type_user_days (user_key, type_key, zone_id, day)
    SELECT DISTINCT user_key, type_key, p_zone_id, day FROM keyed ORDER BY 1, 2, 4
  )
  INSERT INTO type_day_counts (zone_id, day, type_key, events)
  SELECT p_zone_id, day, type_key, count(*) FROM keyed GROUP BY day, type_key;

  INSERT INTO user_days (user_key, zone_id, day)
  SELECT DISTINCT user_key, zone_id, day FROM type_user_days WHERE zone_id = p_zone_id
  ORDER BY 1, 3;

  INSERT INTO active_user_reach (zone_id, day, previous_day, users)
  SELECT p_zone_id, day, greatest(previous_day, day - 30) AS clamped, count(*)
  FROM (
    SELECT day, coalesce(lag(day) OVER (PARTITION BY user_key ORDER BY day), '-infinity') AS previous_day
    FROM user_days WHERE zone_id = p_zone_id
  ) AS t
  GROUP BY day, clamped;

  INSERT INTO retention_reach (zone_id, cohort_day, day, previous_day, users)
  SELECT p_zone_id, (u.first_seen_at AT TIME ZONE zone)::date AS cohort_day, t.day,
         greatest(t.previous_day, t.day - 7) AS clamped, count(*)
  FROM (
    SELECT user_key, day, coalesce(lag(day) OVER (PARTITION BY user_key ORDER BY day), '-infinity') AS previous_day
    FROM user_days WHERE zone_id = p_zone_id
  ) AS t JOIN users u USING (user_key)
  GROUP BY cohort_day, t.day, clamped;

  INSERT INTO type_reach (zone_id, type_key, day, previous_day, users)
  SELECT p_zone_id, type_key, day, previous_day, count(*)
  FROM (
    SELECT type_key, day,
           coalesce(lag(day) OVER (PARTITION BY type_key, user_key ORDER BY day), '-infinity') AS previous_day
    FROM type_user_days WHERE zone_id = p_zone_id
  ) AS t
  GROUP BY type_key, day, previous_day;
END
$fn$;

-- Adds a reporting zone and builds its summaries from the stored events. Idempotent.
-- SHARE ROW EXCLUSIVE on events waits for batches in flight and holds new ones until this
-- commits, so no batch is counted twice or missed; it also serialises two callers.
-- An unknown zone raises SQLSTATE 22023 from AT TIME ZONE before anything is written.
CREATE FUNCTION add_report_zone(p_name text)
RETURNS smallint LANGUAGE plpgsql AS $fn$
DECLARE
  id smallint;
BEGIN
  PERFORM now() AT TIME ZONE p_name;
  LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
  -- Zone names are case-insensitive in PostgreSQL: one zone, one set of summaries.
  SELECT zone_id INTO id FROM report_zones WHERE lower(name) = lower(p_name);
  IF id IS NOT NULL THEN
    RETURN id;
  END IF;
  SELECT coalesce(max(zone_id) + 1, 0) INTO id FROM report_zones;
  INSERT INTO report_zones (zone_id, name) VALUES (id, p_name);
  PERFORM backfill_report_zone(id);
  ANALYZE report_zones, user_days, active_user_reach, retention_reach, type_user_days,
    type_reach, type_day_counts;
  RETURN id;
END
$fn$;

-- Rebuilds every summary of every reporting zone from the stored events: the upgrade
-- below, and a bulk load that wrote events directly (bench/stats.ts; a restore). Holds
-- writes like add_report_zone() does. Ends with fresh planner statistics.
CREATE FUNCTION rebuild_summaries()
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

-- Upgrade: build the new summaries from the stored events.
SELECT rebuild_summaries();
