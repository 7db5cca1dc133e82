-- schedules/sync: makes the config schedules exactly the given entries: config schedules not given are deleted
-- (their fire records with them, by the foreign key), given ones are inserted or have their definition replaced (a
-- runtime schedule of the same name becomes a config one), run state and paused flag kept. An entry stored exactly
-- so already is left alone (not even updated_at moves), and the version moves only when something changed. Run
-- after schedules/sync-lock.sql in the same transaction.
-- Touches: celerity_schedules (delete, insert, update), celerity_schedule_fires (cascade),
-- celerity_schedule_version.
-- Params: $1 names (text[], each at most once), $2 definitions (text[] of JSON text, same order), $3 now (epoch ms).
-- Returns one row (version) when something changed, no row otherwise.
WITH wanted AS (
  SELECT * FROM unnest($1::text[], $2::text[]) AS w (name, definition)
), removed AS (
  DELETE FROM celerity_schedules s
  WHERE s.source = 'config' AND s.name NOT IN (SELECT name FROM wanted)
  RETURNING 1
), stored AS (
  INSERT INTO celerity_schedules AS s (name, definition, source, updated_at)
  SELECT name, definition::json, 'config', $3::bigint FROM wanted
  ON CONFLICT (name) DO UPDATE SET
    definition = excluded.definition,
    source     = 'config',
    updated_at = excluded.updated_at
  WHERE s.definition::text <> excluded.definition::text OR s.source <> 'config'
  RETURNING 1
)
-- The counts consume both changes in full before the version row is touched.
UPDATE celerity_schedule_version SET version = version + 1
WHERE id = 1 AND (SELECT count(*) FROM removed) + (SELECT count(*) FROM stored) > 0
RETURNING version;
