-- Back to the 0003 state: the UTC-only summaries of 0002 with text user_id and event_type,
-- rebuilt from the stored events, and the 0003 ingest_events(). Reporting zones other than
-- UTC are dropped with their summaries.
DROP FUNCTION ingest_events(uuid[], timestamptz[], text[], text[], jsonb[]);
DROP FUNCTION rebuild_summaries();
DROP FUNCTION add_report_zone(text);
DROP FUNCTION backfill_report_zone(smallint);
DROP FUNCTION ingest_type_counts(ingest_keyed_event[]);
DROP FUNCTION ingest_type_activity(ingest_keyed_event[]);
DROP FUNCTION ingest_user_activity(ingest_keyed_event[]);
DROP FUNCTION ingest_lock_users(ingest_stored_event[]);
DROP TYPE ingest_new_day, ingest_keyed_event, ingest_stored_event;
DROP TABLE type_day_counts, type_reach, type_user_days, retention_reach, active_user_reach,
  user_days, event_types, users, report_zones;

-- The tables of 0002, as 0002 created them.
-- Summary tables that answer /stats/* for UTC days without scanning events.
-- They are kept exact by ingest_events() below, in the same transaction as the insert,
-- and only from rows that were actually inserted (duplicates never count twice).

-- Each user's earliest event: decides the retention cohort (their first day).
CREATE TABLE user_first_seen (
  user_id       text        PRIMARY KEY,
  first_seen_at timestamptz NOT NULL
);
-- Cohort look-up for retention in a non-UTC time zone.
CREATE INDEX user_first_seen_first_seen_at_idx ON user_first_seen (first_seen_at);

-- (user, UTC day) pairs with at least one event.
CREATE TABLE daily_user_activity (
  user_id text NOT NULL,
  day     date NOT NULL,
  PRIMARY KEY (user_id, day)
);

-- DAU: distinct users per UTC day.
CREATE TABLE daily_active_users (
  day   date    PRIMARY KEY,
  users integer NOT NULL
);

-- Retention matrix: users whose first UTC day is cohort_day and who were active on activity_day.
CREATE TABLE retention_counts (
  cohort_day   date    NOT NULL,
  activity_day date    NOT NULL,
  users        integer NOT NULL,
  PRIMARY KEY (cohort_day, activity_day)
);

-- Events per UTC day and type.
CREATE TABLE daily_event_counts (
  day        date   NOT NULL,
  event_type text   NOT NULL,
  events     bigint NOT NULL,
  PRIMARY KEY (day, event_type)
);

-- (event type, user, UTC day) triples with at least one event.
CREATE TABLE type_user_days (
  event_type text NOT NULL,
  user_id    text NOT NULL,
  day        date NOT NULL,
  PRIMARY KEY (event_type, user_id, day)
);

-- Distinct users of a type over any day range, exactly, without a DISTINCT over users:
-- each (type, user, day) triple is filed under the user's previous active day for that
-- type ('-infinity' if none). A user is counted in [from, to] by exactly one triple: their
-- first active day in the range, the one whose previous day is before `from`. So
--   unique_users(type, from, to) = sum(users) WHERE day BETWEEN from AND to AND previous_day < from.
CREATE TABLE event_type_reach (
  day          date    NOT NULL,
  event_type   text    NOT NULL,
  previous_day date    NOT NULL,
  users        integer NOT NULL,
  PRIMARY KEY (day, event_type, previous_day)
);

-- The write path of 0003, as 0003 created it.
CREATE FUNCTION ingest_events(
  p_event_ids   uuid[],
  p_occurred_at timestamptz[],
  p_user_ids    text[],
  p_event_types text[],
  p_properties  jsonb[]
) RETURNS uuid[]
LANGUAGE plpgsql AS $fn$
DECLARE
  existing   uuid[];
  new_ids    uuid[];
  new_at     timestamptz[];
  new_users  text[];
  new_types  text[];
  moved_ids  text[];
  moved_old  timestamptz[];
  moved_new  timestamptz[];
  pair_users text[];
  pair_days  date[];
  pair_cohorts date[];
  tud_types  text[];
  tud_users  text[];
  tud_days   date[];
  tud_prev   date[];
  tud_next   date[];
BEGIN
  -- 1. Store new events. The first occurrence of an id in the batch wins.
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
  SELECT array_agg(event_id), array_agg(occurred_at), array_agg(user_id), array_agg(event_type)
  INTO new_ids, new_at, new_users, new_types
  FROM inserted;

  -- The ids of the batch that were already stored (by an earlier or a concurrent batch).
  SELECT coalesce(array_agg(id), '{}') INTO existing
  FROM (SELECT unnest(p_event_ids) EXCEPT SELECT unnest(new_ids)) AS t(id);

  IF new_at IS NULL THEN
    RETURN existing;
  END IF;

  -- 2. Lock each affected user and learn their first event. Users never seen get their
  --    row first (sorted; a concurrent batch creating the same user makes this wait for
  --    it); FOR UPDATE then locks every user in user_id order and returns the latest
  --    committed first event.
  INSERT INTO user_first_seen (user_id, first_seen_at)
  SELECT user_id, min(occurred_at) FROM unnest(new_users, new_at) AS t(user_id, occurred_at)
  GROUP BY user_id ORDER BY user_id
  ON CONFLICT (user_id) DO NOTHING;

  WITH batch_first AS (
    SELECT user_id, min(occurred_at) AS first_at
    FROM unnest(new_users, new_at) AS t(user_id, occurred_at)
    GROUP BY user_id
  ), locked AS (
    SELECT f.user_id, f.first_seen_at FROM user_first_seen f
    WHERE f.user_id IN (SELECT user_id FROM batch_first)
    ORDER BY f.user_id
    FOR UPDATE
  )
  SELECT array_agg(l.user_id) FILTER (WHERE b.first_at < l.first_seen_at),
         array_agg(l.first_seen_at) FILTER (WHERE b.first_at < l.first_seen_at),
         array_agg(b.first_at) FILTER (WHERE b.first_at < l.first_seen_at)
  INTO moved_ids, moved_old, moved_new
  FROM locked l JOIN batch_first b USING (user_id);

  -- A late event moved these users' first event earlier.
  IF moved_ids IS NOT NULL THEN
    UPDATE user_first_seen f SET first_seen_at = m.first_at
    FROM unnest(moved_ids, moved_new) AS m(user_id, first_at)
    WHERE f.user_id = m.user_id;
  END IF;

  -- 3. The (user, day) pairs that are new (read before writing: the user lock is held),
  --    with the user's cohort (first day, as just updated).
  SELECT array_agg(t.user_id), array_agg(t.day), array_agg((f.first_seen_at AT TIME ZONE 'UTC')::date)
  INTO pair_users, pair_days, pair_cohorts
  FROM (
    SELECT DISTINCT user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM unnest(new_users, new_at) AS b(user_id, occurred_at)
  ) AS t
  JOIN user_first_seen f USING (user_id)
  WHERE NOT EXISTS (SELECT 1 FROM daily_user_activity a WHERE a.user_id = t.user_id AND a.day = t.day);

  -- 4. Retention matrix, in one sorted pass: each new pair counts in its user's cohort;
  --    a user whose first day moved earlier also moves every older pair (still the only
  --    ones in daily_user_activity here) from the old cohort to the new one.
  IF moved_ids IS NULL THEN
    INSERT INTO retention_counts AS r (cohort_day, activity_day, users)
    SELECT cohort_day, day, count(*)
    FROM unnest(pair_cohorts, pair_days) AS n(cohort_day, day)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (cohort_day, activity_day) DO UPDATE SET users = r.users + EXCLUDED.users;
  ELSE
    WITH moved AS (
      SELECT user_id, (old_first AT TIME ZONE 'UTC')::date AS old_day,
             (new_first AT TIME ZONE 'UTC')::date AS new_day
      FROM unnest(moved_ids, moved_old, moved_new) AS m(user_id, old_first, new_first)
    ), old_pairs AS (
      SELECT a.day, m.old_day, m.new_day
      FROM moved m JOIN daily_user_activity a USING (user_id)
      WHERE m.old_day <> m.new_day
    ), delta AS (
      SELECT cohort_day, day AS activity_day, 1 AS change
      FROM unnest(pair_cohorts, pair_days) AS n(cohort_day, day)
      UNION ALL
      SELECT new_day, day, 1 FROM old_pairs
      UNION ALL
      SELECT old_day, day, -1 FROM old_pairs
    )
    INSERT INTO retention_counts AS r (cohort_day, activity_day, users)
    SELECT cohort_day, activity_day, sum(change) FROM delta
    GROUP BY cohort_day, activity_day HAVING sum(change) <> 0
    ORDER BY cohort_day, activity_day
    ON CONFLICT (cohort_day, activity_day) DO UPDATE SET users = r.users + EXCLUDED.users;
  END IF;

  -- 5. Store the new pairs (a plain insert: under the user lock no one else adds them); DAU.
  INSERT INTO daily_user_activity (user_id, day)
  SELECT * FROM unnest(pair_users, pair_days) AS t(user_id, day) ORDER BY 1, 2;

  INSERT INTO daily_active_users AS d (day, users)
  SELECT day, count(*) FROM unnest(pair_days) AS t(day) GROUP BY day ORDER BY day
  ON CONFLICT (day) DO UPDATE SET users = d.users + EXCLUDED.users;

  -- 6. Events per day and type.
  INSERT INTO daily_event_counts AS c (day, event_type, events)
  SELECT (occurred_at AT TIME ZONE 'UTC')::date, event_type, count(*)
  FROM unnest(new_at, new_types) AS t(occurred_at, event_type)
  GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (day, event_type) DO UPDATE SET events = c.events + EXCLUDED.events;

  -- 7. The (type, user, day) triples that are new, with their nearest existing days
  --    before and after (index probes, read before writing under the user lock).
  SELECT array_agg(event_type), array_agg(user_id), array_agg(day), array_agg(prev_old), array_agg(next_old)
  INTO tud_types, tud_users, tud_days, tud_prev, tud_next
  FROM (
    SELECT t.event_type, t.user_id, t.day, t.at_or_before AS prev_old,
      (SELECT min(x.day) FROM type_user_days x
        WHERE x.event_type = t.event_type AND x.user_id = t.user_id AND x.day > t.day) AS next_old
    FROM (
      -- One probe tells both whether the triple exists and, if not, its previous day.
      SELECT b.*, (SELECT max(x.day) FROM type_user_days x
                   WHERE x.event_type = b.event_type AND x.user_id = b.user_id AND x.day <= b.day) AS at_or_before
      FROM (
        SELECT DISTINCT event_type, user_id, (occurred_at AT TIME ZONE 'UTC')::date AS day
        FROM unnest(new_types, new_users, new_at) AS u(event_type, user_id, occurred_at)
      ) AS b
    ) AS t
    WHERE t.at_or_before IS DISTINCT FROM t.day
  ) AS fresh;

  IF tud_days IS NOT NULL THEN
    -- Each new triple is filed under its previous day: the later of its nearest old day
    -- and the previous new day of the same type and user. An old triple right after new
    -- ones (next_old) had prev_old as its previous day and now has the latest of them;
    -- every new day that precedes it shares the same prev_old.
    WITH fresh AS (
      SELECT * FROM unnest(tud_types, tud_users, tud_days, tud_prev, tud_next)
        AS f(event_type, user_id, day, prev_old, next_old)
    ), delta AS (
      SELECT day, event_type,
             greatest(coalesce(prev_old, '-infinity'),
                      coalesce(lag(day) OVER (PARTITION BY event_type, user_id ORDER BY day), '-infinity'))
               AS previous_day,
             1 AS change
      FROM fresh
      UNION ALL
      SELECT next_old, event_type, coalesce(prev_old, '-infinity'), -1
      FROM fresh WHERE next_old IS NOT NULL
      GROUP BY event_type, user_id, next_old, prev_old
      UNION ALL
      SELECT next_old, event_type, max(day), 1
      FROM fresh WHERE next_old IS NOT NULL
      GROUP BY event_type, user_id, next_old, prev_old
    )
    INSERT INTO event_type_reach AS r (day, event_type, previous_day, users)
    SELECT day, event_type, previous_day, sum(change) FROM delta
    GROUP BY day, event_type, previous_day HAVING sum(change) <> 0
    ORDER BY day, event_type, previous_day
    ON CONFLICT (day, event_type, previous_day) DO UPDATE SET users = r.users + EXCLUDED.users;

    INSERT INTO type_user_days (event_type, user_id, day)
    SELECT event_type, user_id, day FROM unnest(tud_types, tud_users, tud_days) AS t(event_type, user_id, day)
    ORDER BY 1, 2, 3;
  END IF;

  RETURN existing;
END
$fn$;

-- Build the summaries from events already stored, so an existing database upgrades exactly.
INSERT INTO user_first_seen (user_id, first_seen_at)
SELECT user_id, min(occurred_at) FROM events GROUP BY user_id;

INSERT INTO daily_user_activity (user_id, day)
SELECT DISTINCT user_id, (occurred_at AT TIME ZONE 'UTC')::date FROM events;

INSERT INTO daily_active_users (day, users)
SELECT day, count(*) FROM daily_user_activity GROUP BY day;

INSERT INTO retention_counts (cohort_day, activity_day, users)
SELECT (f.first_seen_at AT TIME ZONE 'UTC')::date, a.day, count(*)
FROM daily_user_activity a JOIN user_first_seen f USING (user_id)
GROUP BY 1, 2;

INSERT INTO daily_event_counts (day, event_type, events)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, event_type, count(*) FROM events GROUP BY 1, 2;

INSERT INTO type_user_days (event_type, user_id, day)
SELECT DISTINCT event_type, user_id, (occurred_at AT TIME ZONE 'UTC')::date FROM events;

INSERT INTO event_type_reach (day, event_type, previous_day, users)
SELECT day, event_type, previous_day, count(*)
FROM (
  SELECT day, event_type,
         coalesce(lag(day) OVER (PARTITION BY event_type, user_id ORDER BY day), '-infinity') AS previous_day
  FROM type_user_days
) AS t
GROUP BY 1, 2, 3;

ANALYZE user_first_seen, daily_user_activity, daily_active_users, retention_counts,
  daily_event_counts, type_user_days, event_type_reach;
